/* The training report: one self-contained HTML page (dlcuda.h, dlc_report_write). Its
 * parts, in the page's order:
 *  - the run's history, read back from its log (dlc_fit's CSV or JSON lines, also one
 *    continued by --resume) into a table of figures per epoch, drawn as inline SVG charts:
 *    loss, accuracy (regression: mae), learning rate, and each layer's statistics;
 *  - one pass over the test set (dlc_net_predict, in evaluation mode): the confusion
 *    matrix (arg-max against the label, as dlc_net_evaluate_confusion counts), precision,
 *    recall and F1 per class (dlc_class_metrics), and the most confident mistakes;
 *  - those mistakes' Grad-CAM of the predicted class (dlc_net_gradcam), as PNG data URIs.
 * Nothing on the page is fetched or run: it reads the same with scripts off and offline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/atomic_file.h"
#include "io/file_io.h"
#include "io/json.h"
#include "io/png.h"
#include "nn/net_internal.h"

dlc_report_options dlc_report_options_default(void) {
  dlc_report_options o;
  memset(&o, 0, sizeof o);
  o.misclassified = 32;
  o.gradcam_layer = -1;
  return o;
}

/* ---------------------------------------------------------------- the run's history */

/* Figures by epoch: columns by name (the log's: "train_loss", ..., "LAYER.mean"), rows in
 * the log's order; a figure a row lacks is NaN. */
typedef struct history {
  int ncol, nrow, capcol, caprow;
  char **col;
  double **row; /* row[r] has len[r] values */
  int *len;
} history;

#define MAX_COLUMNS 10000
#define MAX_ROWS 100000

static void history_free(history *h) {
  for (int c = 0; c < h->ncol; c++) free(h->col[c]);
  for (int r = 0; r < h->nrow; r++) free(h->row[r]);
  free(h->col);
  free(h->row);
  free(h->len);
  memset(h, 0, sizeof *h);
}

static int find_column(const history *h, const char *name) {
  for (int c = 0; c < h->ncol; c++)
    if (!strcmp(h->col[c], name)) return c;
  return -1;
}

/* The column's index, added when new; -1 when memory or the column limit ran out. */
static int column(history *h, const char *name) {
  int c = find_column(h, name);
  if (c >= 0) return c;
  if (h->ncol == MAX_COLUMNS) return -1;
  if (h->ncol == h->capcol) {
    int cap = h->capcol ? h->capcol * 2 : 32;
    char **p = realloc(h->col, sizeof *p * (size_t)cap);
    if (!p) return -1;
    h->col = p;
    h->capcol = cap;
  }
  if (!(h->col[h->ncol] = strdup(name))) return -1;
  return h->ncol++;
}

static int add_row(history *h) {
  if (h->nrow == MAX_ROWS) return -1;
  if (h->nrow == h->caprow) {
    int cap = h->caprow ? h->caprow * 2 : 64;
    double **p = realloc(h->row, sizeof *p * (size_t)cap);
    if (!p) return -1;
    h->row = p;
    int *l = realloc(h->len, sizeof *l * (size_t)cap);
    if (!l) return -1;
    h->len = l;
    h->caprow = cap;
  }
  h->row[h->nrow] = NULL;
  h->len[h->nrow] = 0;
  return h->nrow++;
}

static int set_value(history *h, int r, int c, double v) {
  if (c >= h->len[r]) {
    int n = h->ncol > c ? h->ncol : c + 1;
    double *p = realloc(h->row[r], sizeof *p * (size_t)n);
    if (!p) return -1;
    for (int i = h->len[r]; i < n; i++) p[i] = NAN;
    h->row[r] = p;
    h->len[r] = n;
  }
  h->row[r][c] = v;
  return 0;
}

static double value(const history *h, int r, int c) { return c >= 0 && c < h->len[r] ? h->row[r][c] : NAN; }

/* One CSV line's fields (RFC 4180 quoting) into f (pointers into line, which is rewritten
 * in place); returns their count, -1 for a bad quote, -2 past max. */
static int csv_fields(char *line, char **f, int max) {
  int n = 0;
  char *r = line, *w = line;
  for (;;) {
    if (n == max) return -2;
    f[n++] = w;
    if (*r == '"') {
      r++;
      for (;;) {
        if (!*r) return -1;
        if (*r == '"' && r[1] == '"') *w++ = '"', r += 2;
        else if (*r == '"') break;
        else *w++ = *r++;
      }
      r++;
      if (*r && *r != ',') return -1;
    } else {
      while (*r && *r != ',') *w++ = *r++;
    }
    int more = *r == ',';
    *w++ = '\0';
    if (!more) return n;
    r++;
  }
}

static dlc_status oom(dlc_ctx *ctx, const char *path, int64_t line) {
  return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s:%lld: out of memory, or more than %d columns or %d lines", path,
                  (long long)line, MAX_COLUMNS, MAX_ROWS);
}

