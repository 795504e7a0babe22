#!/usr/bin/env bash
# Installs the Debian packages in deploy/debian-packages.txt (as root, or via sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=$(grep -v '^#' deploy/debian-packages.txt | tr '\n' ' ')
as_root=""
[ "$(id -u)" -eq 0 ] || as_root="sudo"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq $packages >/dev/null
echo "installed: $packages"
