#!/usr/bin/env bash
# CPU training speed and peak memory, libdlcuda against a current PyTorch 2.x from PyPI
# (bench/torch_venv.sh makes its virtual environment on first use; PYTORCH_PYTHON names
# another) on the same machine, model files, batch sizes, data and thread count.
#   bench/cpu_train_speed.sh [threads] [steps] [rounds]
# Each round runs every model on both sides one after the other (interleaved, so a slow
# spell of a shared machine hits both); the table gives per model the median images/s of
# training steps (forward, loss, backward, optimizer step) over the rounds, the median
# ratio and its spread (lowest to highest round), and each side's peak resident memory
# (GNU time's maximum RSS of the whole process). It also says which kernels each side
# ran: our CPU GEMM (oneDNN, or OpenBLAS with its core type, which OPENBLAS_CORETYPE may
# force) and PyTorch's CPU capability and BLAS. Raw lines, one per model and round, go to $OUT (default
# bench/cpu_train_speed.jsonl). DLCUDA_ARGS adds options to every dlcuda run (e.g.
# "--cpu-gemm openblas"). Needs a built tree (tools/build) and GNU time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
steps=${2:-100}
rounds=${3:-3}
out=${OUT:-$root/bench/cpu_train_speed.jsonl}
bin=$root/build/dlcuda
[ -x "$bin" ] || { echo "cpu_train_speed.sh: $bin is missing: run tools/build first" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "cpu_train_speed.sh: GNU time (/usr/bin/time, Debian package time) is missing" >&2; exit 1; }
py=$("$root/bench/torch_venv.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The kernels each side runs. Ours: the CPU GEMM that dlcuda's context picks here (oneDNN,
# or OpenBLAS with the core its detection or OPENBLAS_CORETYPE chose; --cpu-gemm in
# DLCUDA_ARGS forces one).
# shellcheck disable=SC2086
ours_kernels=$("$bin" info --device cpu --threads "$threads" ${DLCUDA_ARGS:-} 2>/dev/null | sed -n 's/^CPU GEMM: //p')
theirs_kernels=$("$py" -c 'import torch; print("PyTorch %s, CPU capability %s, MKL %s, oneDNN %s" % (torch.__version__, torch.backends.cpu.get_cpu_capability(), torch.backends.mkl.is_available(), torch.backends.mkldnn.is_available()))')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
commit=$(git -C "$root" rev-parse --short HEAD)
echo "$cpu, $threads threads, $steps steps, $rounds rounds, commit $commit"
echo "libdlcuda: $ours_kernels${OPENBLAS_CORETYPE:+ (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE)}"
echo "peer: $theirs_kernels"

# One run under GNU time: its standard output to $tmp/o, its peak RSS in KiB to $tmp/rss.
timed() { /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$tmp/o" 2>"$tmp/e" || { cat "$tmp/e" >&2; return 1; }; }

models="mlp lenet5 fashion_cnn"
: >"$tmp/lines"
for r in $(seq 1 "$rounds"); do
  for m in $models; do
    cfg=$root/models/$m.cfg
    # shellcheck disable=SC2086
    timed "$bin" train "$cfg" --device cpu --threads "$threads" --epochs 1 --steps "$steps" ${DLCUDA_ARGS:-}
    ours=$(sed -n 's/.*, \([0-9.]*\) img\/s.*/\1/p' "$tmp/o" | tail -n 1)
    ours_rss=$(tail -n 1 "$tmp/rss")
    OMP_NUM_THREADS=$threads timed "$py" "$root/bench/torch_train.py" "$cfg" --threads "$threads" --steps "$steps"
    theirs=$(sed -n 's/.*"images_per_second": \([0-9.]*\).*/\1/p' "$tmp/o")
    theirs_rss=$(tail -n 1 "$tmp/rss")
    [ -n "$ours" ] && [ -n "$theirs" ] || { echo "cpu_train_speed.sh: $m: no images/s in the output" >&2; exit 1; }
    line=$(python3 - "$m" "$r" "$threads" "$steps" "$ours" "$theirs" "$ours_rss" "$theirs_rss" "$ours_kernels" \
      "$theirs_kernels" "$cpu" "$(date -u +%F)" "$commit" <<'EOF'
import json, sys
m, r, threads, steps, ours, theirs, ours_rss, theirs_rss, ok, tk, cpu, date, commit = sys.argv[1:]
ours, theirs = float(ours), float(theirs)
print(json.dumps({"bench": "cpu_train_speed", "model": m, "round": int(r), "threads": int(threads),
                  "steps": int(steps), "dlcuda_images_per_second": ours, "pytorch_images_per_second": theirs,
                  "ratio": round(ours / theirs, 3), "dlcuda_peak_rss_mib": round(int(ours_rss) / 1024, 1),
                  "pytorch_peak_rss_mib": round(int(theirs_rss) / 1024, 1), "dlcuda_kernels": ok,
                  "pytorch_kernels": tk, "cpu": cpu, "date": date, "commit": commit}))
EOF
)
    echo "$line" >>"$tmp/lines"
    echo "$line" >>"$out"
    printf 'round %s %-12s libdlcuda %8.0f img/s  PyTorch %8.0f img/s\n' "$r" "$m" "$ours" "$theirs" >&2
  done
done

python3 - "$tmp/lines" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("%-12s %12s %12s %8s %14s %10s %10s" % ("model", "dlcuda img/s", "torch img/s", "ratio", "ratio spread",
                                              "dlcuda MiB", "torch MiB"))
for m in dict.fromkeys(r["model"] for r in rows):
    rs = [r for r in rows if r["model"] == m]
    med = lambda k: statistics.median(r[k] for r in rs)
    ratios = [r["ratio"] for r in rs]
    print("%-12s %12.0f %12.0f %8.2f %6.2f-%-7.2f %10.0f %10.0f" % (
        m, med("dlcuda_images_per_second"), med("pytorch_images_per_second"), statistics.median(ratios),
        min(ratios), max(ratios), med("dlcuda_peak_rss_mib"), med("pytorch_peak_rss_mib")))
EOF