static dlc_status csv_line(dlc_ctx *ctx, const char *path, int64_t ln, char *line, history *h, char **f) {
  int n = csv_fields(line, f, MAX_COLUMNS + 1);
  if (n < 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: %s", path, (long long)ln,
                    n == -1 ? "a badly quoted field" : "too many fields");
  if (ln == 1) {
    for (int i = 0; i < n; i++) {
      if (find_column(h, f[i]) >= 0)
        return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:1: the column %s twice", path, f[i]);
      if (column(h, f[i]) < 0) return oom(ctx, path, ln);
    }
    return DLC_OK;
  }
  if (n != h->ncol)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: %d fields, the header has %d", path, (long long)ln, n, h->ncol);
  int r = add_row(h);
  if (r < 0) return oom(ctx, path, ln);
  for (int i = 0; i < n; i++) {
    char *end;
    double v = f[i][0] ? strtod(f[i], &end) : NAN;
    if (f[i][0] && (*end || end == f[i]))
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: %s = \"%.40s\" is not a number", path, (long long)ln, h->col[i],
                      f[i]);
    if (set_value(h, r, i, v)) return oom(ctx, path, ln);
  }
  return DLC_OK;
}

/* A JSON number's value: the parser keeps its place in the text. */
static double json_number(const char *text, const dlc_json_node *n) {
  if (n->type == DLC_JSON_NULL) return NAN;
  return strtod(text + n->pos, NULL);
}

static dlc_status jsonl_line(dlc_ctx *ctx, const char *path, int64_t ln, const char *line, size_t len, history *h) {
  dlc_json_doc doc;
  int rc = dlc_json_parse(line, len, &doc);
  dlc_status s = DLC_OK;
  const dlc_json_node *root = rc == 0 ? dlc_json_at(&doc, 0) : NULL;
  if (rc == -2) s = oom(ctx, path, ln);
  else if (rc != 0)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: column %zu: %s", path, (long long)ln, doc.error_pos + 1, doc.error);
  else if (root->type != DLC_JSON_OBJECT)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: not a JSON object", path, (long long)ln);
  int r = s == DLC_OK ? add_row(h) : -1;
  if (s == DLC_OK && r < 0) s = oom(ctx, path, ln);
  for (const dlc_json_node *m = s == DLC_OK ? dlc_json_at(&doc, root->first) : NULL; m && s == DLC_OK;
       m = dlc_json_at(&doc, m->next)) {
    if (m->type == DLC_JSON_NUMBER || m->type == DLC_JSON_NULL) {
      int c = strlen(m->key) == m->key_len && !strchr(m->key, '.') ? column(h, m->key) : -2;
      if (c == -2) continue; /* not a name of ours */
      if (c < 0 || set_value(h, r, c, json_number(line, m))) s = oom(ctx, path, ln);
    } else if (m->type == DLC_JSON_ARRAY && !strcmp(m->key, "layers")) {
      for (const dlc_json_node *l = dlc_json_at(&doc, m->first); l && s == DLC_OK; l = dlc_json_at(&doc, l->next)) {
        const dlc_json_node *name = l->type == DLC_JSON_OBJECT ? dlc_json_member(&doc, l, "name") : NULL;
        if (!name || name->type != DLC_JSON_STRING || strlen(name->str) != name->str_len || name->str_len > 200) {
          s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: a layer without a name", path, (long long)ln);
          break;
        }
        for (const dlc_json_node *f = dlc_json_at(&doc, l->first); f && s == DLC_OK; f = dlc_json_at(&doc, f->next)) {
          if (f->type != DLC_JSON_NUMBER && f->type != DLC_JSON_NULL) continue;
          char key[300];
          snprintf(key, sizeof key, "%s.%.64s", name->str, f->key);
          int c = column(h, key);
          if (c < 0 || set_value(h, r, c, json_number(line, f))) s = oom(ctx, path, ln);
        }
      }
    }
  }
  dlc_json_free(&doc);
  return s;
}

static dlc_status read_history(dlc_ctx *ctx, const char *path, history *h) {
  FILE *f;
  DLC_TRY(dlc_fopen_input(ctx, path, "log", "r", &f));
  int jsonl = dlc_path_ends_with(path, ".jsonl");
  char *line = NULL, **fields = jsonl ? NULL : malloc(sizeof(char *) * (MAX_COLUMNS + 1));
  size_t cap = 0;
  ssize_t n;
  int64_t ln = 0;
  dlc_status s = jsonl || fields ? DLC_OK : oom(ctx, path, 0);
  while (s == DLC_OK && (n = getline(&line, &cap, f)) >= 0) {
    ln++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if ((size_t)n != strlen(line)) s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: a NUL byte", path, (long long)ln);
    else if (n == 0 && (jsonl || ln > 1)) continue;
    else s = jsonl ? jsonl_line(ctx, path, ln, line, (size_t)n, h) : csv_line(ctx, path, ln, line, h, fields);
  }
  if (s == DLC_OK && ferror(f)) s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: reading failed", path);
  if (s == DLC_OK && find_column(h, "epoch") < 0)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: no epoch %s: not a dlcuda training log", path,
                 jsonl ? "member" : "column");
  free(line);
  free(fields);
  fclose(f);
  return s;
}

