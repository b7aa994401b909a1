#!/bin/sh
# Make sure Debian's Chromium is at /usr/bin/chromium, with Chinese and emoji fonts, for the
# browser tests (Playwright drives it; Playwright's own browser download is not used).
# Installs what is missing with apt-get; exits non-zero with the reason when it cannot.
set -eu
missing=""
[ -x /usr/bin/chromium ] || missing="chromium"
for pkg in fonts-noto-cjk fonts-noto-color-emoji; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"
else
    echo "ensure_chromium: missing $missing; not root and no sudo to install it" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: missing $missing and there is no apt-get" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y --no-install-recommends $missing >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y --no-install-recommends $missing
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "ensure_chromium: apt-get ran but /usr/bin/chromium is still missing" >&2
    exit 1
fi
