#!/bin/sh
# Make sure Debian's Chromium is there for tests/browser (run by `make test`).
# Installs it with apt-get when missing and we may (root, or sudo without a
# password); otherwise stops with what to install.  COURSE_SKIP_BROWSER=1
# leaves the browser tests out instead (CI never sets it).
CHROMIUM="${COURSE_CHROMIUM:-/usr/bin/chromium}"

if [ "${COURSE_SKIP_BROWSER:-}" = 1 ]; then
    echo "COURSE_SKIP_BROWSER=1: not checking for $CHROMIUM; the browser tests in tests/browser are left out"
    exit 0
fi
[ -x "$CHROMIUM" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    SUDO=none
fi
if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<MSG
error: the browser tests need Chromium at $CHROMIUM, and it cannot be installed here
(not root, no password-less sudo, or no apt-get).  Install it, e.g. on Debian:
    sudo apt-get install chromium
or point COURSE_CHROMIUM at a Chromium binary, or set COURSE_SKIP_BROWSER=1 to
leave the browser tests out.
MSG
    exit 1
fi
echo "installing Debian's chromium for the browser tests (apt-get)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null &&
    [ -x "$CHROMIUM" ] || { echo "error: apt-get could not install chromium" >&2; exit 1; }
