#!/bin/sh
# Make sure Debian's Chromium is there for tests/browser (run by `make test`),
# installing it when missing (tests/apt_install.sh).  COURSE_SKIP_BROWSER=1
# leaves the browser tests out instead (CI never sets it).
CHROMIUM="${COURSE_CHROMIUM:-/usr/bin/chromium}"

if [ "${COURSE_SKIP_BROWSER:-}" = 1 ]; then
    echo "COURSE_SKIP_BROWSER=1: not checking for $CHROMIUM; the browser tests in tests/browser are left out"
    exit 0
fi
[ -x "$CHROMIUM" ] && exit 0
sh "$(dirname "$0")/../apt_install.sh" "the browser tests (Chromium at $CHROMIUM)" \
    "Or point COURSE_CHROMIUM at a Chromium binary, or set COURSE_SKIP_BROWSER=1 to leave the browser tests out." \
    chromium &&
    [ -x "$CHROMIUM" ] || { echo "error: apt-get could not install chromium at $CHROMIUM" >&2; exit 1; }