/* The rows in epoch order, one per epoch (a later line for the same epoch wins); *n of them. */
static int *epoch_order(const history *h, int *n) {
  int ce = find_column(h, "epoch");
  int *o = malloc(sizeof(int) * (size_t)(h->nrow ? h->nrow : 1));
  *n = 0;
  if (!o) return NULL;
  for (int r = 0; r < h->nrow; r++) {
    double e = value(h, r, ce);
    if (!isfinite(e)) continue;
    int k = *n;
    while (k > 0 && value(h, o[k - 1], ce) > e) k--;
    if (k > 0 && value(h, o[k - 1], ce) == e) o[k - 1] = r;
    else {
      memmove(o + k + 1, o + k, sizeof(int) * (size_t)(*n - k));
      o[k] = r;
      (*n)++;
    }
  }
  return o;
}

/* ---------------------------------------------------------------- HTML and SVG */

static void html(dlc_sbuf *b, const char *s) {
  for (; *s; s++) {
    const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;"
                    : *s == '\'' ? "&#39;" : NULL;
    if (e) dlc_sb_put(b, e, strlen(e));
    else dlc_sb_put(b, s, 1);
  }
}

static void base64(dlc_sbuf *b, const unsigned char *p, size_t n) {
  static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {d[v >> 18 & 63], d[v >> 12 & 63], i + 1 < n ? d[v >> 6 & 63] : '=', i + 2 < n ? d[v & 63] : '='};
    dlc_sb_put(b, q, 4);
  }
}

/* A tick step of 1, 2 or 5 times a power of ten giving about `target` ticks over span. */
static double nice_step(double span, int target) {
  double raw = span / target, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

typedef struct series {
  const char *name, *colour;
  int dashed;
  const double *x, *y;
  int n;
} series;

/* A line chart of the series (NaN values left out) in a w x h box; small: a sparkline with
 * its range and last value, for the layer statistics. */
static void chart(dlc_sbuf *b, const char *title, const series *s, int ns, int w, int h, int small) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int k = 0; k < ns; k++)
    for (int i = 0; i < s[k].n; i++)
      if (isfinite(s[k].x[i]) && isfinite(s[k].y[i])) {
        x0 = fmin(x0, s[k].x[i]), x1 = fmax(x1, s[k].x[i]);
        y0 = fmin(y0, s[k].y[i]), y1 = fmax(y1, s[k].y[i]);
      }
  dlc_sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" width=\"%d\" height=\"%d\" "
                   "viewBox=\"0 0 %d %d\" role=\"img\"><title>", small ? "spark" : "chart", w, h, w, h);
  html(b, title);
  dlc_sb_printf(b, "</title>");
  if (!(x1 >= x0) || !isfinite(x1 - x0) || !isfinite(y1 - y0)) { /* nothing (finite) to draw */
    dlc_sb_printf(b, "<text x=\"%d\" y=\"%d\" class=\"none\" text-anchor=\"middle\">no data</text></svg>", w / 2, h / 2);
    return;
  }
  const double lo = y0, hi = y1; /* the data's range, before padding */
  if (x1 - x0 < 1e-9 * fmax(1, fabs(x0))) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 <= 1e-9 * fmax(fabs(y0), fabs(y1))) { /* flat (to float precision): a band around it */
    double pad = y0 != 0 ? fabs(y0) * 0.05 : 1;
    y0 -= pad, y1 += pad;
  }
  double ys = nice_step(y1 - y0, small ? 2 : 5), xs = fmax(1, ceil(nice_step(x1 - x0, 6)));
  if (!small) y0 = floor(y0 / ys) * ys, y1 = ceil(y1 / ys) * ys;
  int left = small ? 4 : 56, right = small ? 52 : 12, top = small ? 4 : 42, bottom = small ? 4 : 30;
  double pw = w - left - right, ph = h - top - bottom;
