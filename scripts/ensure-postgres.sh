#!/bin/sh
# Make sure PostgreSQL's server binaries (initdb, pg_ctl) are on this machine, for the tests'
# throwaway clusters (tests/postgres.py). Found on PATH or in Debian's /usr/lib/postgresql/*/bin:
# nothing to do. Missing: Debian's `postgresql` package is installed with apt-get,
# non-interactively (as root, or through sudo when not root). Prints the bin directory.
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

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: no initdb/pg_ctl found and no apt-get to install them;" \
        "install PostgreSQL's server binaries (Debian/Ubuntu: apt-get install postgresql)" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=""
elif command -v sudo >/dev/null 2>&1; then
    AS_ROOT="sudo -n"
else
    echo "ensure-postgres: initdb/pg_ctl missing; installing them needs root, and there is" \
        "no sudo: run 'apt-get install postgresql' as root" >&2
    exit 1
fi

echo "ensure-postgres: installing Debian's postgresql package" >&2
export DEBIAN_FRONTEND=noninteractive
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
# The package also sets up Debian's own cluster ("main", port 5432); the tests never use it:
# they start their own on a free loopback port.
$AS_ROOT env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >&2

if ! find_bindir; then
    echo "ensure-postgres: postgresql installed, but initdb/pg_ctl still not found" >&2
    exit 1
fi
