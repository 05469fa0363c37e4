#!/usr/bin/env bash
# The GPU check bundle, checked here (no GPU): run by .ci/run.
#  1. tools/gpu-bundle builds the real bundle (CUDA, sm_90) and checks it (every library
#     resolves inside it or to the allow-list; bundle plus checkout under 64 MiB);
#  2. its gpu-check, here, reports every GPU step as skipped for "no CUDA device", exits 0
#     and writes its summary, in seconds;
#  3. the same bundle on the emulated device runs every GPU step of gpu-check (tests,
#     benchmarks, training, the sanitizer reported as unavailable): the script's own logic
#     runs before the first real GPU run does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then
  GPU_BUNDLE_NO_DEPS=1 tools/gpu-bundle build-gpu-bundle
  start=$(date +%s)
  build-gpu-bundle/gpu-check "$tmp/real" || { echo "test_gpu_bundle: gpu-check failed without a GPU"; cat "$tmp/real/summary.txt"; exit 1; }
  took=$(($(date +%s) - start))
  [ "$took" -le 30 ] || { echo "test_gpu_bundle: gpu-check took $took s without a GPU"; exit 1; }
  for s in device "gpu tests" benchmarks "training speed" "sanitizer memcheck"; do
    grep -q "^$s *skipped *no CUDA device" "$tmp/real/summary.txt" ||
      { echo "test_gpu_bundle: step '$s' is not skipped for no CUDA device"; cat "$tmp/real/summary.txt"; exit 1; }
  done
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["steps"][-1]["result"]=="passed", d' \
    "$tmp/real/summary.json"
  echo "test_gpu_bundle: the real bundle skips every GPU step here (${took} s)"
else
  echo "test_gpu_bundle: no CUDA toolkit: the real bundle is not built"
fi

GPU_BUNDLE_NO_DEPS=1 GPU_BUNDLE_EMULATE=1 tools/gpu-bundle "$tmp/emu-bundle"
GPU_CHECK_ALLOW_EMULATED=1 GPU_CHECK_TRAIN_STEPS=2 GPU_CHECK_TRAIN_EPOCHS=1 GPU_CHECK_TORCH_STEPS=5 "$tmp/emu-bundle/gpu-check" "$tmp/emu" || true
cat "$tmp/emu/summary.txt"
bad=0
for s in device "gpu tests" benchmarks "training speed"; do
  grep -q "^$s *passed" "$tmp/emu/summary.txt" || { echo "test_gpu_bundle: emulated step '$s' did not pass"; bad=1; }
done
[ "$(ls "$tmp/emu" | wc -l)" -le 8 ] || { echo "test_gpu_bundle: more than 8 result files"; bad=1; }
tar -tzf "$tmp/emu/logs.tar.gz" | grep -q 'logs/tests.log' || { echo "test_gpu_bundle: logs.tar.gz lacks tests.log"; bad=1; }
[ $bad -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $bad
