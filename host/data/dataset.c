/* Data sets: IDX (plain or gzipped), CIFAR-10 binary batches, CSV. Every header field and
 * byte count is checked before it is used; errors name the file and the problem. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <math.h>
#include <zlib.h>

#include <unistd.h>

#include "../../kernels/philox.h"
#include "io/file_io.h"
#include "core/internal.h"

void dlc_dataset_free(dlc_dataset *ds) {
  if (!ds) return;
  free(ds->pixels);
  free(ds->features);
  free(ds->labels);
  free(ds->targets);
  memset(ds, 0, sizeof *ds);
}

/* Reads exactly n bytes or fails with a message naming what was short. */
static dlc_status gz_read_all(dlc_ctx *ctx, gzFile f, const char *path, void *buf, size_t n,
                              const char *what) {
  size_t done = 0;
  while (done < n) {
    unsigned chunk = n - done > (1u << 30) ? (1u << 30) : (unsigned)(n - done);
    int got = gzread(f, (char *)buf + done, chunk);
    if (got < 0) {
      int zerr;
      const char *m = gzerror(f, &zerr);
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: reading %s: %s", path, what, m);
    }
    if (got == 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: truncated: %s needs %zu bytes, the file has %zu",
                      path, what, n, done);
    done += (size_t)got;
  }
  return DLC_OK;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens an IDX file and reads its header: unsigned-byte data of `ndim` dimensions (0: any
 * of 1 to 4, as *nd says), each from 1 to 2^28. The one header reader of both IDX loaders. */
static dlc_status idx_open(dlc_ctx *ctx, const char *path, int ndim, int *nd, int64_t dims[4], gzFile *out) {
  *out = NULL;
  gzFile f;
  DLC_TRY(dlc_gzopen_input(ctx, path, "IDX file", &f));
  unsigned char head[20] = {0};
  dlc_status s = gz_read_all(ctx, f, path, head, 4, "the IDX magic");
  int n = head[3];
  int ok = head[0] == 0 && head[1] == 0 && head[2] == 0x08 && (ndim ? n == ndim : n >= 1 && n <= 4);
  if (s == DLC_OK && !ok && ndim)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT,
                 "%s: wrong IDX magic %02x%02x%02x%02x (expected 000008%02x: unsigned bytes, %d dimension%s)",
                 path, head[0], head[1], head[2], head[3], ndim, ndim, ndim > 1 ? "s" : "");
  else if (s == DLC_OK && !ok)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: IDX magic %02x%02x%02x%02x is not 000008nn (unsigned bytes, 1 to 4 dimensions)",
                 path, head[0], head[1], head[2], head[3]);
  if (s == DLC_OK) s = gz_read_all(ctx, f, path, head + 4, 4 * (size_t)n, "the IDX dimensions");
  for (int i = 0; s == DLC_OK && i < n; i++) {
    dims[i] = be32(head + 4 + 4 * i);
    if (dims[i] == 0 || dims[i] > (1 << 28))
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: IDX dimension %d is %lld", path, i, (long long)dims[i]);
  }
  if (s != DLC_OK) {
    gzclose(f);
    return s;
  }
  *nd = n;
  *out = f;
  return DLC_OK;
}

/* Before anything is allocated: the payload the header announces (dims, checked for
 * overflow) must be what the file holds. A plain file's size says so exactly. A gzipped
 * file's last trailer gives the uncompressed size modulo 2^32 of its last member only (a
 * file may hold several members, as `cat a.gz b.gz` makes): when it differs, the
 * announced size must at least fit deflate's largest ratio (1032:1) to the compressed
 * size, and the read itself finds a short or long stream. So a damaged header is refused
 * without allocating what it claims. */