#define PX(v) (left + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (top + (1 - ((v) - y0) / (y1 - y0)) * ph)
  if (!small) {
    dlc_sb_printf(b, "<text x=\"%d\" y=\"16\" class=\"ct\">", left);
    html(b, title);
    dlc_sb_printf(b, "</text>");
    for (int i = 0; i <= 40 && y0 + i * ys <= y1 + ys * 1e-9; i++) {
      double v = y0 + i * ys;
      dlc_sb_printf(b, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.4g</text>",
                    left, left + pw, PY(v), PY(v), left - 6, PY(v) + 4, fabs(v) < ys * 1e-9 ? 0.0 : v);
    }
    for (int i = 0; i <= 40 && ceil(x0 / xs) * xs + i * xs <= x1 + 1e-9; i++)
      dlc_sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%.0f</text>",
                    PX(ceil(x0 / xs) * xs + i * xs), h - 14, ceil(x0 / xs) * xs + i * xs);
    dlc_sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">epoch</text>", left + pw / 2,
                  h - 1);
    dlc_sb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>", left, top, pw, ph);
  } else {
    dlc_sb_printf(b, "<text x=\"%d\" y=\"11\" class=\"tick\">%.3g</text><text x=\"%d\" y=\"%d\" class=\"tick\">%.3g"
                     "</text>", w - right + 4, hi, w - right + 4, h - 3, lo);
  }
  for (int k = 0; k < ns; k++) {
    dlc_sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"", s[k].colour,
                  small ? "1.5" : "2", s[k].dashed ? " stroke-dasharray=\"5 3\"" : "");
    for (int i = 0; i < s[k].n; i++)
      if (isfinite(s[k].x[i]) && isfinite(s[k].y[i])) dlc_sb_printf(b, "%.1f,%.1f ", PX(s[k].x[i]), PY(s[k].y[i]));
    dlc_sb_printf(b, "\"/>");
    for (int i = 0; i < s[k].n && !small; i++)
      if (isfinite(s[k].x[i]) && isfinite(s[k].y[i])) {
        dlc_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", PX(s[k].x[i]), PY(s[k].y[i]),
                      s[k].colour);
        html(b, s[k].name);
        dlc_sb_printf(b, ", epoch %.0f: %.6g</title></circle>", s[k].x[i], s[k].y[i]);
      }
    if (!small) { /* the legend: one row above the plot */
      int lx = left + 150 * k;
      dlc_sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"30\" y2=\"30\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                       "<text x=\"%d\" y=\"34\" class=\"tick\">", lx, lx + 20, s[k].colour,
                    s[k].dashed ? " stroke-dasharray=\"5 3\"" : "", lx + 25);
      html(b, s[k].name);
      dlc_sb_printf(b, "</text>");
    }
  }
  if (small) {
    double last = NAN;
    for (int i = 0; i < s[0].n; i++)
      if (isfinite(s[0].y[i])) last = s[0].y[i];
    dlc_sb_printf(b, "<text x=\"%d\" y=\"%d\" class=\"last\">%.3g</text>", w - right + 4, h / 2 + 4, last);
  }
#undef PX
#undef PY
  dlc_sb_printf(b, "</svg>");
}

/* ---------------------------------------------------------------- the page's parts */

static const char *const style =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d2330;padding:0 16px}"
    "h1{margin:0 0 4px}h2{border-bottom:1px solid #d5d9e0;padding-bottom:4px;margin-top:32px}"
    ".sub{color:#5a6272;margin:0 0 12px}nav a{margin-right:14px}pre{background:#f4f6f9;padding:10px;overflow:auto}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}svg text{font:11px system-ui,sans-serif;fill:#3a4150}"
    "svg .ct{font-size:13px;font-weight:600}.grid{stroke:#e3e6eb}.frame{fill:none;stroke:#9aa1ad}"
    ".none{fill:#9aa1ad}.last{font-weight:600}"
    "table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 8px;text-align:right}"
    "th{background:#eef1f5}table.metrics td,table.metrics th{border-bottom:1px solid #e3e6eb}"
    "table.cm td{width:44px;height:26px;border:1px solid #fff}table.cm td.hi{color:#fff}"
    "table.stats td{text-align:left;vertical-align:middle;border-bottom:1px solid #e3e6eb}"
    ".grid-img{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0;text-align:center;font-size:12px}"
    "figure img{image-rendering:pixelated;margin:1px}.k{color:#5a6272}";

typedef struct page {
  dlc_sbuf b;
  dlc_ctx *ctx;
  int64_t K;
  char **names; /* K class names, or NULL */
} page;

static void class_name(page *p, int64_t c) {
  if (p->names) html(&p->b, p->names[c]);
  else dlc_sb_printf(&p->b, "%lld", (long long)c);
}

