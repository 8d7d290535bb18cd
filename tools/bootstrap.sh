#!/usr/bin/env bash
# Set-up for a fresh machine, used by both quick-start commands in README.md and by .ci/run:
# installs hatch (>= 1.16; it then builds every environment from pyproject.toml) and, when run
# as root on Debian/Ubuntu, the system packages the tests use (listed below).
set -euo pipefail

# libegl1, libgl1-mesa-dri: headless OpenGL for MuJoCo/gymnasium rendering; lz4: the command-line
# tool, which a test uses to read rlu's checkpoints as a plain LZ4 frame.
debs=(libegl1 libgl1-mesa-dri lz4)
# A system Python without venv support (Debian's python3 before python3-venv) gets it too.
python3 -c 'import ensurepip' 2>/dev/null || debs+=(python3-venv)

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

hatch_ok() {
  command -v hatch >/dev/null 2>&1 &&
    hatch --version | python3 -c 'import sys; v = sys.stdin.read().split()[-1]; sys.exit(tuple(map(int, v.split(".")[:2])) < (1, 16))'
}

if ! hatch_ok; then
  echo "bootstrap: installing hatch>=1.16"
  if ! python3 -m pip install --quiet "hatch>=1.16" 2>/dev/null; then
    # A system Python that refuses pip installs (PEP 668) or has no pip: a private venv,
    # with hatch linked into ~/.local/bin.
    home="${XDG_DATA_HOME:-$HOME/.local/share}/rlu-bootstrap/hatch"
    python3 -m venv "$home"
    "$home/bin/python" -m pip install --quiet "hatch>=1.16"
    mkdir -p "$HOME/.local/bin"
    ln -sf "$home/bin/hatch" "$HOME/.local/bin/hatch"
  fi
  hatch_ok || {
    echo "bootstrap: hatch is installed but not on PATH; add ~/.local/bin to PATH and run again" >&2
    exit 1
  }
fi

# Environments left by an earlier checkout keep the package metadata they were built with (hatch
# only checks that each workspace member is installed): rebuild them when that metadata changed.
python3 "$(dirname "$0")/sync_envs.py"