static dlc_status idx_check_size(dlc_ctx *ctx, const char *path, int ndim, const int64_t *dims,
                                 int64_t *payload) {
  dlc_status sn = dlc_shape_numel(ctx, ndim, dims, 1, payload);
  if (sn != DLC_OK) return dlc_error_prefix(ctx, sn, path);
  uint64_t want = (uint64_t)(4 + 4 * ndim) + (uint64_t)*payload;
  FILE *f;
  DLC_TRY(dlc_fopen_input(ctx, path, "IDX file", "rb", &f));
  unsigned char m[2] = {0, 0}, t[4] = {0, 0, 0, 0};
  int gz = fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  int have_trailer = gz && size >= 18 && fseek(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4;
  fclose(f);
  if (size < 0) return DLC_FAIL(ctx, DLC_ERR_IO, "%s: cannot find its size", path);
  uint64_t have = gz ? ((uint64_t)t[0] | (uint64_t)t[1] << 8 | (uint64_t)t[2] << 16 | (uint64_t)t[3] << 24)
                     : (uint64_t)size;
  if (gz && !have_trailer) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: truncated gzip stream", path);
  /* The trailer says the size mod 2^32 only, so a claim past 4 GiB could match it; deflate
   * expands at most 1032:1, so a larger claim than that cannot be in the file. */
  if (gz && want / 1032 > (uint64_t)size + 1024)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT,
                    "%s: the header describes %llu bytes, more than a gzip file of %ld bytes can hold (deflate expands "
                    "at most 1032:1)",
                    path, (unsigned long long)want, size);
  if (gz && have != (want & 0xffffffffu)) return DLC_OK; /* several gzip members: the read checks the length */
  if (!gz && have != want)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the header describes %llu bytes but the file holds %s%llu (%s)",
                    path, (unsigned long long)want, gz ? "(uncompressed, mod 2^32) " : "",
                    (unsigned long long)have, have < want ? "truncated" : "trailing bytes");
  return DLC_OK;
}

/* After the payload the file must end: trailing bytes mean a wrong header. */
static dlc_status expect_eof(dlc_ctx *ctx, gzFile f, const char *path) {
  char c;
  if (gzread(f, &c, 1) != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: trailing bytes after the data the header describes", path);
  return DLC_OK;
}

static dlc_status count_classes(dlc_ctx *ctx, dlc_dataset *ds) {
  int32_t mx = -1;
  for (int64_t i = 0; i < ds->count; i++) {
    if (ds->labels[i] < 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: label %d at sample %lld is negative", ds->source,
                      ds->labels[i], (long long)i);
    if (ds->labels[i] > mx) mx = ds->labels[i];
  }
  ds->num_classes = mx + 1;
  return DLC_OK;
}

/* A data set whose samples hold `have` values where the model takes `want` (0: any) is
 * refused as soon as its header says so, before its body is read. */
static dlc_status check_expected(dlc_ctx *ctx, const char *path, int64_t c, int64_t h, int64_t w, int64_t want) {
  if (want <= 0 || c * h * w == want) return DLC_OK;
  return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: samples are %lldx%lldx%lld (%lld values) but the model's input takes %lld values",
                  path, (long long)c, (long long)h, (long long)w, (long long)(c * h * w), (long long)want);
}

static dlc_status load_idx(dlc_ctx *ctx, const char *images, const char *labels, int64_t expect, dlc_dataset *out);

dlc_status dlc_dataset_load_idx(dlc_ctx *ctx, const char *images, const char *labels,
                                dlc_dataset *out) {
  return load_idx(ctx, images, labels, 0, out);
}