static void curves(page *p, const history *h, int regression) {
  dlc_sbuf *b = &p->b;
  int n;
  int *o = epoch_order(h, &n);
  double *buf = o ? malloc(sizeof(double) * (size_t)(n ? n : 1) * 9) : NULL;
  if (!buf) {
    b->oom = 1;
    free(o);
    return;
  }
  const char *names[7] = {"train_loss", "test_loss", regression ? "train_mae" : "train_accuracy",
                          regression ? "test_mae" : "test_accuracy", "test_balanced_accuracy", "lr", "test_macro_f1"};
  double *x = buf, *y[7];
  int ce = find_column(h, "epoch");
  for (int i = 0; i < n; i++) x[i] = value(h, o[i], ce);
  for (int k = 0; k < 7; k++) {
    y[k] = buf + (size_t)n * (k + 1);
    int c = find_column(h, names[k]);
    for (int i = 0; i < n; i++) y[k][i] = value(h, o[i], c);
  }
  dlc_sb_printf(b, "<section id=\"curves\"><h2>Training</h2><p class=\"k\">%d epoch%s logged.</p><div class=\"charts\">",
                n, n == 1 ? "" : "s");
  series loss[2] = {{"train", "#2166ac", 0, x, y[0], n}, {"test", "#d6604d", 1, x, y[1], n}};
  chart(b, "Loss per sample", loss, 2, 560, 300, 0);
  series acc[3] = {{"train", "#2166ac", 0, x, y[2], n}, {"test", "#d6604d", 1, x, y[3], n},
                   {"test, balanced", "#1b7837", 1, x, y[4], n}};
  chart(b, regression ? "Mean absolute error" : "Accuracy", acc, regression ? 2 : 3, 560, 300, 0);
  series lr[1] = {{"at the epoch's first step", "#762a83", 0, x, y[5], n}};
  chart(b, "Learning rate", lr, 1, 560, 300, 0);
  if (!regression) {
    series f1[1] = {{"test macro F1", "#1b7837", 0, x, y[6], n}};
    chart(b, "Macro F1 (test)", f1, 1, 560, 300, 0);
  }
  dlc_sb_printf(b, "</div>");
  /* Each layer's statistics, as the log has them: "LAYER.FIGURE" columns. */
  static const char *const figs[] = {"mean", "std", "dead", "saturated", "weight_norm", "grad_norm"};
  enum { NF = sizeof figs / sizeof *figs };
  int nl = 0;
  for (int c = 0; c < h->ncol; c++) {
    /* a layer's first column (not every layer has each figure) starts its row */
    const char *dot = strrchr(h->col[c], '.');
    int figure = 0, seen = 0;
    for (int f = 0; f < NF && dot; f++) figure |= !strcmp(dot + 1, figs[f]);
    for (int c2 = 0; c2 < c && figure && !seen; c2++) {
      const char *d2 = strrchr(h->col[c2], '.');
      seen = d2 && d2 - h->col[c2] == dot - h->col[c] && !strncmp(h->col[c2], h->col[c], (size_t)(dot - h->col[c]));
    }
    if (!figure || seen) continue;
    if (nl++ == 0) {
      dlc_sb_printf(b, "<h3 id=\"layers\">Layer statistics</h3><p class=\"k\">Per epoch: the output's mean and "
                       "standard deviation; dead ReLU units (never positive in the epoch); saturated tanh/sigmoid "
                       "values; the weights' L2 norm and the mean L2 norm of their gradient. Each plot has its own "
                       "scale: its range at the right, in bold the last epoch's value.</p><table class=\"stats\">"
                       "<tr><th>layer</th>");
      for (int f = 0; f < NF; f++) dlc_sb_printf(b, "<th>%s</th>", figs[f]);
      dlc_sb_printf(b, "</tr>");
    }
    size_t len = (size_t)(dot - h->col[c]);
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(len < 400 ? len : 400), h->col[c]);
    dlc_sb_printf(b, "<tr><td>");
    html(b, name);
    dlc_sb_printf(b, "</td>");
    for (int f = 0; f < NF; f++) {
      char key[600];
      snprintf(key, sizeof key, "%s.%s", name, figs[f]);
      int cf = find_column(h, key);
      dlc_sb_printf(b, "<td>");
      if (cf >= 0) {
        double *v = buf + (size_t)n * 8;
        for (int i = 0; i < n; i++) v[i] = value(h, o[i], cf);
        series s1[1] = {{figs[f], "#2166ac", 0, x, v, n}};
        char t[700];
        snprintf(t, sizeof t, "%s %s per epoch", name, figs[f]);
        chart(b, t, s1, 1, 170, 56, 1);
      }
      dlc_sb_printf(b, "</td>");
    }
    dlc_sb_printf(b, "</tr>");
  }
  if (nl) dlc_sb_printf(b, "</table>");
  dlc_sb_printf(b, "</section>");
  free(buf);
  free(o);
}

/* A misclassified test sample. */
typedef struct wrong {
  int64_t index;
  int32_t label, pred;
  float p; /* the predicted class's probability */
} wrong;

/* The test set's inputs [first, first + n) as the network takes them, into x. */
static dlc_status inputs(page *p, const dlc_dataset *ds, const dlc_loader_options *norm, int64_t S, int64_t first,
                         int64_t n, float *x) {
  if (ds->features) {
    memcpy(x, ds->features + first * S, sizeof(float) * (size_t)(n * S));
    return DLC_OK;
  }
  return dlc_input_pixels(p->ctx, ds->pixels + first * S, n, ds->channels, (int64_t)ds->height * ds->width, norm, x);
}

/* One pass over the test set: the confusion matrix cm [K x K] and the m most confident
 * mistakes (*nw of them; ties: the earlier sample first). */
