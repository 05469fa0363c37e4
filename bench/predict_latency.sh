#!/usr/bin/env bash
# Real-time inference on the CPU: libdlcuda's dlc_infer_run (build/bench/predict_latency)
# against PyTorch 2.x from PyPI (bench/torch_latency.py, eager and inference_mode) on the
# same model files, batch sizes and thread count, ROUNDS interleaved rounds. Prints per
# model and batch the median p50 and p99 (microseconds) of each side and the ratio of
# libdlcuda's p50 to PyTorch's best p50; appends every result to $OUT
# (default bench/predict_latency.jsonl).
#   bench/predict_latency.sh [threads] [rounds] [calls]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-1}
rounds=${2:-3}
calls=${3:-3000}
out=${OUT:-$root/bench/predict_latency.jsonl}
py=$("$root/bench/torch_venv.sh")
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
commit=$(git -C "$root" rev-parse --short HEAD)
for r in $(seq "$rounds"); do
  for m in mlp lenet5 fashion_cnn; do
    "$root/build/bench/predict_latency" --cpu --threads "$threads" --calls "$calls" --json "$tmp" "$root/models/$m.cfg" >/dev/null
    OMP_NUM_THREADS=$threads "$py" "$root/bench/torch_latency.py" "$root/models/$m.cfg" --threads "$threads" \
      --calls "$calls" 2>/dev/null >>"$tmp"
  done
done
sed "s/}\$/,\"date\":\"$(date -u +%F)\",\"commit\":\"$commit\"}/" "$tmp" >>"$out"
"$py" - "$tmp" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"CPU, {sys.argv[2]} thread(s); medians over rounds of p50 / p99 in microseconds")
print(f"{'model':<16}{'batch':>6}{'libdlcuda':>20}{'torch eager':>20}{'torch inference':>20}{'ratio':>8}")
for m in ("mlp.cfg", "lenet5.cfg", "fashion_cnn.cfg"):
    for b in (1, 8):
        cell = {}
        for fw in ("dlcuda", "pytorch-eager", "pytorch-inference_mode"):
            sel = [r for r in rows if r["model"] == m and r["batch"] == b and r["framework"] == fw]
            cell[fw] = (statistics.median(r["p50_us"] for r in sel), statistics.median(r["p99_us"] for r in sel)) if sel else None
        fmt = lambda c: f"{c[0]:9.1f} / {c[1]:7.1f}" if c else f"{'-':>19}"
        best = min(c[0] for k, c in cell.items() if k != "dlcuda" and c) if any(cell[k] for k in cell if k != "dlcuda") else None
        ratio = f"{cell['dlcuda'][0] / best:8.2f}" if best and cell["dlcuda"] else f"{'-':>8}"
        print(f"{m:<16}{b:>6}{fmt(cell['dlcuda']):>20}{fmt(cell['pytorch-eager']):>20}{fmt(cell['pytorch-inference_mode']):>20}{ratio}")
PY