static dlc_status load_idx(dlc_ctx *ctx, const char *images, const char *labels, int64_t expect, dlc_dataset *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, images);
  DLC_CHECK_NULL(ctx, labels);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  snprintf(out->source, sizeof out->source, "%s", images);
  int64_t di[4], dl[4], px_i = 0, n_l = 0;
  int nd;
  gzFile fi = NULL, fl = NULL;
  dlc_status s = idx_open(ctx, images, 3, &nd, di, &fi);
  if (s == DLC_OK) s = idx_open(ctx, labels, 1, &nd, dl, &fl);
  if (s == DLC_OK) s = check_expected(ctx, images, 1, di[1], di[2], expect);
  if (s == DLC_OK && di[0] != dl[0])
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s has %lld images but %s has %lld labels", images, (long long)di[0], labels,
                 (long long)dl[0]);
  if (s == DLC_OK) s = idx_check_size(ctx, images, 3, di, &px_i);
  if (s == DLC_OK) s = idx_check_size(ctx, labels, 1, dl, &n_l);
  if (s == DLC_OK) {
    out->count = di[0];
    out->channels = 1;
    out->height = (int)di[1];
    out->width = (int)di[2];
    size_t px = (size_t)px_i;
    out->pixels = malloc(px);
    out->labels = malloc(sizeof(int32_t) * (size_t)di[0]);
    uint8_t *lab = malloc((size_t)di[0]);
    if (!out->pixels || !out->labels || !lab)
      s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: %zu bytes for the images", images, px);
    if (s == DLC_OK) s = gz_read_all(ctx, fi, images, out->pixels, px, "the pixels");
    if (s == DLC_OK) s = expect_eof(ctx, fi, images);
    if (s == DLC_OK) s = gz_read_all(ctx, fl, labels, lab, (size_t)di[0], "the labels");
    if (s == DLC_OK) s = expect_eof(ctx, fl, labels);
    for (int64_t i = 0; s == DLC_OK && i < di[0]; i++) out->labels[i] = lab[i];
    free(lab);
  }
  if (fi) gzclose(fi);
  if (fl) gzclose(fl);
  if (s == DLC_OK) s = count_classes(ctx, out);
  if (s != DLC_OK) dlc_dataset_free(out);
  return s;
}

dlc_status dlc_idx_load(dlc_ctx *ctx, const char *path, dlc_tensor *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  gzFile f;
  int ndim;
  int64_t shape[4];
  DLC_TRY(idx_open(ctx, path, 0, &ndim, shape, &f));
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  int64_t payload;
  dlc_status s = idx_check_size(ctx, path, ndim, shape, &payload);
  if (s == DLC_OK && (s = dlc_tensor_alloc(ctx, out, DLC_U8, ndim, shape, cpu)) != DLC_OK)
    s = dlc_error_prefix(ctx, s, path);
  if (s == DLC_OK) s = gz_read_all(ctx, f, path, out->data, out->nbytes, "the data");
  if (s == DLC_OK) s = expect_eof(ctx, f, path);
  gzclose(f);
  if (s != DLC_OK) dlc_tensor_free(ctx, out);
  return s;
}

#define CIFAR_RECORD 3073

static dlc_status load_csv(dlc_ctx *ctx, const char *path, const int *want_cols, int nwant, int regression,
                           int64_t expect, dlc_dataset *out);

dlc_status dlc_dataset_load_cifar10(dlc_ctx *ctx, const char *const *files, int nfiles,
                                    dlc_dataset *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, files);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  if (nfiles <= 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "CIFAR-10: no files given");
  snprintf(out->source, sizeof out->source, "%s", files[0]);
  int64_t total = 0;
  for (int k = 0; k < nfiles; k++) {
    struct stat st;
    int fd;
    DLC_TRY(dlc_open_input(ctx, files[k], "CIFAR-10 batch file", &fd));
    int bad = fstat(fd, &st) != 0;
    close(fd);
    if (bad) return DLC_FAIL(ctx, DLC_ERR_IO, "%s: %s", files[k], strerror(errno));
    if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT,
                      "%s: %lld bytes is not a whole number of CIFAR-10 records of %d bytes (truncated?)",
                      files[k], (long long)st.st_size, CIFAR_RECORD);
    total += st.st_size / CIFAR_RECORD;
  }
  out->count = total;
  out->channels = 3;
  out->height = out->width = 32;
  out->pixels = malloc((size_t)total * 3072);
  out->labels = malloc(sizeof(int32_t) * (size_t)total);
  unsigned char *rec = malloc(CIFAR_RECORD);
  dlc_status s = DLC_OK;
  if (!out->pixels || !out->labels || !rec)
    s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "CIFAR-10: %lld images", (long long)total);
  int64_t at = 0;
  for (int k = 0; s == DLC_OK && k < nfiles; k++) {
    FILE *f;
    if ((s = dlc_fopen_input(ctx, files[k], "CIFAR-10 batch file", "rb", &f)) != DLC_OK) break;
    while (s == DLC_OK && fread(rec, 1, CIFAR_RECORD, f) == CIFAR_RECORD) {
      if (rec[0] > 9)
        s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: record %lld has label %d, outside CIFAR-10's 0..9",
                     files[k], (long long)at, rec[0]);
      out->labels[at] = rec[0];
      memcpy(out->pixels + at * 3072, rec + 1, 3072);
      at++;
    }
    fclose(f);
  }
  free(rec);
  if (s == DLC_OK && at != total) s = DLC_FAIL(ctx, DLC_ERR_IO, "CIFAR-10: read %lld of %lld records", (long long)at, (long long)total);
  if (s == DLC_OK) s = count_classes(ctx, out);
  if (s != DLC_OK) dlc_dataset_free(out);
  return s;
}

