#!/usr/bin/env bash
# Set-up for a fresh machine, used by both quick-start commands in README.md and by .ci/run:
# installs hatch (which then builds every environment from pyproject.toml) and, when run as
# root on Debian/Ubuntu, the system packages the tests use (listed below).
set -euo pipefail

# libegl1, libgl1-mesa-dri: headless OpenGL for MuJoCo/gymnasium rendering; lz4: the command-line
# tool, which a test uses to read rlu's checkpoints as a plain LZ4 frame.
debs=(libegl1 libgl1-mesa-dri lz4)
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  for deb in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  echo "bootstrap: not root or no apt-get; for the rendering and lz4 tests install: ${debs[*]}" >&2
fi

if ! python3 -c 'import sys, hatch; from importlib.metadata import version; sys.exit(tuple(map(int, version("hatch").split(".")[:2])) < (1, 16))' 2>/dev/null; then
  echo "bootstrap: installing hatch>=1.16"
  python3 -m pip install --quiet "hatch>=1.16"
fi
