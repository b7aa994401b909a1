#!/bin/sh
# Install Debian packages non-interactively, as root or through sudo when not root: the one
# way the ensure-*.sh scripts install what the tests need. Usage:
#   apt-install.sh <who is asking> <what is missing> <package>...
# Output goes to stderr; exits non-zero with the reason when it cannot install.
set -eu
who=$1
missing=$2
shift 2

if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: $missing missing and no apt-get to install it;" \
        "install it yourself (Debian/Ubuntu: apt-get install $*)" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=""
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT="sudo -n"
else
    echo "$who: $missing missing; installing it needs root, and there is" \
        "no sudo: run 'apt-get install $*' as root" >&2
    exit 1
fi

echo "$who: installing Debian's $*" >&2
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "$@" >&2