/* Splits a CSV line in place; returns the field count (at most max). */
static int split_csv(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    fields[n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  char *nl = strpbrk(fields[n - 1], "\r\n");
  if (nl) *nl = '\0';
  return n;
}

static int parse_float(const char *s, float *v) {
  char *end;
  errno = 0;
  *v = strtof(s, &end);
  while (*end == ' ' || *end == '\t') end++;
  return end != s && *end == '\0' && errno == 0;
}

dlc_status dlc_dataset_load_csv(dlc_ctx *ctx, const char *path, int label_column, dlc_dataset *out) {
  return load_csv(ctx, path, &label_column, 1, 0, 0, out);
}

dlc_status dlc_dataset_load_csv_targets(dlc_ctx *ctx, const char *path, const int *columns, int ncolumns,
                                        dlc_dataset *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, columns);
  return load_csv(ctx, path, columns, ncolumns, 1, 0, out);
}

static dlc_status load_csv(dlc_ctx *ctx, const char *path, const int *want_cols, int nwant, int regression,
                           int64_t expect, dlc_dataset *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  snprintf(out->source, sizeof out->source, "%s", path);
  if (nwant < 1 || nwant > DLC_MAX_TARGETS || (!regression && nwant != 1))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %d %s columns (%s)", path, nwant, regression ? "target" : "label",
                    regression ? "1 to 64" : "exactly 1");
  FILE *f;
  DLC_TRY(dlc_fopen_input(ctx, path, "CSV file", "r", &f));
  enum { MAXF = 65536 };
  size_t cap_line = 1 << 16;
  char *line = malloc(cap_line);
  char **fields = malloc(sizeof(char *) * MAXF);
  int *role = NULL; /* per column: -1 feature, else the target's (or label's) index */
  int64_t cap = 1024, n = 0, lineno = 0;
  int ncols = -1, K = nwant;
  dlc_status s = DLC_OK;
  float *feat = NULL, *targ = NULL;
  int32_t *labels = NULL;
  if (!line || !fields) s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: reading", path);
  while (s == DLC_OK && fgets(line, (int)cap_line, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == cap_line - 1 && line[len - 1] != '\n') {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: line longer than %zu bytes", path, (long long)lineno, cap_line - 2);
      break;
    }
    if (strspn(line, " \t\r\n") == len) continue; /* blank */
    int nf = split_csv(line, fields, MAXF);
    if (ncols < 0) {
      ncols = nf;
      if (ncols < K + 1) {
        s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: %d columns: a CSV needs at least one feature and %d %s column%s", path,
                     (long long)lineno, ncols, K, regression ? "target" : "label", K > 1 ? "s" : "");
        break;
      }
      if (!(role = malloc(sizeof(int) * (size_t)ncols))) { s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s", path); break; }
      for (int c = 0; c < ncols; c++) role[c] = -1;
      for (int j = 0; j < K && s == DLC_OK; j++) {
        int c = want_cols[j] < 0 ? ncols + want_cols[j] : want_cols[j];
        if (c < 0 || c >= ncols)
          s = DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %s column %d does not exist (%d columns)", path,
                       regression ? "target" : "label", want_cols[j], ncols);
        else if (role[c] >= 0)
          s = DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: column %d is named twice as a %s column", path, c,
                       regression ? "target" : "label");
        else
          role[c] = j;
      }
      if (s != DLC_OK) break;
      if ((s = check_expected(ctx, path, 1, 1, ncols - K, expect)) != DLC_OK) break;
      int first_feature = 0;
      while (role[first_feature] >= 0) first_feature++;
      float v;
      if (!parse_float(fields[first_feature], &v)) continue; /* a header line */
    }
    if (nf != ncols) {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: %d fields, the first row had %d", path, (long long)lineno, nf, ncols);
      break;
    }
    if (n == cap || !feat) {
      if (feat) cap *= 2;
      float *nfp = realloc(feat, sizeof(float) * (size_t)cap * (size_t)(ncols - K));
      if (nfp) feat = nfp;
      void *ny = regression ? realloc(targ, sizeof(float) * (size_t)cap * (size_t)K)
                            : realloc(labels, sizeof(int32_t) * (size_t)cap);
      if (ny && regression) targ = ny;
      else if (ny) labels = ny;
      if (!nfp || !ny) { s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: %lld rows", path, (long long)n); break; }
    }
    int j = 0;
    for (int c = 0; c < ncols && s == DLC_OK; c++) {
      float v;
      if (!parse_float(fields[c], &v) || !isfinite(v)) {
        s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: column %d is \"%.40s\", not a finite number", path, (long long)lineno, c + 1, fields[c]);
        break;
      }
      if (role[c] >= 0 && regression) {
        targ[n * K + role[c]] = v;
      } else if (role[c] >= 0) {
        if (v >= 2147483648.f) /* (int32_t)v would be undefined */
          s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: label \"%.40s\" is past 2^31 - 1, the largest label", path,
                       (long long)lineno, fields[c]);
        else if (v < 0 || v != (float)(int32_t)v)
          s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%lld: label \"%.40s\" is not a non-negative integer (for regression "
                       "targets, end the model with [mse] and name them in [net] targets = ...)", path, (long long)lineno, fields[c]);
        else
          labels[n] = (int32_t)v;
      } else {
        feat[n * (ncols - K) + j++] = v;
      }
    }
    n++;
  }
  fclose(f);
  free(line);
  free(fields);
  free(role);
  if (s == DLC_OK && n == 0) s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: no data rows", path);
  out->features = feat;
  out->labels = labels;
  out->targets = targ;
  out->num_targets = regression ? K : 0;
  out->count = n;
  out->channels = out->height = 1;
  out->width = ncols - K;
  if (s == DLC_OK && !regression) s = count_classes(ctx, out);
  if (s != DLC_OK) dlc_dataset_free(out);
  return s;
}

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

