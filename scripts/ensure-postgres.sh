#!/bin/sh
# Make sure PostgreSQL's server binaries (initdb, pg_ctl) are on this machine, for the tests'
# throwaway clusters (tests/postgres.py). Found on PATH or in Debian's /usr/lib/postgresql/*/bin:
# nothing to do. Missing: Debian's `postgresql` package is installed with apt-get,
# non-interactively (scripts/apt-install.sh). Prints the bin directory.
set -eu

find_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    # The newest major version first.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

if find_bindir; then
    exit 0
fi

# The package also sets up Debian's own cluster ("main", port 5432); the tests never use it:
# they start their own on a free loopback port.
sh "$(dirname "$0")/apt-install.sh" ensure-postgres initdb/pg_ctl postgresql

if ! find_bindir; then
    echo "ensure-postgres: postgresql installed, but initdb/pg_ctl still not found" >&2
    exit 1
fi
