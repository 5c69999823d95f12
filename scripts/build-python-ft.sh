#!/usr/bin/env bash
# Build a free-threaded CPython 3.13 (python3.13t, PEP 703) from Debian trixie's source package.
# No registry ships a free-threaded interpreter, so we compile one. Works on Debian 12 and 13.
#
# Usage: scripts/build-python-ft.sh [PREFIX]        (default PREFIX: /opt/py313t, or $PREFIX)
# Idempotent: exits at once when PREFIX/bin/python3.13t exists and runs with the GIL disabled.
# Skips the test suite, PGO and LTO (about 12 minutes on 2 cores, about 260 MB installed).
# Env: JOBS (make -j, default: nproc), WORKDIR (build tree, default /var/tmp/py313t-build).
set -euo pipefail

PREFIX="${1:-${PREFIX:-/opt/py313t}}"
JOBS="${JOBS:-$(nproc)}"
WORKDIR="${WORKDIR:-/var/tmp/py313t-build}"
PY="$PREFIX/bin/python3.13t"

works() {
  [ -x "$PY" ] && "$PY" -c 'import sys, ssl, sqlite3, ctypes, lzma, bz2, zlib, venv
assert not sys._is_gil_enabled(), "GIL is enabled"' >/dev/null 2>&1
}
if works; then
  echo "build-python-ft: $PY already present and free-threaded; nothing to do"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Build dependencies (Debian 13 machines usually have them; Debian 12 ones need the -dev set).
BUILD_DEPS=(
  build-essential dpkg-dev pkg-config xz-utils ca-certificates
  libssl-dev zlib1g-dev libbz2-dev liblzma-dev libffi-dev libsqlite3-dev
  libreadline-dev libncurses-dev uuid-dev libgdbm-dev libexpat1-dev
)
missing=()
for p in "${BUILD_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "build-python-ft: installing build dependencies: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Fetch the source package through a private apt configuration (deb-src trixie), leaving the
# machine's own sources untouched.
mkdir -p "$WORKDIR"
cd "$WORKDIR"
if ! ls python3.13_*.orig.tar.* >/dev/null 2>&1; then
  APTDIR="$WORKDIR/apt"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb-src [signed-by=$KEYRING] http://deb.debian.org/debian trixie main" \
    > "$APTDIR/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${APT_OPTS[@]}" update -qq
  apt-get "${APT_OPTS[@]}" source --download-only python3.13
fi

# Upstream sources are the .orig tarball; Debian's patches are not needed for a plain build.
ORIG="$(ls python3.13_*.orig.tar.* | head -n1)"
SRC="$WORKDIR/src"
if [ ! -x "$SRC/configure" ]; then
  rm -rf "$SRC"
  mkdir -p "$SRC"
  tar -xf "$ORIG" -C "$SRC" --strip-components=1
fi

cd "$SRC"
if [ ! -f Makefile ] || ! grep -q -- "--disable-gil" config.log 2>/dev/null \
   || ! grep -q -- "--prefix=$PREFIX" config.log 2>/dev/null; then
  [ -f Makefile ] && make distclean >/dev/null 2>&1 || true
  ./configure --disable-gil --prefix="$PREFIX" --with-ensurepip=install
fi
make -j"$JOBS"
$SUDO make install

if works; then
  echo "build-python-ft: installed $("$PY" -VV | head -n1) at $PY (GIL disabled)"
else
  echo "build-python-ft: $PY was installed but does not run free-threaded" >&2
  exit 1
fi