static dlc_status test_pass(page *p, dlc_net *net, const dlc_dataset *ds, const dlc_loader_options *norm, int64_t *cm,
                            wrong *w, int m, int *nw) {
  const int64_t K = p->K, S = (int64_t)ds->channels * ds->height * ds->width;
  const int64_t chunk = net->max_batch * (4096 / net->max_batch > 1 ? 4096 / net->max_batch : 1);
  float *x = malloc(sizeof(float) * (size_t)(chunk * S)), *z = malloc(sizeof(float) * (size_t)(chunk * K));
  dlc_status s = x && z ? DLC_OK : DLC_FAIL(p->ctx, DLC_ERR_OUT_OF_MEMORY, "report: %lld test inputs", (long long)chunk);
  *nw = 0;
  for (int64_t at = 0; at < ds->count && s == DLC_OK; at += chunk) {
    int64_t n = ds->count - at < chunk ? ds->count - at : chunk;
    s = inputs(p, ds, norm, S, at, n, x);
    if (s == DLC_OK) s = dlc_net_predict(net, x, n, z);
    for (int64_t i = 0; i < n && s == DLC_OK; i++) {
      const float *r = z + i * K;
      int32_t best = 0, label = ds->labels[at + i];
      for (int32_t c = 1; c < K; c++)
        if (r[c] > r[best]) best = c;
      if (label < 0 || label >= K) continue;
      cm[label * K + best]++;
      if (best == label || m == 0) continue;
      double sum = 0;
      for (int64_t c = 0; c < K; c++) sum += exp((double)r[c] - r[best]);
      float pb = (float)(1 / sum);
      int k = *nw < m ? *nw : m;
      while (k > 0 && w[k - 1].p < pb) k--;
      if (k == m) continue;
      int move = (*nw < m ? *nw : m - 1) - k;
      memmove(w + k + 1, w + k, sizeof *w * (size_t)move);
      w[k] = (wrong){at + i, label, best, pb};
      if (*nw < m) (*nw)++;
    }
  }
  free(x);
  free(z);
  return s;
}

static void metrics(page *p, const int64_t *cm, double *per) {
  dlc_sbuf *b = &p->b;
  const int64_t K = p->K;
  double *rec = per, *prec = per + K, *f1 = per + 2 * K;
  dlc_class_summary cs;
  dlc_class_metrics(cm, K, rec, prec, f1, &cs);
  int64_t total = 0;
  for (int64_t i = 0; i < K * K; i++) total += cm[i];
  dlc_sb_printf(b, "<p>%lld test samples: accuracy <b>%.4f</b>, balanced accuracy <b>%.4f</b>, macro precision "
                   "<b>%.4f</b>, macro F1 <b>%.4f</b>.</p>", (long long)total, cs.accuracy, cs.balanced_accuracy,
                cs.macro_precision, cs.macro_f1);
  dlc_sb_printf(b, "<h3>Confusion matrix</h3><p class=\"k\">Rows: the true class; columns: the predicted class. "
                   "Each cell is shaded by its share of the row (blue: right, red: wrong).</p>"
                   "<table class=\"cm\"><tr><th>true \\ predicted</th>");
  for (int64_t c = 0; c < K; c++) {
    dlc_sb_printf(b, "<th>");
    class_name(p, c);
    dlc_sb_printf(b, "</th>");
  }
  dlc_sb_printf(b, "</tr>");
  for (int64_t t = 0; t < K; t++) {
    int64_t row = 0;
    for (int64_t c = 0; c < K; c++) row += cm[t * K + c];
    dlc_sb_printf(b, "<tr><th>");
    class_name(p, t);
    dlc_sb_printf(b, "</th>");
    for (int64_t c = 0; c < K; c++) {
      double f = row ? (double)cm[t * K + c] / (double)row : 0, a = sqrt(f);
      dlc_sb_printf(b, "<td class=\"%s\" style=\"background:rgba(%s,%.3f)\" title=\"%.2f%% of the row\">%lld</td>",
                    a > 0.6 ? "hi" : "lo", t == c ? "33,102,172" : "214,96,77", a, 100 * f, (long long)cm[t * K + c]);
    }
    dlc_sb_printf(b, "</tr>");
  }
  dlc_sb_printf(b, "</table><h3>Per class</h3><table class=\"metrics\"><tr><th>class</th><th>precision</th>"
                   "<th>recall</th><th>F1</th><th>samples</th></tr>");
  for (int64_t c = 0; c < K; c++) {
    int64_t row = 0;
    for (int64_t j = 0; j < K; j++) row += cm[c * K + j];
    dlc_sb_printf(b, "<tr><td>");
    class_name(p, c);
    dlc_sb_printf(b, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td></tr>", prec[c], rec[c], f1[c],
                  (long long)row);
  }
  dlc_sb_printf(b, "<tr><th>macro average</th><th>%.4f</th><th>%.4f</th><th>%.4f</th><th>%lld</th></tr></table>",
                cs.macro_precision, cs.balanced_accuracy, cs.macro_f1, (long long)total);
}

