#!/usr/bin/env bash
# CPU training speed, libdlcuda against PyTorch on the same machine, model files, batch
# sizes, data and thread count: images per second of training steps (forward, loss,
# backward, optimizer step). Prints a table and appends JSON lines to $OUT (default
# bench/cpu_train_speed.jsonl).
#   bench/cpu_train_speed.sh [threads] [steps]
# Needs a built tree (tools/build) and a Python with torch (Debian: python3-torch).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
steps=${2:-100}
out=${OUT:-$root/bench/cpu_train_speed.jsonl}
py=${PYTHON:-/usr/bin/python3}
printf "%-22s %8s %14s %14s %8s\n" model threads "dlcuda img/s" "pytorch img/s" ratio
for m in mlp lenet5 fashion_cnn; do
  cfg=$root/models/$m.cfg
  ours=$("$root/build/dlcuda" train "$cfg" --device cpu --threads "$threads" --epochs 1 --steps "$steps" 2>/dev/null |
         sed -n 's/.*, \([0-9.]*\) img\/s.*/\1/p' | tail -n 1)
  theirs=$(OMP_NUM_THREADS=$threads "$py" "$root/bench/torch_train.py" "$cfg" --threads "$threads" --steps "$steps" |
           sed -n 's/.*"images_per_second": \([0-9.]*\).*/\1/p')
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf "%-22s %8s %14.0f %14.0f %8s\n" "$m" "$threads" "$ours" "$theirs" "$ratio"
  printf '{"bench":"cpu_train_speed","model":"%s","threads":%s,"steps":%s,"dlcuda_images_per_second":%s,"pytorch_images_per_second":%s,"ratio":%s,"date":"%s","commit":"%s"}\n' \
    "$m" "$threads" "$steps" "$ours" "$theirs" "$ratio" "$(date -u +%F)" "$(git -C "$root" rev-parse --short HEAD)" >>"$out"
done
