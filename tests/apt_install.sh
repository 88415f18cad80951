#!/bin/sh
# Install Debian packages that `make test` needs (Chromium for tests/browser,
# bubblewrap for the grader's wall) with apt-get, when we may: as root, or
# with sudo that asks no password.  Otherwise stop and say what to install.
#   sh tests/apt_install.sh "WHO NEEDS IT" "WHAT ELSE TO DO" PACKAGE...
WHO="$1"; ELSE="$2"; shift 2

if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    SUDO=none
fi
if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: $WHO needs $*, and it cannot be installed here
(not root, no password-less sudo, or no apt-get).  Install it, e.g. on Debian/Ubuntu:
    sudo apt-get install $*
$ELSE
MSG
    exit 1
fi
echo "installing Debian's $* for $WHO (apt-get)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
