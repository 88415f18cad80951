#!/bin/sh
# Make sure bubblewrap (bwrap) is there for the grader's wall (run by `make test`):
# coursepkg's grader refuses to run student code without it.  Installs Debian's
# package when it is missing (tests/apt_install.sh).
command -v bwrap >/dev/null 2>&1 && exit 0
sh "$(dirname "$0")/../apt_install.sh" "the grader's sandbox" \
    "(Fedora: dnf install bubblewrap.)" bubblewrap &&
    command -v bwrap >/dev/null 2>&1 || { echo "error: apt-get could not install bubblewrap" >&2; exit 1; }
