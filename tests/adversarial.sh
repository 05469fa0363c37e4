#!/usr/bin/env bash
# The adversarial suite (CTest label "adversarial"): the dlcuda command given what a
# hostile or careless user gives it. Every hostile case must end with a non-zero exit and
# a "dlcuda: ..." line naming the problem, without a signal, a hang (each case has a
# deadline), a sanitizer report, or a good file replaced. A few cases check that valid
# but unusual input is accepted. Cases that need root (a full or read-only tmpfs) are
# reported as skipped where they cannot run.
#   tests/adversarial.sh DLCUDA
set -u
dlcuda=$(readlink -f "$1")
W=$(mktemp -d "${TMPDIR:-/tmp}/dlc_adv_XXXXXX")
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$W"
}
trap cleanup EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
failed=0 passed=0 skipped=0

sanitizer_report() { grep -qE "runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer" "$W/err"; }

# fails NAME NEEDLE DEADLINE_S CMD...: must fail with a dlcuda: line holding NEEDLE.
fails() {
  local name=$1 needle=$2 deadline=$3
  shift 3
  timeout -s KILL "$deadline" "$@" >"$W/out" 2>"$W/err" </dev/null
  local rc=$? why=""
  if [ "$rc" -eq 137 ]; then why="no answer within ${deadline} s (a hang?)"
  elif [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"
  elif [ "$rc" -eq 0 ]; then why="exit 0"
  elif sanitizer_report; then why="a sanitizer report"
  elif ! grep '^dlcuda: ' "$W/err" | grep -qF -- "$needle"; then why="no 'dlcuda: ...$needle...' line"
  fi
  report "$name" "$why" "$rc"
}

# works NAME DEADLINE_S CMD...: must succeed.
works() {
  local name=$1 deadline=$2
  shift 2
  timeout -s KILL "$deadline" "$@" >"$W/out" 2>"$W/err" </dev/null
  local rc=$? why=""
  if [ "$rc" -ne 0 ]; then why="exit $rc"; elif sanitizer_report; then why="a sanitizer report"; fi
  report "$name" "$why" "$rc"
}

report() {
  if [ -z "$2" ]; then
    passed=$((passed + 1))
    echo "ok    $1"
  else
    failed=$((failed + 1))
    echo "FAIL  $1: $2 (exit $3)"
    sed 's/^/      | /' "$W/err" | head -8
  fi
}

skip() {
  skipped=$((skipped + 1))
  echo "skip  $1: $2"
}

same() { cmp -s "$1" "$2"; }

# ---- a small model and data set (tabular: trains in milliseconds)
cat >"$W/tiny.cfg" <<'EOF'
[net]
input = 4
batch = 8
epochs = 2
optimizer = sgd
lr = 0.1

[dense]
units = 3

[softmax_xent]
EOF
{
  echo "a,b,c,d,label"
  for i in $(seq 0 63); do echo "$((i % 7)).5,$((i % 3)),0.$((i % 10)),$((i % 5)),$((i % 3))"; done
} >"$W/tiny.csv"
M=$W/tiny.cfg
D=$W/tiny.csv
train=("$dlcuda" train "$M" --data "$D" --quiet --device cpu)

works "a normal run saves weights and a checkpoint" 60 "${train[@]}" --save "$W/good.safetensors" --checkpoint "$W/good.ckpt"
cp "$W/good.safetensors" "$W/good.copy"
cp "$W/good.ckpt" "$W/good.ckpt.copy"

# ---- 1. NaN / Inf scores: no crash, a message
# A float32 .npy of [2, 4] with a NaN (little-endian 0x7fc00000) in the first row.
npy() { # FILE FLOATS_AS_HEX...: a [2, 4] float32 .npy (NPY_SHAPE overrides the shape)
  local f=$1
  shift
  local h="{'descr': '<f4', 'fortran_order': False, 'shape': (${NPY_SHAPE:-2, 4}), }"
  while [ $(((10 + ${#h} + 1) % 64)) -ne 0 ]; do h="$h "; done
  {
    printf '\x93NUMPY\x01\x00'
    printf "\\x$(printf %02x $(((${#h} + 1) % 256)))\\x$(printf %02x $(((${#h} + 1) / 256)))"
    printf '%s\n' "$h"
    for x in "$@"; do printf "\\x${x:6:2}\\x${x:4:2}\\x${x:2:2}\\x${x:0:2}"; done
  } >"$f"
}
npy "$W/nan.npy" 7fc00000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000
npy "$W/inf.npy" 7f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000
npy "$W/ok.npy" 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000
fails "predict --top 3 with a NaN input" "NaN or infinite scores" 30 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/nan.npy" --top 3 --device cpu
fails "predict with an Inf input" "the first: input 0" 30 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/inf.npy" --device cpu
NPY_SHAPE="4611686018427387904, 4" npy "$W/huge.npy"
fails "an .npy whose shape overflows names the file" "$W/huge.npy: shape overflows" 30 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/huge.npy" --device cpu
works "predict --top 3 with finite input" 30 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/ok.npy" --top 3 --device cpu

# ---- 2. Two writers on one checkpoint: the second is refused, the file stays whole
"${train[@]}" --epochs 1000000 --checkpoint "$W/race.ckpt" >/dev/null 2>"$W/a.err" &
a=$!
for _ in $(seq 100); do [ -e "$W/race.ckpt.lock" ] && [ -e "$W/race.ckpt" ] && break; sleep 0.1; done
fails "a second run on a checkpoint in use" "being written by another process (pid $a)" 30 "${train[@]}" --checkpoint "$W/race.ckpt"
fails "a second run logging to a log in use" "being written by another process" 30 "${train[@]}" --log "$W/race.ckpt"
kill -KILL "$a" 2>/dev/null
wait "$a" 2>/dev/null
works "the checkpoint of a killed run loads" 30 "$dlcuda" eval "$M" --weights "$W/race.ckpt" --data "$D" --device cpu
works "a stale lock of a dead run does not block the next" 60 "${train[@]}" --resume "$W/race.ckpt" --checkpoint "$W/race.ckpt" --epochs 1000000 --stop-after 3
# A checkpoint whose data does not match its header's checksum.
cp "$W/good.ckpt" "$W/bad.ckpt"
size=$(stat -c %s "$W/bad.ckpt")
printf '\x55' | dd of="$W/bad.ckpt" bs=1 seek=$((size - 3)) conv=notrunc status=none
fails "resume from a checkpoint with damaged data" "does not match the header's checksum" 30 "${train[@]}" --resume "$W/bad.ckpt"
fails "eval with a damaged checkpoint as weights" "does not match the header's checksum" 30 "$dlcuda" eval "$M" --weights "$W/bad.ckpt" --data "$D" --device cpu

# ---- 3, 4. Outputs that cannot be written: refused before training; nothing lost after
mkdir -p "$W/full" "$W/ro"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$W/full" 2>/dev/null; then
  mounts+=("$W/full")
  head -c 1M /dev/zero >"$W/full/filler" 2>/dev/null
  fails "--log on a full disk" "$W/full/log.csv: writing failed: No space left on device" 60 "${train[@]}" --log "$W/full/log.csv"
  rm -f "$W/full/filler"
  head -c 60k /dev/zero >"$W/full/filler" 2>/dev/null # room for the log, not for the weights
  (cd "$W" && fails "--save on a full disk keeps the weights" "saved to ./dlcuda-rescued-" 60 "${train[@]}" --save "$W/full/w.safetensors")
  if ls "$W"/dlcuda-rescued-*.safetensors >/dev/null 2>&1; then
    works "the rescued weights load" 30 "$dlcuda" eval "$M" --weights "$(ls "$W"/dlcuda-rescued-*.safetensors | head -1)" --data "$D" --device cpu
  fi
else
  skip "--log and --save on a full disk" "needs root to mount a small tmpfs"
fi
ro_ok=0
if [ "$(id -u)" = 0 ]; then
  mount -t tmpfs -o ro,size=64k tmpfs "$W/ro" 2>/dev/null && mounts+=("$W/ro") && ro_ok=1
else
  chmod 555 "$W/ro" && ro_ok=1
fi
if [ "$ro_ok" = 1 ]; then
  fails "--save into a read-only folder fails before training" "creating a file in $W/ro" 30 "${train[@]}" --save "$W/ro/w.safetensors" --epochs 1000000
  fails "--checkpoint into a read-only folder" "cannot write $W/ro/c.ckpt" 30 "${train[@]}" --checkpoint "$W/ro/c.ckpt" --epochs 1000000
  fails "--log into a read-only folder" "cannot write $W/ro/l.csv" 30 "${train[@]}" --log "$W/ro/l.csv" --epochs 1000000
else
  skip "outputs in a read-only folder" "could not make one"
fi
fails "--save into a folder that does not exist" "its folder $W/nowhere" 30 "${train[@]}" --save "$W/nowhere/w.safetensors"
fails "--save onto a folder" "it is a folder, not a regular file" 30 "${train[@]}" --save "$W/ro"
fails "--log onto a device" "it is a character device" 30 "${train[@]}" --log /dev/full
fails "--save and --checkpoint on one file" "name the same file" 30 "${train[@]}" --save "$W/x" --checkpoint "$W/x"
fails "forward --output into a folder that does not exist" "its folder $W/nowhere" 30 "$dlcuda" forward "$M" --input "$W/ok.npy" --output "$W/nowhere/y.npy" --device cpu
same "$W/good.safetensors" "$W/good.copy" && same "$W/good.ckpt" "$W/good.ckpt.copy" && report "no good file was replaced" "" 0 ||
  report "no good file was replaced" "good.safetensors or good.ckpt changed" 1

# ---- 5. Non-regular files as inputs: refused at once, never a blocking open
mkfifo "$W/fifo" "$W/fifo.csv" "$W/fifo.npy"
fails "a FIFO as the model" "is a FIFO (named pipe), not a model file" 10 "$dlcuda" train "$W/fifo" --data "$D" --device cpu
fails "a FIFO as the weights" "is a FIFO (named pipe), not a safetensors file" 10 "$dlcuda" eval "$M" --weights "$W/fifo" --data "$D" --device cpu
fails "a FIFO as the CSV data" "is a FIFO (named pipe), not a CSV file" 10 "$dlcuda" train "$M" --data "$W/fifo.csv" --device cpu
fails "a FIFO as the .npy input" "is a FIFO (named pipe), not a .npy file" 10 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/fifo.npy" --device cpu
fails "a FIFO as the resume checkpoint" "is a FIFO (named pipe)" 10 "${train[@]}" --resume "$W/fifo"
mkdir -p "$W/idxfifo"
mkfifo "$W/idxfifo/train-images-idx3-ubyte" "$W/idxfifo/train-labels-idx1-ubyte"
fails "FIFOs as IDX files" "is a FIFO (named pipe), not a IDX file" 10 "$dlcuda" train "$M" --data "$W/idxfifo" --device cpu
fails "/dev/zero as the weights" "is a character device" 10 "$dlcuda" eval "$M" --weights /dev/zero --data "$D" --device cpu
fails "a folder as the model" "is a folder, not a model file" 10 "$dlcuda" train "$W" --data "$D" --device cpu
fails "a folder as the weights" "is a folder, not a safetensors file" 10 "$dlcuda" eval "$M" --weights "$W" --data "$D" --device cpu
mkdir -p "$W/dir.npy"
fails "a folder as the .npy input" "is a folder, not a .npy file" 10 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/dir.npy" --device cpu
fails "a FIFO as the data folder" "is not a folder or a .csv file" 10 "$dlcuda" train "$M" --data "$W/fifo" --device cpu

# ---- 6, 9, 10. Model files
cfg() { sed "$1" "$M" >"$W/$2.cfg"; }
printf '[net]\ninput = 4\nbatch = 8\n\n[dense]\nunits = 1\0003\n\n[softmax_xent]\n' >"$W/nul.cfg"
fails "a NUL byte in a value" "nul.cfg:6: a NUL byte" 10 "${train[@]/$M/$W/nul.cfg}"
cfg 's/^units = 3/units = 3\nunits = 4/' twice
fails "a key set twice" "[dense] sets 'units' twice (first at line 9)" 10 "${train[@]/$M/$W/twice.cfg}"
cfg 's/^\[dense\]/[net]\ninput = 4\n\n[dense]/' net2
fails "a second [net]" "a second [net] section (the first is at line 1)" 10 "${train[@]/$M/$W/net2.cfg}"
cfg "s/^units = 3/units = 3 ; $(printf 'x%.0s' $(seq 300))/" longline
fails "an over-long line, at its own line number" "longline.cfg:9: the line is" 10 "${train[@]/$M/$W/longline.cfg}"
{ printf '; %s\n' "$(printf 'y%.0s' $(seq 500))"; cat "$M"; } >"$W/longcomment.cfg"
works "an over-long comment" 30 "${train[@]/$M/$W/longcomment.cfg}"
cfg 's/^units = 3/units =\n    3/' cont
works "a value on a continuation line" 30 "${train[@]/$M/$W/cont.cfg}"
: >"$W/empty.cfg"
fails "an empty model file" "the first section must be [net]" 10 "${train[@]/$M/$W/empty.cfg}"
fails "/dev/null as the model" "is a character device, not a model file" 10 "${train[@]/$M//dev/null}"

# ---- 7. Options: parsed whole, in range, named
fails "--seed abc" "--seed abc: expected a whole number" 10 "${train[@]}" --seed abc
fails "--seed -1" "--seed -1: expected a whole number" 10 "${train[@]}" --seed -1
fails "--seed past 2^64" "--seed 18446744073709551616" 10 "${train[@]}" --seed 18446744073709551616
fails "--lr nan" "--lr nan: expected a positive finite number" 10 "${train[@]}" --lr nan
fails "--lr abc" "--lr abc: expected a positive finite number" 10 "${train[@]}" --lr abc
fails "--lr 1e39" "--lr 1e39" 10 "${train[@]}" --lr 1e39
fails "--lr -1" "--lr -1" 10 "${train[@]}" --lr -1
fails "--epochs 0" "--epochs 0: expected a whole number from 1" 10 "${train[@]}" --epochs 0
fails "--epochs 3x" "--epochs 3x" 10 "${train[@]}" --epochs 3x
fails "--batch past its limit" "--batch 99999999999" 10 "${train[@]}" --batch 99999999999
fails "--steps past 2^63" "--steps 9223372036854775808" 10 "${train[@]}" --steps 9223372036854775808
fails "--threads 0" "--threads 0" 10 "${train[@]}" --threads 0
fails "--top 0" "--top 0" 10 "$dlcuda" predict "$M" --weights "$W/good.safetensors" "$W/ok.npy" --top 0
fails "--device cuda:x" "--device cuda:x" 10 "${train[@]}" --device cuda:x
fails "an option without its value" "--data needs a value" 10 "$dlcuda" train "$M" --data
fails "a data path too long to hold" "longer than 1023" 10 "${train[@]}" --data "$W/$(printf 'd%.0s' $(seq 1100))"
works "--steps 2^62 with --batch 4 (all batches)" 60 "${train[@]}" --steps 4611686018427387904 --batch 4

# ---- 8. Valid but unusual data
mkdir -p "$W/mm"
# IDX files of 16 images of 2x2 pixels, each gzipped in two members (cat a.gz b.gz).
idx_images() { printf '\x00\x00\x08\x03\x00\x00\x00\x10\x00\x00\x00\x02\x00\x00\x00\x02'; head -c 64 /dev/urandom; }
idx_labels() { printf '\x00\x00\x08\x01\x00\x00\x00\x10'; for i in $(seq 0 15); do printf "\\x0$((i % 3))"; done; }
for split in train t10k; do
  idx_images >"$W/img"
  idx_labels >"$W/lab"
  { head -c 10 "$W/img" | gzip; tail -c +11 "$W/img" | gzip; } >"$W/mm/$split-images-idx3-ubyte.gz"
  { head -c 5 "$W/lab" | gzip; tail -c +6 "$W/lab" | gzip; } >"$W/mm/$split-labels-idx1-ubyte.gz"
done
works "multi-member gzip IDX files" 30 "${train[@]}" --data "$W/mm"
works "--test-data as a CSV file" 30 "${train[@]}" --test-data "$D"
# A 2 GB image file whose samples do not fit the model: refused from its header, unread.
mkdir -p "$W/big"
printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\xb9\x00\x00\x00\xb9' >"$W/big/train-images-idx3-ubyte"
truncate -s $((16 + 60000 * 185 * 185)) "$W/big/train-images-idx3-ubyte"
{ printf '\x00\x00\x08\x01\x00\x00\xea\x60'; head -c 60000 /dev/zero; } >"$W/big/train-labels-idx1-ubyte"
fails "a 2 GB data set of the wrong shape, refused from its header" "the model's input takes 4 values" 3 "${train[@]}" --data "$W/big"

# ---- 11. Regression: [mse] on float targets from CSV columns named in [net]
cat >"$W/reg.cfg" <<'EOF'
[net]
input = 2
batch = 8
epochs = 3
optimizer = adam
lr = 0.01
targets = 2, -1

[dense]
units = 2

[mse]
EOF
{
  echo "x1,x2,y1,y2"
  for i in $(seq 0 39); do echo "0.$((i % 10)),$((i % 4)),$((i % 5)).25,-$((i % 3)).5"; done
} >"$W/reg.csv"
works "train a regression model on CSV targets" 60 "$dlcuda" train "$W/reg.cfg" --data "$W/reg.csv" --test-data "$W/reg.csv" --save "$W/reg.st" --log "$W/reg.log" --device cpu
grep -q "test_mae" "$W/reg.log" && report "the regression log has mae columns" "" 0 || report "the regression log has mae columns" "no test_mae in the header" 1
works "eval a regression model (mae)" 30 "$dlcuda" eval "$W/reg.cfg" --weights "$W/reg.st" --data "$W/reg.csv" --device cpu
grep -q "mae" "$W/out" && report "eval reports the mean absolute error" "" 0 || report "eval reports the mean absolute error" "no mae in: $(cat "$W/out")" 1
fails "predict a regression model with --top" "--top ranks classes" 30 "$dlcuda" predict "$W/reg.cfg" --weights "$W/reg.st" "$W/ok.npy" --top 2 --device cpu
NPY_SHAPE="4, 2" npy "$W/reg.npy" 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000 3f800000
works "predict a regression model" 30 "$dlcuda" predict "$W/reg.cfg" --weights "$W/reg.st" "$W/reg.npy" --device cpu
[ "$(grep -vc '^#' "$W/out")" = 4 ] && report "it prints one line of values per input" "" 0 ||
  report "it prints one line of values per input" "$(cat "$W/out")" 1
sed 's/^targets = 2, -1/targets = 2, 2/' "$W/reg.cfg" >"$W/reg_twice.cfg"
fails "a target column named twice" "column 2 is named twice" 30 "$dlcuda" train "$W/reg_twice.cfg" --data "$W/reg.csv" --device cpu
sed 's/^targets = 2, -1/targets = 9/' "$W/reg.cfg" >"$W/reg_missing.cfg"
fails "a target column that does not exist" "target column 9 does not exist" 30 "$dlcuda" train "$W/reg_missing.cfg" --data "$W/reg.csv" --device cpu
fails "a regression model on an image folder" "needs float targets" 30 "$dlcuda" train "$W/reg.cfg" --data "$W/mm" --device cpu
sed 's/,\([0-9]*\)$/,\1.5/' "$D" >"$W/frac.csv"
fails "a classifier on fractional labels" "is not a non-negative integer" 30 "${train[@]}" --data "$W/frac.csv"

# ---- Imbalance options (issue 16)
fails "--subsample with a fraction above 1" "class 1's fraction must be a number from 0 to 1" 10 "${train[@]}" --subsample 1=2
fails "--subsample of a class the model lacks" "classes from 0 to 2" 10 "${train[@]}" --subsample 7=0.5
fails "--subsample that is not CLASS=FRACTION" "expected CLASS=FRACTION" 10 "${train[@]}" --subsample half
fails "--subsample that keeps nothing" "kept no sample" 10 "${train[@]}" --subsample 0=0,1=0,2=0
works "--subsample 1=0.25" 30 "${train[@]}" --subsample 1=0.25
sed 's/^\[softmax_xent\]/[softmax_xent]\nweights = balanced/' "$M" >"$W/balw.cfg"
works "weights = balanced" 30 "$dlcuda" train "$W/balw.cfg" --data "$D" --device cpu --subsample 1=0.25
grep -q "class weights (balanced, from the training labels): 0.7273 3.2 0.7619" "$W/out" &&
  report "balanced weights are n / (classes * count): 48/66, 48/15, 48/63" "" 0 ||
  report "balanced weights are n / (classes * count): 48/66, 48/15, 48/63" "$(grep 'class weights' "$W/out")" 1
sed 's/^lr = 0.1/lr = 0.1\nsampler = balanced/' "$M" >"$W/bals.cfg"
works "sampler = balanced" 30 "${train[@]/$M/$W/bals.cfg}" --subsample 1=0.25
sed 's/^lr = 0.1/lr = 0.1\nsampler = stratified/' "$M" >"$W/badsampler.cfg"
fails "an unknown sampler" "sampler = \"stratified\"" 10 "${train[@]/$M/$W/badsampler.cfg}"

fails "--sampler of an unknown kind" "--sampler stratified: use balanced or uniform" 10 "${train[@]}" --sampler stratified
fails "--rotate past 180" "--rotate 200: expected a number from 0 to 180" 10 "${train[@]}" --rotate 200
fails "--erase on tabular data" "rotation, erasing and colour jitter need images" 10 "${train[@]}" --erase 0.5
works "--class-weights balanced --sampler balanced" 30 "$dlcuda" train "$M" --data "$D" --device cpu --class-weights balanced --sampler balanced --subsample 2=0.5
grep -q "class weights (balanced" "$W/out" && report "--class-weights balanced sets the weights" "" 0 ||
  report "--class-weights balanced sets the weights" "no weights printed" 1
works "augmentation from the command line on images" 60 "${train[@]}" --data "$W/mm" --rotate 15 --erase 0.5 --brightness 0.2 --contrast 0.2

# ---- 9. Numeric failures name the batch and the cause
fails "a diverging run names its first bad batch" "the loss became NaN at batch 2 of 8 in epoch 1 (learning rate 3e+38 at that batch)" 60 "${train[@]}" --lr 3e38 --epochs 3
cp "$W/good.safetensors" "$W/nanw.safetensors"
hlen=$(od -An -tu8 -N8 "$W/nanw.safetensors" | tr -d ' ')
printf '\x00\x00\xc0\x7f' | dd of="$W/nanw.safetensors" bs=1 seek=$((8 + hlen)) conv=notrunc status=none
fails "eval with NaN weights blames the weights, not the learning rate" "were the weights saved from a run that diverged" 30 "$dlcuda" eval "$M" --weights "$W/nanw.safetensors" --data "$D" --device cpu

echo "adversarial: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
