#!/usr/bin/env bash
# Makes sure the Debian chromium is installed: the report's browser test
# (tests/integration/test_report_browser.py) drives it through Playwright. `make test` runs
# this first.
#
# * chromium present (at $VIXSHIELD_CHROMIUM, default /usr/bin/chromium): prints its version.
# * missing and running as root on a Debian/Ubuntu system: installs the packages `chromium`
#   and `chromium-driver` with apt-get (--no-install-recommends).
# * missing otherwise: says which command to run and exits 1.
set -euo pipefail

chromium="${VIXSHIELD_CHROMIUM:-/usr/bin/chromium}"
packages=(chromium chromium-driver)
install_cmd="apt-get install -y --no-install-recommends ${packages[*]}"

version() {
    # The Debian wrapper script can print shell noise on stderr; keep the version line only.
    "$chromium" --version 2>/dev/null | head -n 1 || true
}

if [ -x "$chromium" ]; then
    echo "ensure-chromium: found $chromium ($(version))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: $chromium is missing; the browser test needs it." >&2
    echo "  install it as root:  sudo apt-get update && sudo $install_cmd" >&2
    echo "  (or set VIXSHIELD_CHROMIUM to a chromium binary you already have)" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: $chromium is missing and apt-get is not available here;" >&2
    echo "  install chromium with your system's package manager, or set VIXSHIELD_CHROMIUM" >&2
    exit 1
fi

echo "ensure-chromium: $chromium is missing; installing ${packages[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086  # the command is a word list on purpose
$install_cmd

if [ ! -x "$chromium" ]; then
    echo "ensure-chromium: apt-get finished but $chromium is still missing;" >&2
    echo "  set VIXSHIELD_CHROMIUM to the installed chromium binary" >&2
    exit 1
fi
echo "ensure-chromium: installed $chromium ($(version))"
