#!/bin/sh
# Make sure poppler's pdftoppm is on this machine, for the poster test (tests/unit/test_poster.py
# renders the PDF to see the Chinese drawn). Found on PATH: nothing to do. Missing: Debian's
# `poppler-utils` package is installed with apt-get, non-interactively (scripts/apt-install.sh), as
# scripts/ensure-postgres.sh does for PostgreSQL. Prints pdftoppm's path.
set -eu

if command -v pdftoppm >/dev/null 2>&1; then
    command -v pdftoppm
    exit 0
fi

sh "$(dirname "$0")/apt-install.sh" ensure-poppler pdftoppm poppler-utils

if ! command -v pdftoppm >/dev/null 2>&1; then
    echo "ensure-poppler: poppler-utils installed, but pdftoppm still not found" >&2
    exit 1
fi
command -v pdftoppm
