#!/usr/bin/env bash
# Build a free-threaded CPython (python3.13t or python3.14t, PEP 703) from a Debian source
# package. No registry ships a free-threaded interpreter, so we compile one. Works on Debian 12
# and 13.
#
# Usage: scripts/build-python-ft.sh [VERSION] [PREFIX]
#   VERSION: 3.13 (default) or 3.14 (or $PYVER); PREFIX: default /opt/py313t, /opt/py314t
#   (or $PREFIX). A single argument that is not a version is the PREFIX (for 3.13), as before.
# The source comes from the first Debian suite in $SUITES (default "trixie forky sid") whose
# pythonVERSION source files the mirror serves: 3.13 is in trixie (stable); 3.14 is not, so it
# comes from forky (testing) or sid; without one the script says so and fails.
# Idempotent: exits at once when PREFIX/bin/pythonVERSIONt exists and runs with the GIL
# disabled. Skips the test suite, PGO and LTO (3.13: 5 minutes on 2 idle cores, about 20 on
# busy ones; 415 MB installed).
# Env: JOBS (make -j, default: nproc), WORKDIR (build tree, default /var/tmp/pyXYt-build).
set -euo pipefail

VER="${PYVER:-3.13}"
if [[ "${1:-}" =~ ^3\.[0-9]+$ ]]; then
  VER="$1"
  shift
fi
case "$VER" in
  3.13|3.14) ;;
  *) echo "build-python-ft: unsupported version $VER (3.13 or 3.14)" >&2; exit 2 ;;
esac
TAG="py${VER/./}t"                     # py313t, py314t
PREFIX="${1:-${PREFIX:-/opt/$TAG}}"
JOBS="${JOBS:-$(nproc)}"
WORKDIR="${WORKDIR:-/var/tmp/$TAG-build}"
SUITES="${SUITES:-trixie forky sid}"
PKG="python$VER"
PY="$PREFIX/bin/python${VER}t"

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
# libzstd-dev gives 3.14 its compression.zstd module; 3.13 ignores it.
BUILD_DEPS=(
  build-essential dpkg-dev pkg-config xz-utils ca-certificates
  libssl-dev zlib1g-dev libbz2-dev liblzma-dev libffi-dev libsqlite3-dev
  libreadline-dev libncurses-dev uuid-dev libgdbm-dev libexpat1-dev libzstd-dev
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

# Fetch the source package through a private apt configuration (deb-src lines for $SUITES),
# leaving the machine's own sources untouched.
mkdir -p "$WORKDIR"
cd "$WORKDIR"
if ! ls "${PKG}"_*.orig.tar.* >/dev/null 2>&1; then
  APTDIR="$WORKDIR/apt"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/sources.list.d"
  KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
  for suite in $SUITES; do
    echo "deb-src [signed-by=$KEYRING] http://deb.debian.org/debian $suite main"
  done > "$APTDIR/sources.list"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=$APTDIR/sources.list"
    -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::Cache=$APTDIR/cache"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${APT_OPTS[@]}" update -qq
  # The first suite in $SUITES order (stable before testing before sid) whose source files the
  # mirror serves; a suite's index can list a version whose files are gone (404): try the next.
  listed="$(apt-cache "${APT_OPTS[@]}" madison "$PKG" 2>/dev/null || true)"
  got=""
  for s in $SUITES; do
    for v in $(awk -v s="$s/main" '$0 ~ s" Sources" {print $3}' <<<"$listed" | sort -rV); do
      echo "build-python-ft: $PKG $v from Debian $s"
      if apt-get "${APT_OPTS[@]}" source --download-only "$PKG=$v"; then
        got="$v"
        break 2
      fi
      rm -f "${PKG}"_*
    done
  done
  if [ -z "$got" ]; then
    echo "build-python-ft: no downloadable Debian source package $PKG in: $SUITES" >&2
    echo "build-python-ft: listed: ${listed:-none}" >&2
    exit 1
  fi
fi

# Upstream sources are the .orig tarball; Debian's patches are not needed for a plain build.
ORIG="$(ls "${PKG}"_*.orig.tar.* | grep -v '\.asc$' | head -n1)"
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