dlc_status dlc_dataset_open(dlc_ctx *ctx, const char *path, int train, dlc_dataset *out) {
  if (!train) {
    if (path && dlc_path_ends_with(path, ".csv"))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: a CSV file has no separate test split", path);
  }
  return dlc_dataset_open_spec(ctx, path, train, NULL, out);
}

dlc_status dlc_dataset_open_spec(dlc_ctx *ctx, const char *path, int train, const dlc_data_spec *spec,
                                 dlc_dataset *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  dlc_data_spec none;
  memset(&none, 0, sizeof none);
  if (!spec) spec = &none;
  int64_t sample_values = spec->sample_values;
  int last = -1;
  const int *cols = spec->num_columns > 0 ? spec->columns : &last;
  int ncols = spec->num_columns > 0 ? spec->num_columns : 1;
  if (dlc_path_ends_with(path, ".csv"))
    return load_csv(ctx, path, cols, ncols, spec->regression, sample_values, out);
  if (spec->regression)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "%s: a regression model ([mse]) needs float targets: give it a .csv file and name the target columns "
                    "in [net] targets = ...", path);
  struct stat pst;
  if (stat(path, &pst) != 0) return DLC_FAIL(ctx, DLC_ERR_IO, "data set %s: %s", path, strerror(errno));
  if (!S_ISDIR(pst.st_mode))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "data set %s is not a folder or a .csv file (a folder of IDX or CIFAR-10 files, or a .csv file)", path);
  char a[1024], b[1024];
  const char *split = train ? "train" : "t10k";
  for (int gz = 1; gz >= 0; gz--) {
    snprintf(a, sizeof a, "%s/%s-images-idx3-ubyte%s", path, split, gz ? ".gz" : "");
    snprintf(b, sizeof b, "%s/%s-labels-idx1-ubyte%s", path, split, gz ? ".gz" : "");
    if (exists(a)) return load_idx(ctx, a, b, sample_values, out);
  }
  snprintf(a, sizeof a, "%s/%s", path, train ? "data_batch_1.bin" : "test_batch.bin");
  if (exists(a)) {
    char names[5][1024];
    const char *files[5];
    int n = train ? 5 : 1;
    for (int k = 0; k < n; k++) {
      if (train) snprintf(names[k], sizeof names[k], "%s/data_batch_%d.bin", path, k + 1);
      else snprintf(names[k], sizeof names[k], "%s/test_batch.bin", path);
      files[k] = names[k];
    }
    DLC_TRY(check_expected(ctx, path, 3, 32, 32, sample_values));
    return dlc_dataset_load_cifar10(ctx, files, n, out);
  }
  return DLC_FAIL(ctx, DLC_ERR_IO,
                  "%s: no data set found (expected IDX files %s-images-idx3-ubyte[.gz], CIFAR-10 %s, or a .csv file)",
                  path, split, train ? "data_batch_1.bin" : "test_batch.bin");
}

