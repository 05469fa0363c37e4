#!/usr/bin/env bash
# test_report: the training report end to end on (a part of) Fashion-MNIST, on the CPU.
#  - `train --report` writes report.html and its JSONL log; the page is well-formed and
#    self-contained, every picture decodes, each chart has a point per epoch, the layer
#    statistics are drawn, and its confusion matrix agrees with `dlcuda eval`
#    (tests/check_report.py, whose self-test shows it refuses broken pages);
#  - `dlcuda report` does the same from a CSV log, a later line for an epoch replacing an
#    earlier one;
#  - bad logs, bad class names and unwritable outputs are errors naming the problem, before
#    any training, and an existing report is left as it was.
# With DEVICE cuda (test_gpu_report) all of it runs on the device, and the matrices are
# compared with `dlcuda eval` on the CPU; without a usable device that exits 77.
# usage: test_report.sh DLCUDA SOURCE_DIR [DEVICE]
set -uo pipefail
dlcuda=$1
src=$2
dev=${3:-cpu}
if [ "$dev" != cpu ] && ! "$dlcuda" info 2>/dev/null | grep -q "^cuda:0 usable"; then
  echo "test_report: no usable CUDA device: skipped"
  exit 77
fi
check="python3 $src/tests/check_report.py"
data=/usr/share/datasets/fashion-mnist
command -v python3 >/dev/null || { echo "test_report: no python3 (tools/deps installs it)"; exit 77; }
[ -f "$data/t10k-images-idx3-ubyte.gz" ] || { echo "test_report: no $data (tools/deps installs it)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
# A small copy of the data set (the first 1280 training and 2000 test images), so that the
# sanitizer build runs this quickly too.
python3 "$src/tools/idx-subset" "$data" "$work/fm" 1280 2000 >/dev/null || { echo "FAIL  idx-subset"; exit 1; }
ok() { echo "ok    $1"; }
bad() { echo "FAIL  $1"; failures=$((failures + 1)); }
run() { "$dlcuda" "$@" --device "$dev" --threads 2 >"$work/out" 2>&1; }
cpu_eval() { "$dlcuda" eval "$@" --device cpu --threads 2 >"$work/out" 2>&1; }
d=(--data "$work/fm")
# expect_error NAME TEXT ARGS...: the command fails, saying TEXT.
expect_error() {
  local name=$1 text=$2
  shift 2
  if run "$@"; then bad "$name: succeeded"; sed 's/^/      | /' "$work/out"
  elif ! grep -qF -- "$text" "$work/out"; then bad "$name: no '$text' in:"; sed 's/^/      | /' "$work/out"
  else ok "$name"; fi
}

# 1. train --report, JSONL log by default, layer statistics on.
if run train "$src/models/fashion_cnn.cfg" "${d[@]}" --steps 10 --epochs 2 --layer-stats --report "$work/a" \
      --save "$work/w.safetensors" --quiet; then ok "train --report"
else bad "train --report"; sed 's/^/      | /' "$work/out"; fi
[ "$(wc -l <"$work/a/train.jsonl" 2>/dev/null)" = 2 ] && ok "its log: 2 lines in a/train.jsonl" || bad "a/train.jsonl"
cpu_eval "$src/models/fashion_cnn.cfg" "${d[@]}" --weights "$work/w.safetensors" && cp "$work/out" "$work/eval.txt"
if $check html "$work/a/report.html" --epochs 2 --layers --mistakes 32 --eval "$work/eval.txt"; then
  ok "the page, its pictures and charts, its matrix against eval"
else bad "check_report html (train --report)"; fi
$check self-test "$work/a/report.html" && ok "the checker refuses broken pages" || bad "check_report self-test"
grep -qF "Ankle boot" "$work/a/report.html" && ok "class names from [net] classes" || bad "class names"

# 2. dlcuda report from a CSV log (another model), one epoch logged twice.
if run train "$src/models/lenet5.cfg" "${d[@]}" --steps 8 --epochs 3 --log "$work/run.csv" --save "$work/l.safetensors" --quiet
then ok "train lenet5 --log run.csv"; else bad "train lenet5"; sed 's/^/      | /' "$work/out"; fi
tail -n 1 "$work/run.csv" >>"$work/run.csv"
if run report "$src/models/lenet5.cfg" "${d[@]}" --weights "$work/l.safetensors" --log "$work/run.csv" --out "$work/b" \
      --misclassified 5; then ok "report from a CSV log"
else bad "report from a CSV log"; sed 's/^/      | /' "$work/out"; fi
cpu_eval "$src/models/lenet5.cfg" "${d[@]}" --weights "$work/l.safetensors" && cp "$work/out" "$work/eval2.txt"
$check html "$work/b/report.html" --epochs 3 --mistakes 5 --eval "$work/eval2.txt" && ok "its page: 3 epochs" ||
  bad "check_report html (report)"
grep -q 'id="layers"' "$work/b/report.html" && bad "layer plots without --layer-stats" || ok "no layer plots without statistics"

# 3. Bad input: each an error naming it; the existing report stays.
cp "$work/b/report.html" "$work/keep.html"
m=(report "$src/models/lenet5.cfg" "${d[@]}" --weights "$work/l.safetensors" --out "$work/b")
head -n 2 "$work/run.csv" >"$work/short.csv" && echo "4,0.5" >>"$work/short.csv"
expect_error "a CSV line of too few fields" "short.csv:3: 2 fields, the header has 10" "${m[@]}" --log "$work/short.csv"
head -n 2 "$work/run.csv" | sed '2s/^[^,]*,[^,]*,/1,abc,/' >"$work/nan.csv"
expect_error "a field that is not a number" 'nan.csv:2: train_loss = "abc" is not a number' "${m[@]}" --log "$work/nan.csv"
printf 'epoch,"a\n' >"$work/quote.csv"
expect_error "a bad quote" "quote.csv:1: a badly quoted field" "${m[@]}" --log "$work/quote.csv"
head -n 1 "$work/a/train.jsonl" >"$work/bad.jsonl" && echo '{"epoch": 2, "train_loss": }' >>"$work/bad.jsonl"
expect_error "a JSON line that does not parse" "bad.jsonl:2: column" "${m[@]}" --log "$work/bad.jsonl"
printf 'step,loss\n1,2\n' >"$work/other.csv"
expect_error "a CSV that is not a training log" "no epoch column: not a dlcuda training log" "${m[@]}" --log "$work/other.csv"
mkdir -p "$work/dir.csv"
expect_error "a folder as the log" "dir.csv" "${m[@]}" --log "$work/dir.csv"
{ head -n 1 "$work/run.csv"; echo "1,1e308,-1e308,inf,nan,0,0,0,0,0"; echo "2,1e-320,1e308,5,5,5,5,5,5,5"
  echo "1e300,1,1,1,1,1,1,1,1,1"; echo "-1e300,1,1,1,1,1,1,1,1,1"; } >"$work/extreme.csv"
if run report "$src/models/lenet5.cfg" "${d[@]}" --weights "$work/l.safetensors" --out "$work/x" --log "$work/extreme.csv" --misclassified 0 && $check html "$work/x/report.html"
then ok "a log of extreme values: the page is still well-formed"; else bad "a log of extreme values"; sed 's/^/      | /' "$work/out"; fi
cmp -s "$work/keep.html" "$work/b/report.html" && ok "the existing report is left as it was" || bad "report overwritten"
sed 's/^classes = .*/classes = a, b, c/' "$src/models/lenet5.cfg" >"$work/names.cfg"
expect_error "3 class names for 10 classes" "3 names" report "$work/names.cfg" "${d[@]}" --weights "$work/l.safetensors" \
  --out "$work/c"
expect_error "an unknown Grad-CAM layer" "--layer nosuch: no such layer" "${m[@]}" --layer nosuch
SECONDS=0
expect_error "train --report into a missing folder, before training" "cannot make the report folder" train "$src/models/lenet5.cfg" \
  "${d[@]}" --steps 8 --epochs 1 --report "$work/missing/deeper"
grep -q "^epoch" "$work/out" && bad "it trained before refusing" || ok "  (refused in ${SECONDS}s, no epoch trained)"

[ "$failures" -eq 0 ] && echo "test_report: all passed" || echo "test_report: $failures failed"
[ "$failures" -eq 0 ]
