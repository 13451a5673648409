#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian bookworm machine: apt packages, a venv from Debian's
# python (GNU Radio's bindings live in its dist-packages), and the pinned pip extras.
# Quick when already done: each step is skipped when its stamp is newer than its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LAMSC_VENV:-.venv}
APT_PKGS="gnuradio xterm python3-venv espeak-ng pocketsphinx-testdata chromium sox libiio-utils"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "[setup] apt: installing$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV from /usr/bin/python3 (--system-site-packages for GNU Radio)"
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi

stamp="$VENV/.lamsc-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] pip: installing lamsc_sdr with its extras (first time ~3 min)"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  # torch first and pinned, so nothing pulls a CUDA build.
  "$VENV/bin/pip" install -q "torch==2.13.0"
  "$VENV/bin/pip" install -q -e ".[all]"
  touch "$stamp"
fi
