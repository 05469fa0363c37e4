#!/usr/bin/env bash
# test_report_browser: the training report in a real browser. Headless Chromium (Debian's
# chromium, not installed by tools/deps: `apt-get install chromium`; without it the test
# skips with 77) opens report.html from `dlcuda train --report`, takes a screenshot and logs
# the page's console. The screenshot must not be blank (tests/check_report.py screenshot)
# and the console must be empty. Both checks are first shown to fail: on a page that logs
# errors, and on a blank page.
# usage: test_report_browser.sh DLCUDA SOURCE_DIR
set -uo pipefail
dlcuda=$1
src=$2
browser=""
for b in chromium chromium-browser google-chrome; do command -v "$b" >/dev/null && browser=$b && break; done
[ -n "$browser" ] || { echo "test_report_browser: no chromium (apt-get install chromium): skipped"; exit 77; }
command -v python3 >/dev/null || { echo "test_report_browser: no python3"; exit 77; }
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] || { echo "no Fashion-MNIST"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
# shot PAGE PNG: the screenshot, and the console's lines in PNG.console
shot() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 \
    --user-data-dir="$work/profile" --window-size=1240,3200 --screenshot="$2" "file://$1" >"$2.log" 2>&1
  grep -F ":CONSOLE" "$2.log" >"$2.console"
  [ -s "$2" ]
}
python3 "$src/tools/idx-subset" /usr/share/datasets/fashion-mnist "$work/fm" 1280 1000 >/dev/null || exit 1
"$dlcuda" train "$src/models/lenet5.cfg" --data "$work/fm" --device cpu --threads 2 --steps 8 --epochs 2 --layer-stats \
  --report "$work/r" --quiet >"$work/train.out" 2>&1 || { echo "FAIL  train --report"; cat "$work/train.out"; exit 1; }
printf '<!DOCTYPE html><html><body><p>x</p><script>console.error("planted")</script></body></html>' >"$work/err.html"
printf '<!DOCTYPE html><html><body></body></html>' >"$work/blank.html"
if shot "$work/err.html" "$work/err.png" && grep -qF planted "$work/err.png.console"; then
  echo "ok    a page's console error is seen"
else echo "FAIL  the planted console error was not seen"; cat "$work/err.png.log"; failures=$((failures + 1)); fi
if shot "$work/blank.html" "$work/blank.png" && ! python3 "$src/tests/check_report.py" screenshot "$work/blank.png" 2>/dev/null
then echo "ok    a blank page is refused"
else echo "FAIL  a blank page passed (or no screenshot)"; failures=$((failures + 1)); fi
if ! shot "$work/r/report.html" "$work/report.png"; then
  echo "FAIL  no screenshot of the report"; cat "$work/report.png.log"; failures=$((failures + 1))
else
  if [ -s "$work/report.png.console" ]; then
    echo "FAIL  the report logged to the console:"; cat "$work/report.png.console"; failures=$((failures + 1))
  else echo "ok    the report's console is empty"; fi
  python3 "$src/tests/check_report.py" screenshot "$work/report.png" && echo "ok    the screenshot is not blank" ||
    failures=$((failures + 1))
fi
[ "$failures" -eq 0 ] && echo "test_report_browser: all passed" || echo "test_report_browser: $failures failed"
[ "$failures" -eq 0 ]