static dlc_status png_img(page *p, const float *x, int64_t C, int64_t H, int64_t W, const float *map, int scale,
                          const char *alt) {
  void *png = NULL;
  size_t len = 0;
  DLC_TRY(dlc_png_encode_overlay(p->ctx, "report", x, 1, 1, C, H, W, map, scale, 0.5f, &png, &len));
  dlc_sb_printf(&p->b, "<img width=\"%lld\" height=\"%lld\" alt=\"%s\" src=\"data:image/png;base64,",
                (long long)(W * scale), (long long)(H * scale), alt);
  base64(&p->b, png, len);
  dlc_sb_printf(&p->b, "\">");
  free(png);
  return DLC_OK;
}

/* The mistakes as pictures: each input, and (with a conv2d layer) its Grad-CAM for the
 * predicted class laid over it. */
static dlc_status mistakes(page *p, dlc_net *net, const dlc_dataset *ds, const dlc_loader_options *norm, const wrong *w,
                           int nw, int layer) {
  dlc_sbuf *b = &p->b;
  const int64_t C = ds->channels, H = ds->height, W = ds->width, S = C * H * W;
  dlc_sb_printf(b, "<section id=\"mistakes\"><h2>Misclassified test images</h2>");
  if (nw == 0) {
    dlc_sb_printf(b, "<p>None.</p></section>");
    return DLC_OK;
  }
  int cam = net->in_ndim == 3 && (layer >= 0 || dlc_net_last_conv(net) >= 0);
  if (!ds->pixels || (C != 1 && C != 3)) {
    dlc_sb_printf(b, "<p>%d of the most confident mistakes; the inputs are not images of 1 or 3 channels, so "
                     "none is drawn.</p></section>", nw);
    return DLC_OK;
  }
  float *x = malloc(sizeof(float) * (size_t)(nw * S)), *map = malloc(sizeof(float) * (size_t)(nw * H * W));
  int32_t *cls = malloc(sizeof(int32_t) * (size_t)nw);
  dlc_status s = x && map && cls ? DLC_OK : DLC_FAIL(p->ctx, DLC_ERR_OUT_OF_MEMORY, "report: %d pictures", nw);
  for (int i = 0; i < nw && s == DLC_OK; i++) {
    s = inputs(p, ds, norm, S, w[i].index, 1, x + i * S);
    cls[i] = w[i].pred;
  }
  if (s == DLC_OK && cam) s = dlc_net_gradcam(net, x, nw, cls, layer, map);
  if (s == DLC_OK) {
    dlc_sb_printf(b, "<p class=\"k\">The %d most confident mistakes, each as it is", nw);
    if (cam) {
      dlc_sb_printf(b, " and with the Grad-CAM of the predicted class over it (layer ");
      html(b, net->layers[layer >= 0 ? layer : dlc_net_last_conv(net)].name);
      dlc_sb_printf(b, ": where the evidence for the prediction lies)");
    }
    dlc_sb_printf(b, "; under them the test-set index, the true class, the predicted class and its "
                     "probability.</p><div class=\"grid-img\">");
  }
  for (int i = 0; i < nw && s == DLC_OK; i++) {
    dlc_sb_printf(b, "<figure>");
    s = png_img(p, x + i * S, C, H, W, NULL, 3, "input");
    if (s == DLC_OK && cam) s = png_img(p, x + i * S, C, H, W, map + i * H * W, 3, "Grad-CAM");
    dlc_sb_printf(b, "<figcaption>#%lld: ", (long long)w[i].index);
    class_name(p, w[i].label);
    dlc_sb_printf(b, "<br>&rarr; ");
    class_name(p, w[i].pred);
    dlc_sb_printf(b, " (%.2f)</figcaption></figure>", w[i].p);
  }
  dlc_sb_printf(b, "</div></section>");
  free(x);
  free(map);
  free(cls);
  return s;
}

/* The class names from a comma-separated list (spaces around each trimmed): exactly K. */
static dlc_status split_names(dlc_ctx *ctx, const char *list, int64_t K, char ***out) {
  *out = NULL;
  if (!list || !list[0] || K <= 0) return DLC_OK;
  int64_t n = 1;
  for (const char *c = list; *c; c++) n += *c == ',';
  if (n != K)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "class names: %lld names (\"%.60s%s\") for the model's %lld classes",
                    (long long)n, list, strlen(list) > 60 ? "..." : "", (long long)K);
  char **v = calloc((size_t)K + 1, sizeof *v);
  char *copy = v ? strdup(list) : NULL;
  if (!copy) {
    free(v);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "class names");
  }
  v[K] = copy; /* freed with the array */
  char *s = copy;
  for (int64_t k = 0; k < K; k++) {
    char *e = strchr(s, ',');
    if (e) *e = '\0';
    while (*s == ' ' || *s == '\t') s++;
    size_t l = strlen(s);
    while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t')) s[--l] = '\0';
    v[k] = s;
    s = e ? e + 1 : s + l;
  }
  *out = v;
  return DLC_OK;
}

static void free_names(char **v, int64_t K) {
  if (v) free(v[K]);
  free(v);
}

