#!/usr/bin/env bash
# Optional CI step: the free-threaded interpreters (python3.13t, and python3.14t where it is
# built) with the GIL off. Runs when /opt/py313t/bin/python3.13t exists, or when
# APPLIANCE_FT_BUILD=1 asks to build it (15-25 minutes); otherwise says why it is skipped and
# succeeds. python3.14t (/opt/py314t, scripts/build-python-ft.sh 3.14) is checked the same way
# when present. See docs/free-threading.md.
#
# 1. Importing every module of the appliance except the two documented GIL re-enablers
#    (pyalsaaudio, vosk) leaves the GIL off without any PYTHON_GIL override.
# 2. A documented subset of the test suite (FT_TESTS) runs with PYTHON_GIL=0, as the service
#    does, and tests/support/gilcheck.py fails the run if the GIL is on at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PY313T="${PY313T:-/opt/py313t/bin/python3.13t}"
PY314T="${PY314T:-/opt/py314t/bin/python3.14t}"
if [ ! -x "$PY313T" ] && [ "${APPLIANCE_FT_BUILD:-0}" != "1" ]; then
  echo "ci-ft: skipped ($PY313T not present; APPLIANCE_FT_BUILD=1 builds it)"
  exit 0
fi
[ -x "$PY313T" ] || ./scripts/build-python-ft.sh 3.13 "$(dirname "$(dirname "$PY313T")")"

# The subset: everything that does not need a module without a free-threaded build
# (faster-whisper/ctranslate2, sherpa-onnx's Python module). Whisper tests run on the GIL build.
# test_router, test_splitter and test_numbers include two-thread checks that matter GIL-off.
FT_TESTS="${FT_TESTS:-tests/test_interp.py tests/test_sherpa_capi.py tests/test_vad.py \
tests/test_capture.py tests/test_supervisor.py tests/test_config.py tests/test_splitter.py \
tests/test_priority.py tests/test_timers.py tests/test_control_state.py tests/test_router.py \
tests/test_numbers.py}"

check() {  # VERSION INTERPRETER VENV
  local ver="$1" py="$2" venv="$3"
  PYFT="$py" VENV_FT="$venv" FT_MODELS=0 ./scripts/setup-ft.sh "$ver"  # the subset needs Silero
  PY="$venv/bin/python"
  echo "ci-ft: $($PY -c 'from appliance.system.interp import interpreter_info as i; print(i().describe())')"
  # (the Python below is a heredoc, so it stays at the left margin)
  env -u PYTHON_GIL "$PY" - <<'EOF'
import importlib, importlib.abc, pkgutil, sys
import appliance
from appliance.system.interp import gil_enabled
# pyalsaaudio and cffi (vosk, soundfile) re-enable the GIL at import: the service starts with
# PYTHON_GIL=0 for them (docs/free-threading.md). They are blocked here so that every other
# module is checked with the GIL off; modules that need them are listed, not failed.
BLOCKED = {"alsaaudio", "_cffi_backend", "cffi", "vosk", "soundfile"}
NO_FT_BUILD = {"faster_whisper", "ctranslate2"}  # reached through a helper process on 3.13t

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"blocked by ci-ft: {name}", name=name)
        return None

sys.meta_path.insert(0, Block())
needs = []
for mod in pkgutil.walk_packages(appliance.__path__, "appliance."):
    if mod.name.endswith(".__main__"):
        continue
    try:
        importlib.import_module(mod.name)
    except ImportError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in BLOCKED | NO_FT_BUILD:
            raise
        needs.append(f"{mod.name} ({top})")
    if gil_enabled():
        sys.exit(f"ci-ft: importing {mod.name} re-enabled the GIL")
print(f"ci-ft: all appliance modules imported with the GIL off, except {len(needs)} that need "
      f"a documented re-enabler: {', '.join(needs)}")
EOF

  existing=()
  for t in $FT_TESTS; do [ -e "$t" ] && existing+=("$t"); done
  PYTHON_GIL=0 "$PY" -m pytest -q -p tests.support.gilcheck "${existing[@]}"
}

check 3.13 "$PY313T" .venv-ft
if [ -x "$PY314T" ]; then
  check 3.14 "$PY314T" .venv-ft314
else
  echo "ci-ft: python3.14t not checked ($PY314T not present; scripts/build-python-ft.sh 3.14)"
fi
