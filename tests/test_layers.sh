#!/usr/bin/env bash
# test_layers: tools/check-layers holds on this tree (host/'s module order, no include
# circle, tools/ examples/ bench/ on the public headers only), and it does catch each kind
# of breach: on a copy of the tree with one breach put in at a time, it must fail naming it.
set -euo pipefail
src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
check=$src/tools/check-layers
command -v python3 >/dev/null || { echo "test_layers: no python3 (tools/deps installs it)"; exit 77; }
"$check" "$src"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
# breach NAME EXPECTED FILE LINE: appends LINE to FILE in a fresh copy; check-layers must fail saying EXPECTED.
breach() {
  local name=$1 expected=$2 file=$3 line=$4
  rm -rf "$work/t" && mkdir -p "$work/t" && cp -r "$src/host" "$src/tools" "$work/t/"
  [ -d "$src/bench" ] && cp -r "$src/bench" "$work/t/"
  [ -d "$src/examples" ] && cp -r "$src/examples" "$work/t/"
  printf '%s\n' "$line" >>"$work/t/$file"
  local out rc=0
  out=$("$check" "$work/t" 2>&1) || rc=$?
  if [ "$rc" -ne 1 ] || ! grep -qF -- "$expected" <<<"$out"; then
    echo "FAIL  $name: check-layers exit $rc, wanted 1 and a line with '$expected':"
    sed 's/^/      | /' <<<"$out"
    failures=$((failures + 1))
  else
    echo "ok    $name"
  fi
}
breach "core including nn" 'host/core/tensor.c: #include "nn/net_internal.h" runs against the module order' \
  host/core/tensor.c '#include "nn/net_internal.h"'
breach "ops including data" 'host/ops/op_softmax.c: #include "data/augment.h" runs against the module order' \
  host/ops/op_softmax.c '#include "data/augment.h"'
breach "a circle inside a module" 'ops/pool.h -> ops/ops.h' host/ops/pool.h '#include "ops/ops.h"'
breach "an include without its module" 'host/nn/net.c: #include "ops.h" does not name a module' \
  host/nn/net.c '#include "ops.h"'
breach "bench on an internal header" 'bench/bench_conv.c: #include "ops/conv.h" is not a public header' \
  bench/bench_conv.c '#include "ops/conv.h"'
breach "the command on an internal header" 'tools/dlcuda.c: #include "core/internal.h" is not a public header' \
  tools/dlcuda.c '#include "core/internal.h"'
[ "$failures" -eq 0 ] || exit 1
echo "test_layers: the tree holds the rule, and 6 breaches were each caught"
