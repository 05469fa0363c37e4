#!/usr/bin/env bash
# The README's pictures of the training report: headless Chromium's screenshot of
# REPORT.html, cut at its section rules (the h2 underlines) into report-top.png (the title
# to the test set: network, curves, layer statistics) and report-test.png (the test set and
# the first rows of mistakes).
# usage: docs/report/make_pictures.sh DIR/report.html [OUT_DIR (default docs/report)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
report=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-$here}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/profile" \
  --window-size=1240,6000 --screenshot="$tmp/full.png" "file://$report" >/dev/null 2>&1
python3 - "$tmp/full.png" "$out" "$here/../../tests" <<'PY'
import struct, sys, zlib
sys.path.insert(0, sys.argv[3])
from check_report import png_pixels
w, h, bpp, rows = png_pixels(open(sys.argv[1], "rb").read())
rule = bytes((213, 217, 224))
def is_rule(r):  # an h2 underline: a long run of its colour
    return r.count(rule * 64) > 0
rules = [y for y in range(1, h) if is_rule(rows[y]) and not is_rule(rows[y - 1])]
last = max(y for y in range(h) if rows[y].strip(b"\xff")) + 24  # the page's end
def save(name, y0, y1):
    raw = b"".join(b"\0" + bytes(rows[y][x] for x in range(len(rows[y])) if x % bpp < 3) for y in range(y0, y1))
    def chunk(k, d): return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, y1 - y0, 8, 2, 0, 0, 0)) + \
          chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    open("%s/%s" % (sys.argv[2], name), "wb").write(png)
    print("%s: %d x %d" % (name, w, y1 - y0))
# rules: Network, Training, Test set, Misclassified; cut 40 px above each heading's rule
print("section rules at", rules, "page end", last)
save("report-top.png", 0, rules[2] - 44)
save("report-test.png", rules[2] - 44, min(last, rules[3] + 345))
PY
