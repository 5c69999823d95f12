#!/usr/bin/env bash
# The Home Assistant venv that tests/test_home_assistant.py validates the appliance with (Home
# Assistant's own MQTT discovery schemas, merge logic and template engine).
#
# Home Assistant needs Python >= 3.13 and no Debian 12 package has it: this uses the first
# python3.13 found (HA_PYTHON, then PATH, then pyenv's and /usr/local's builds). A GIL build
# is needed - Home Assistant's compiled dependencies ship no free-threaded wheels, so
# /opt/py313t does not serve. 2025.4.4 is the newest release that installs on Python 3.13.0.
# Everything comes from PyPI. The venv lives outside the clone (default
# /var/cache/appliance/ha-<version>) so CI's fresh clones reuse it; first build about 9 minutes
# on 2 cores (about 600 MB), then nothing: idempotent, it only checks the venv imports.
#
# Env: HA_VENV (where), HA_PYTHON (which interpreter). Prints the venv's python on success.
set -euo pipefail

HA_VERSION=2025.4.4
PAHO_VERSION=2.1.0   # what Home Assistant's mqtt integration asks for (its manifest.json)
HA_VENV="${HA_VENV:-/var/cache/appliance/ha-$HA_VERSION}"
CHECK='import homeassistant.components.mqtt.discovery, paho.mqtt, sys; assert sys.version_info >= (3, 13)'

if [ -x "$HA_VENV/bin/python" ] && "$HA_VENV/bin/python" -c "$CHECK" 2>/dev/null; then
  echo "$HA_VENV/bin/python"
  exit 0
fi

PY=""
for c in "${HA_PYTHON:-}" python3.13 /root/.pyenv/versions/3.13*/bin/python3.13 \
         /usr/local/bin/python3.13 /usr/bin/python3.13; do
  [ -n "$c" ] || continue
  p="$(command -v "$c" 2>/dev/null || true)"
  if [ -n "$p" ] && "$p" -c 'import sys, ssl, sqlite3, venv; assert sys.version_info >= (3, 13) and sys._is_gil_enabled()' 2>/dev/null; then
    PY="$p"
    break
  fi
done
if [ -z "$PY" ]; then
  echo "setup-ha: no Python >= 3.13 (GIL build, with ssl and sqlite3) found; set HA_PYTHON" >&2
  exit 1
fi

echo "setup-ha: building $HA_VENV with $PY ($("$PY" -V)), homeassistant==$HA_VERSION" >&2
start=$(date +%s)
mkdir -p "$(dirname "$HA_VENV")"
rm -rf "$HA_VENV"  # a half-built one fails the check above: it is built again
"$PY" -m venv "$HA_VENV"
"$HA_VENV/bin/python" -m pip install -q --disable-pip-version-check \
  "homeassistant==$HA_VERSION" "paho-mqtt==$PAHO_VERSION" 2> >(grep -v "is ignored: it is neither" >&2)
"$HA_VENV/bin/python" -c "$CHECK"
echo "setup-ha: built in $(( $(date +%s) - start )) s" >&2
echo "$HA_VENV/bin/python"
