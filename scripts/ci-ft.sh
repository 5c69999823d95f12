#!/usr/bin/env bash
# Optional CI step: the free-threaded interpreter (python3.13t) with the GIL off.
# Runs when /opt/py313t/bin/python3.13t exists, or when APPLIANCE_FT_BUILD=1 asks to build it
# (about 12 minutes); otherwise says why it is skipped and succeeds. See docs/free-threading.md.
#
# 1. Importing every module of the appliance except the two documented GIL re-enablers
#    (pyalsaaudio, vosk) leaves the GIL off without any PYTHON_GIL override.
# 2. A documented subset of the test suite (FT_TESTS) runs with PYTHON_GIL=0, as the service
#    does, and tests/support/gilcheck.py fails the run if the GIL is on at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PY313T="${PY313T:-/opt/py313t/bin/python3.13t}"
if [ ! -x "$PY313T" ] && [ "${APPLIANCE_FT_BUILD:-0}" != "1" ]; then
  echo "ci-ft: skipped ($PY313T not present; APPLIANCE_FT_BUILD=1 builds it)"
  exit 0
fi
[ -x "$PY313T" ] || ./scripts/build-python-ft.sh
PY313T="$PY313T" ./scripts/setup-ft.sh
PY=.venv-ft/bin/python

echo "ci-ft: $($PY -c 'from appliance.system.interp import interpreter_info as i; print(i().describe())')"
env -u PYTHON_GIL "$PY" - <<'EOF'
import importlib, pkgutil, sys
import appliance
from appliance.system.interp import gil_enabled
# pyalsaaudio and vosk (cffi<2) re-enable the GIL at import: the service starts with
# PYTHON_GIL=0 for them (docs/free-threading.md); everything else must keep it off on its own.
REENABLERS = {"alsaaudio", "vosk", "_cffi_backend"}
skipped = []
for mod in pkgutil.walk_packages(appliance.__path__, "appliance."):
    try:
        importlib.import_module(mod.name)
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in REENABLERS or missing in {"faster_whisper", "ctranslate2", "sherpa_onnx"}:
            skipped.append(f"{mod.name} (needs {missing})")
            continue
        raise
    if gil_enabled():
        sys.exit(f"ci-ft: importing {mod.name} re-enabled the GIL")
    for name in REENABLERS & set(sys.modules):
        skipped.append(f"{mod.name} (imports {name})")
        break
print(f"ci-ft: imported the appliance with the GIL off; not imported here: {skipped or 'none'}")
EOF

# The subset: everything that does not need a module without a free-threaded build
# (faster-whisper/ctranslate2, sherpa-onnx's Python module). Whisper tests run on the GIL build.
FT_TESTS="${FT_TESTS:-tests/test_sherpa_capi.py tests/test_interp.py tests/test_config.py \
tests/test_supervisor.py tests/test_capture.py tests/test_splitter.py tests/test_brain.py}"
existing=()
for t in $FT_TESTS; do [ -e "$t" ] && existing+=("$t"); done
PYTHON_GIL=0 "$PY" -m pytest -q -p tests.support.gilcheck "${existing[@]}"
