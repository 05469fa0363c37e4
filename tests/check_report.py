#!/usr/bin/env python3
"""Checks of dlcuda's training report (report.html), with the standard library only.

  check_report.py html REPORT [--epochs N] [--layers] [--mistakes N] [--eval EVAL.txt]
      The page is well-formed (every element closed, in order), self-contained (no script,
      no external reference), every PNG data URI decodes to a valid picture of its
      stated size, the charts have one point per epoch, and the confusion matrix agrees
      with `dlcuda eval`'s recall and precision per class (EVAL.txt holds its output).
  check_report.py self-test REPORT
      The same checks must fail on broken copies of REPORT (a tag left open, a corrupt
      image, a script, an external image, a chart point missing): the checker can fail.
  check_report.py screenshot SHOT.png
      A browser's screenshot of the page is not blank: many colours, much non-white.
"""
import base64
import html.parser
import re
import struct
import sys
import zlib

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "area", "base", "wbr", "source"}


class Fail(Exception):
    pass


def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, every CRC checked."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Fail("not a PNG signature")
    at, idat, ihdr, end = 8, b"", None, False
    while at < len(data):
        if at + 8 > len(data):
            raise Fail("truncated chunk header")
        n, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + n]
        if len(body) != n or at + 12 + n > len(data):
            raise Fail("truncated chunk")
        crc = struct.unpack(">I", data[at + 8 + n:at + 12 + n])[0]
        if zlib.crc32(kind + body) != crc:
            raise Fail("bad CRC in %r" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            end = True
            break
        at += 12 + n
    if not ihdr or not end:
        raise Fail("no IHDR or IEND")
    w, h, depth, colour = ihdr[:4]
    if depth != 8 or colour not in (2, 6):
        raise Fail("not 8-bit RGB(A): depth %d colour type %d" % (depth, colour))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    if len(raw) != h * (1 + stride):
        raise Fail("%d bytes of pixels for %d x %d" % (len(raw), w, h))
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f, line = raw[y * (1 + stride)], bytearray(raw[y * (1 + stride) + 1:(y + 1) * (1 + stride)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif f != 0:
                raise Fail("filter type %d" % f)
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.ids = [], [], set()
        self.images, self.charts, self.sparks = [], [], 0
        self.cm_rows, self.in_cm, self.cell, self.row, self.figures = [], False, None, None, 0
        self.svg, self.points = None, None

    def err(self, msg):
        line, col = self.getpos()
        self.errors.append("line %d col %d: %s" % (line, col + 1, msg))

    def attrs_check(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.err("a <script>")
        for k, v in attrs:
            if k.startswith("on"):
                self.err("an event handler %s" % k)
            if k in ("src", "href") and v is not None and not (v.startswith("data:") or v.startswith("#")):
                self.err("an external reference %s=%r" % (k, v[:60]))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.images.append(a)
        if tag == "svg":
            self.svg = a.get("class")
            self.points = []
        if tag == "polyline" and self.points is not None:
            self.points.append(len(a.get("points", "").split()))
        if tag == "table" and a.get("class") == "cm":
            self.in_cm = True
        if self.in_cm and tag == "tr":
            self.row = []
        if self.in_cm and tag == "td":
            self.cell = ""
        if tag == "figure":
            self.figures += 1

    def handle_starttag(self, tag, attrs):
        self.attrs_check(tag, attrs)
        if tag not in VOID:
            self.stack.append((tag, self.getpos()))

    def handle_startendtag(self, tag, attrs):
        self.attrs_check(tag, attrs)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack:
            self.err("</%s> closes nothing" % tag)
            return
        top, pos = self.stack.pop()
        if top != tag:
            self.err("</%s> closes <%s> of line %d" % (tag, top, pos[0]))
        if tag == "svg":
            if self.svg == "chart":
                self.charts.append(self.points)
            elif self.svg == "spark":
                self.sparks += 1
            self.points = None
        if self.in_cm and tag == "td":
            self.row.append(self.cell)
            self.cell = None
        if self.in_cm and tag == "tr" and self.row:
            self.cm_rows.append(self.row)
        if tag == "table":
            self.in_cm = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def check_html(text, epochs=None, layers=False, mistakes=None, eval_text=None):
    if not text.startswith("<!DOCTYPE html>"):
        raise Fail("no <!DOCTYPE html> first")
    p = Page()
    p.feed(text)
    p.close()
    if p.stack:
        p.err("left open: " + ", ".join("<%s> of line %d" % (t, pos[0]) for t, pos in p.stack))
    if p.errors:
        raise Fail("; ".join(p.errors[:5]))
    for want in ["network", "curves"] + (["layers"] if layers else []) + (["classes"] if eval_text else []) + (
            ["mistakes"] if mistakes else []):
        if want not in p.ids:
            raise Fail("no section id=%s" % want)
    for a in p.images:
        src = a.get("src", "")
        if not src.startswith("data:image/png;base64,"):
            raise Fail("an image that is not a PNG data URI")
        try:
            data = base64.b64decode(src[len("data:image/png;base64,"):], validate=True)
        except ValueError as e:
            raise Fail("bad base64: %s" % e)
        w, h, _, _ = png_pixels(data)
        if (str(w), str(h)) != (a.get("width"), a.get("height")):
            raise Fail("a %d x %d PNG shown as %s x %s" % (w, h, a.get("width"), a.get("height")))
    if len(p.charts) < 3:
        raise Fail("%d charts (loss, accuracy, learning rate at least)" % len(p.charts))
    if epochs is not None:
        for i, lines in enumerate(p.charts):
            if not lines or any(n != epochs for n in lines):
                raise Fail("chart %d has lines of %s points for %d epochs" % (i, lines, epochs))
    if layers and p.sparks == 0:
        raise Fail("no layer statistics plots")
    if mistakes is not None and p.figures != mistakes:
        raise Fail("%d misclassified images shown, %d expected" % (p.figures, mistakes))
    if mistakes and len(p.images) != 2 * mistakes:
        raise Fail("%d pictures for %d mistakes (each: the input and its Grad-CAM)" % (len(p.images), mistakes))
    if eval_text is not None:
        cm = [[int(c) for c in r] for r in p.cm_rows]
        K = len(cm)
        if K == 0 or any(len(r) != K for r in cm):
            raise Fail("the confusion matrix is not square: %s" % [len(r) for r in cm])
        ev = re.findall(r"^\s*(\d+)\s+([0-9.]+)\s+([0-9.]+)\s*$", eval_text, re.M)
        if len(ev) != K:
            raise Fail("eval printed %d classes, the report has %d" % (len(ev), K))
        m = re.search(r"\((\d+) samples\)", eval_text)
        total = sum(map(sum, cm))
        if not m or int(m.group(1)) != total:
            raise Fail("the matrix counts %d samples, eval %s" % (total, m.group(1) if m else "?"))
        for c, rec, prec in ev:
            c = int(c)
            row, col = sum(cm[c]), sum(r[c] for r in cm)
            r_rep = cm[c][c] / row if row else 0
            p_rep = cm[c][c] / col if col else 0
            # Arg-max over the same forward pass; a near-tie may fall the other way in another
            # batch order: allow one sample per class.
            if abs(r_rep - float(rec)) > 1.0 / max(row, 1) + 1e-4 or abs(p_rep - float(prec)) > 1.0 / max(col, 1) + 1e-4:
                raise Fail("class %d: recall %.4f precision %.4f in the report, eval %s %s" % (c, r_rep, p_rep, rec, prec))
    return p


def self_test(text):
    broken = {
        "a tag left open": text.replace("</pre>", "", 1),
        "a corrupt image": re.sub(r"(base64,[A-Za-z0-9+/]{40})[A-Za-z0-9+/]{8}", r"\1AAAAAAAA", text, count=1),
        "a script": text.replace("</body>", "<script>1</script></body>"),
        "an external image": text.replace("</body>", '<img src="http://example.com/x.png" width="1" height="1"></body>'),
        "a chart point missing": re.sub(r'(<polyline[^>]*points=")[0-9.]+,[0-9.]+ ', r"\1", text, count=1),
    }
    check_html(text, epochs=count_epochs(text))
    for what, t in broken.items():
        if t == text:
            raise Fail("self-test: could not make %s" % what)
        try:
            check_html(t, epochs=count_epochs(text))
        except Fail:
            continue
        raise Fail("self-test: the check passed a page with %s" % what)


def count_epochs(text):
    m = re.search(r"(\d+) epochs? logged", text)
    return int(m.group(1)) if m else None


def check_screenshot(path):
    w, h, bpp, rows = png_pixels(open(path, "rb").read())
    colours, ink = set(), 0
    for r in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = r[x:x + 3]
            colours.add(px)
            ink += px != b"\xff\xff\xff"
    total = len(rows[::2]) * len(range(0, w * bpp, bpp * 2))
    if len(colours) < 64 or ink < total * 0.05:
        raise Fail("%s looks blank: %d colours, %.1f%% not white" % (path, len(colours), 100.0 * ink / total))
    return len(colours), 100.0 * ink / total


def main(argv):
    try:
        if argv[1] == "html":
            args = argv[3:]
            opt = {"--epochs": None, "--mistakes": None, "--eval": None}
            layers = "--layers" in args
            for k in opt:
                if k in args:
                    opt[k] = args[args.index(k) + 1]
            text = open(argv[2], encoding="utf-8").read()
            p = check_html(text, epochs=int(opt["--epochs"]) if opt["--epochs"] else None, layers=layers,
                           mistakes=int(opt["--mistakes"]) if opt["--mistakes"] else None,
                           eval_text=open(opt["--eval"]).read() if opt["--eval"] else None)
            print("%s: well-formed, %d charts, %d layer plots, %d pictures, all decoded" %
                  (argv[2], len(p.charts), p.sparks, len(p.images)))
        elif argv[1] == "self-test":
            self_test(open(argv[2], encoding="utf-8").read())
            print("self-test: each broken copy was refused")
        elif argv[1] == "screenshot":
            n, ink = check_screenshot(argv[2])
            print("%s: %d colours, %.1f%% not white" % (argv[2], n, ink))
        else:
            raise Fail("unknown command %s" % argv[1])
    except (Fail, OSError, zlib.error) as e:
        print("check_report: FAIL: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
