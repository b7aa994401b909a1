#!/bin/sh
# Make sure poppler's pdftoppm is on this machine, for the poster test (tests/unit/test_poster.py
# renders the PDF to see the Chinese drawn). Found on PATH: nothing to do. Missing: Debian's
# `poppler-utils` package is installed with apt-get, non-interactively (as root, or through sudo
# when not root), as scripts/ensure-postgres.sh does for PostgreSQL. Prints pdftoppm's path.
set -eu

if command -v pdftoppm >/dev/null 2>&1; then
    command -v pdftoppm
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-poppler: no pdftoppm found and no apt-get to install it;" \
        "install poppler's utilities (Debian/Ubuntu: apt-get install poppler-utils)" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=""
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT="sudo -n"
else
    echo "ensure-poppler: pdftoppm missing; installing it needs root, and there is" \
        "no sudo: run 'apt-get install poppler-utils' as root" >&2
    exit 1
fi

echo "ensure-poppler: installing Debian's poppler-utils package" >&2
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    poppler-utils >&2

if ! command -v pdftoppm >/dev/null 2>&1; then
    echo "ensure-poppler: poppler-utils installed, but pdftoppm still not found" >&2
    exit 1
fi
command -v pdftoppm
