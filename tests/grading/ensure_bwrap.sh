#!/bin/sh
# Make sure bubblewrap (bwrap) is there for the grader's wall (run by `make test`):
# coursepkg's grader refuses to run student code without it.  Installs Debian's
# package with apt-get when it is missing and we may (root, or sudo without a
# password); otherwise stops and says what to install.
command -v bwrap >/dev/null 2>&1 && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    SUDO=none
fi
if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: the grader's sandbox needs bubblewrap (bwrap), and it cannot be installed here
(not root, no password-less sudo, or no apt-get).  Install it, e.g. on Debian/Ubuntu:
    sudo apt-get install bubblewrap
MSG
    exit 1
fi
echo "installing Debian's bubblewrap for the grader's sandbox (apt-get)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null &&
    command -v bwrap >/dev/null 2>&1 || { echo "error: apt-get could not install bubblewrap" >&2; exit 1; }