dlc_status dlc_dataset_class_counts(const dlc_dataset *ds, int64_t *counts, int64_t nclasses) {
  if (!ds || !counts || nclasses < 0) return DLC_ERR_INVALID_ARG;
  memset(counts, 0, sizeof(int64_t) * (size_t)nclasses);
  if (!ds->labels) return DLC_OK;
  for (int64_t i = 0; i < ds->count; i++)
    if (ds->labels[i] >= 0 && ds->labels[i] < nclasses) counts[ds->labels[i]]++;
  return DLC_OK;
}

typedef struct keyed {
  uint64_t key;
  int64_t index;
} keyed;

static int by_key(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

dlc_status dlc_dataset_subsample(dlc_ctx *ctx, dlc_dataset *ds, const float *keep, int64_t nclasses, uint64_t seed) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, ds);
  DLC_CHECK_NULL(ctx, keep);
  if (!ds->labels) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: subsampling by class needs class labels", ds->source);
  for (int64_t c = 0; c < nclasses; c++)
    if (!(keep[c] >= 0.f && keep[c] <= 1.f))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "subsample: class %lld keeps %g, not a fraction in [0, 1]", (long long)c, keep[c]);
  int64_t n = ds->count;
  keyed *k = malloc(sizeof *k * (size_t)n);
  uint8_t *kept = malloc((size_t)n);
  int64_t *count = calloc((size_t)(nclasses > 0 ? nclasses : 1), sizeof *count);
  if (!k || !kept || !count) {
    free(k);
    free(kept);
    free(count);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: subsampling", ds->source);
  }
  /* Within each class, the samples with the smallest random keys are kept: a seeded
   * choice of round(keep * count) of them, independent of the file's order. */
  for (int64_t i = 0; i < n; i++) {
    uint32_t r[4];
    dlc_philox_block((uint64_t)i, seed ^ 0x5ab5a3b1e5ull, r);
    int32_t y = ds->labels[i];
    k[i].key = (uint64_t)(y >= 0 && y < nclasses ? (uint32_t)y : 0xffffffffu) << 32 | r[0];
    k[i].index = i;
    if (y >= 0 && y < nclasses) count[y]++;
  }
  qsort(k, (size_t)n, sizeof *k, by_key);
  int64_t at = 0, left = 0;
  while (at < n) {
    uint32_t cls = (uint32_t)(k[at].key >> 32);
    int64_t end = at;
    while (end < n && (uint32_t)(k[end].key >> 32) == cls) end++;
    int64_t take = end - at;
    if (cls != 0xffffffffu) take = (int64_t)llround((double)keep[cls] * (double)(end - at));
    for (int64_t j = at; j < end; j++) kept[k[j].index] = j - at < take;
    at = end;
  }
  int64_t per = (int64_t)ds->channels * ds->height * ds->width;
  for (int64_t i = 0; i < n; i++) {
    if (!kept[i]) continue;
    if (left != i) {
      if (ds->pixels) memmove(ds->pixels + left * per, ds->pixels + i * per, (size_t)per);
      if (ds->features) memmove(ds->features + left * per, ds->features + i * per, sizeof(float) * (size_t)per);
      ds->labels[left] = ds->labels[i];
    }
    left++;
  }
  free(k);
  free(kept);
  free(count);
  if (left == 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: subsampling kept no sample", ds->source);
  ds->count = left;
  return DLC_OK;
}