static dlc_status write_page(page *p, dlc_net *net, const dlc_dataset *test, const dlc_loader_options *norm,
                             const dlc_report_options *o, const history *h) {
  dlc_sbuf *b = &p->b;
  const char *title = o->title ? o->title : "Training report";
  int classifier = net->loss == 1 && p->K > 0, regression = net->loss == 2;
  int have_test = classifier && test && test->labels && test->count > 0;
  dlc_sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
  html(b, title);
  dlc_sb_printf(b, "</title><style>%s</style></head><body><h1>", style);
  html(b, title);
  dlc_sb_printf(b, "</h1>");
  if (o->subtitle) {
    dlc_sb_printf(b, "<p class=\"sub\">");
    html(b, o->subtitle);
    dlc_sb_printf(b, "</p>");
  }
  dlc_sb_printf(b, "<nav><a href=\"#network\">Network</a><a href=\"#curves\">Training</a>%s%s</nav>",
                have_test ? "<a href=\"#classes\">Test set</a>" : "",
                have_test && o->misclassified > 0 ? "<a href=\"#mistakes\">Mistakes</a>" : "");
  char *summary = malloc(65536);
  if (!summary) return DLC_FAIL(p->ctx, DLC_ERR_OUT_OF_MEMORY, "report: the summary");
  dlc_status s = dlc_net_summary(net, summary, 65536);
  dlc_sb_printf(b, "<section id=\"network\"><h2>Network</h2><pre>");
  if (s == DLC_OK) html(b, summary);
  free(summary);
  DLC_TRY(s);
  dlc_sb_printf(b, "</pre></section>");
  if (h) curves(p, h, regression);
  else dlc_sb_printf(b, "<section id=\"curves\"><h2>Training</h2><p>No log was given: curves need the run's "
                        "<code>--log</code>.</p></section>");
  if (!have_test) return DLC_OK;
  int64_t K = p->K;
  int m = o->misclassified, nw = 0;
  int64_t *cm = calloc((size_t)(K * K), sizeof *cm);
  double *per = malloc(sizeof(double) * (size_t)(3 * K));
  wrong *w = malloc(sizeof *w * (size_t)(m > 0 ? m : 1));
  s = cm && per && w ? DLC_OK : DLC_FAIL(p->ctx, DLC_ERR_OUT_OF_MEMORY, "report: a %lld-class table", (long long)K);
  if (s == DLC_OK) s = test_pass(p, net, test, norm, cm, w, m, &nw);
  if (s == DLC_OK) {
    dlc_sb_printf(b, "<section id=\"classes\"><h2>Test set</h2>");
    metrics(p, cm, per);
    dlc_sb_printf(b, "</section>");
  }
  if (s == DLC_OK && m > 0) s = mistakes(p, net, test, norm, w, nw, o->gradcam_layer);
  free(cm);
  free(per);
  free(w);
  return s;
}

dlc_status dlc_report_write(dlc_net *net, const dlc_dataset *test, const dlc_loader_options *norm,
                            const dlc_report_options *o, const char *path) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, path);
  dlc_report_options def = dlc_report_options_default();
  if (!o) o = &def;
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "report: build the network first");
  if (o->misclassified < 0 || o->misclassified > 1024)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "report: %d misclassified images (0 to 1024)", o->misclassified);
  if (o->gradcam_layer < -1 || o->gradcam_layer >= net->nlayers)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "report: Grad-CAM layer %d (the network has %d)", o->gradcam_layer,
                    net->nlayers);
  if (test) {
    DLC_TRY(dlc_net_check_dataset(net, test));
    if (test->pixels) DLC_CHECK_NULL(ctx, norm);
  }
  DLC_TRY(dlc_check_output_path(ctx, path));
  page p = {{0}, ctx, 0, NULL};
  const dlc_layer *last = &net->layers[net->nlayers - 1];
  p.K = net->loss == 1 && last->ndim == 1 ? last->shape[0] : 0;
  history h;
  memset(&h, 0, sizeof h);
  dlc_status s = split_names(ctx, o->class_names, p.K, &p.names);
  if (s == DLC_OK && o->log) s = read_history(ctx, o->log, &h);
  if (s == DLC_OK) s = write_page(&p, net, test, norm, o, o->log ? &h : NULL);
  if (s == DLC_OK) {
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
    dlc_sb_printf(&p.b, "<footer><p class=\"k\">Written by libdlcuda %d.%d.%d on %s.</p></footer></body></html>\n",
                  DLC_VERSION_MAJOR, DLC_VERSION_MINOR, DLC_VERSION_PATCH, when);
    if (p.b.oom) s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "report %s: out of memory", path);
  }
  dlc_atomic_file f;
  if (s == DLC_OK) s = dlc_atomic_open(ctx, &f, path);
  if (s == DLC_OK) {
    s = dlc_atomic_write(&f, p.b.p, p.b.len);
    s = s == DLC_OK ? dlc_atomic_commit(&f) : (dlc_atomic_abort(&f), s);
  }
  free(p.b.p);
  free_names(p.names, p.K);
  history_free(&h);
  return s;
}
