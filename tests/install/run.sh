#!/usr/bin/env bash
# test_install: cmake --install the build into a scratch prefix, then build and run a
# consumer with find_package(dlcuda) (shared and static) and with pkg-config.
set -euo pipefail
build=$1 src=$2
work=$build/install-test
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
cmake -S "$src" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log"
cmake --build "$work/consumer" >"$work/build.log"
"$work/consumer/consumer_shared"
# (ldd's output captured first: with pipefail, grep -q quitting early would fail ldd.)
libs=$(ldd "$work/consumer/consumer_shared")
grep -q "$work/prefix" <<<"$libs" ||
  { echo "consumer_shared does not load the installed libdlcuda:"; echo "$libs"; exit 1; }
"$work/consumer/consumer_static"
libdir=$(find "$work/prefix" -name dlcuda.pc -printf '%h\n')
export PKG_CONFIG_PATH=$libdir
${CC:-cc} "$src/consumer.c" -o "$work/pc_shared" $(pkg-config --cflags --libs dlcuda) \
  -Wl,-rpath,"$work/prefix/lib"
"$work/pc_shared"
# Static: the same flags with --static, libdlcuda.a named in place of -ldlcuda.
${CC:-cc} "$src/consumer.c" -o "$work/pc_static" $(pkg-config --cflags dlcuda) \
  $(pkg-config --static --libs dlcuda | sed "s|-ldlcuda|$(dirname "$libdir")/libdlcuda.a|")
"$work/pc_static"
echo "install test: 4 passed, 0 failed"
