/* .npy files (NumPy format 1.0 to 3.0): little-endian, C order; float32, int32, uint8, and
 * int64 (converted to int32 with a range check, for PyTorch's label tensors). Every byte
 * count is checked against the file size before it is used. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "io/file_io.h"

#define NPY_MAX_HEADER 65536

/* Finds 'key': in the header dict and returns a pointer just past the colon. */
static const char *dict_value(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static dlc_status parse_header(dlc_ctx *ctx, const char *path, const char *h, char descr[8],
                               int *ndim, int64_t shape[DLC_MAX_DIMS]) {
  const char *d = dict_value(h, "descr");
  if (!d || *d != '\'')
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy header has no 'descr' string", path);
  const char *end = strchr(d + 1, '\'');
  if (!end || end - d - 1 >= 8 || end - d - 1 < 2)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy 'descr' is malformed", path);
  memcpy(descr, d + 1, (size_t)(end - d - 1));
  descr[end - d - 1] = '\0';
  const char *f = dict_value(h, "fortran_order");
  if (!f) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy header has no 'fortran_order'", path);
  if (strncmp(f, "True", 4) == 0)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: Fortran-order .npy; save it C-ordered", path);
  if (strncmp(f, "False", 5) != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy 'fortran_order' is not True or False", path);
  const char *s = dict_value(h, "shape");
  if (!s || *s != '(') return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy header has no 'shape' tuple", path);
  s++;
  *ndim = 0;
  for (;;) {
    while (*s == ' ' || *s == ',') s++;
    if (*s == ')') break;
    if (*s < '0' || *s > '9')
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy shape has a non-integer entry", path);
    if (*ndim == DLC_MAX_DIMS)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: .npy has more than %d dimensions", path, DLC_MAX_DIMS);
    errno = 0;
    char *e;
    long long v = strtoll(s, &e, 10);
    if (errno || v <= 0)
      return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: .npy dimension %d is %s", path, *ndim,
                      errno ? "out of range" : "zero (empty arrays are not tensors)");
    shape[(*ndim)++] = v;
    s = e;
  }
  return DLC_OK;
}

dlc_status dlc_npy_load(dlc_ctx *ctx, const char *path, dlc_tensor *out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  FILE *fp;
  DLC_TRY(dlc_fopen_input(ctx, path, ".npy file", "rb", &fp));
  dlc_status st = DLC_OK;
  char *header = NULL;
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  unsigned char pre[12];
  if (fseek(fp, 0, SEEK_END) != 0) { st = DLC_FAIL(ctx, DLC_ERR_IO, "%s: cannot seek", path); goto done; }
  long fsize = ftell(fp);
  rewind(fp);
  if (fsize < 10 || fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: not a .npy file (no \\x93NUMPY magic)", path);
    goto done;
  }
  int major = pre[6];
  size_t hlen, pre_len;
  if (major == 1) {
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    pre_len = 10;
  } else if (major == 2 || major == 3) {
    if (fread(pre + 10, 1, 2, fp) != 2) {
      st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: truncated .npy preamble", path);
      goto done;
    }
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    pre_len = 12;
  } else {
    st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy format version %d is not 1, 2 or 3", path, major);
    goto done;
  }
  if (hlen > NPY_MAX_HEADER || pre_len + hlen > (size_t)fsize) {
    st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy header length %zu runs past the end of the file (%ld bytes)",
                  path, hlen, fsize);
    goto done;
  }
  header = malloc(hlen + 1);
  if (!header || fread(header, 1, hlen, fp) != hlen) {
    st = DLC_FAIL(ctx, DLC_ERR_IO, "%s: cannot read the .npy header", path);
    goto done;
  }
  header[hlen] = '\0';
  char descr[8];
  int ndim = 0;
  int64_t shape[DLC_MAX_DIMS];
  if ((st = parse_header(ctx, path, header, descr, &ndim, shape)) != DLC_OK) goto done;
  dlc_dtype dtype;
  size_t file_elem;
  if (!strcmp(descr, "<f4")) { dtype = DLC_F32; file_elem = 4; }
  else if (!strcmp(descr, "<i4")) { dtype = DLC_I32; file_elem = 4; }
  else if (!strcmp(descr, "<i8")) { dtype = DLC_I32; file_elem = 8; }
  else if (!strcmp(descr, "|u1") || !strcmp(descr, "<u1")) { dtype = DLC_U8; file_elem = 1; }
  else {
    st = DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED,
                  "%s: .npy dtype '%s' is not supported (float32 '<f4', int32 '<i4', int64 '<i8', uint8 '|u1'; little-endian)",
                  path, descr);
    goto done;
  }
  int64_t numel;
  if ((st = dlc_shape_numel(ctx, ndim, shape, file_elem, &numel)) != DLC_OK) {
    st = dlc_error_prefix(ctx, st, path);
    goto done;
  }
  uint64_t data_bytes = (uint64_t)numel * file_elem, avail = (uint64_t)fsize - pre_len - hlen;
  if (data_bytes != avail) {
    st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: .npy shape needs %llu data bytes but the file has %llu (%s)",
                  path, (unsigned long long)data_bytes, (unsigned long long)avail,
                  data_bytes > avail ? "truncated" : "trailing bytes");
    goto done;
  }
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  if ((st = dlc_tensor_alloc(ctx, &t, dtype, ndim, shape, cpu)) != DLC_OK) {
    st = dlc_error_prefix(ctx, st, path);
    goto done;
  }
  if (file_elem == 8) {
    int32_t *dst = t.data;
    for (int64_t i = 0; i < numel; i++) {
      unsigned char b[8];
      if (fread(b, 1, 8, fp) != 8) { st = DLC_FAIL(ctx, DLC_ERR_IO, "%s: read failed", path); goto done; }
      uint64_t u = 0;
      for (int k = 7; k >= 0; k--) u = u << 8 | b[k];
      int64_t v = (int64_t)u;
      if (v < INT32_MIN || v > INT32_MAX) {
        st = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: int64 element %lld = %lld does not fit int32", path,
                      (long long)i, (long long)v);
        goto done;
      }
      dst[i] = (int32_t)v;
    }
  } else if (fread(t.data, 1, t.nbytes, fp) != t.nbytes) {
    st = DLC_FAIL(ctx, DLC_ERR_IO, "%s: read failed", path);
    goto done;
  }
done:
  free(header);
  fclose(fp);
  if (st == DLC_OK)
    *out = t;
  else
    dlc_tensor_free(ctx, &t);
  return st;
}

dlc_status dlc_npy_save(dlc_ctx *ctx, const char *path, const dlc_tensor *t) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, t);
  if (!t->data) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor has no data", path);
  const char *descr = t->dtype == DLC_F32 ? "<f4" : t->dtype == DLC_I32 ? "<i4" : t->dtype == DLC_U8 ? "|u1"
                     : t->dtype == DLC_I64 ? "<i8" : NULL;
  if (!descr)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: cannot save %s as .npy", path, dlc_dtype_name(t->dtype));
  char dict[256];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < t->ndim; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)t->shape[i],
                  i + 1 < t->ndim ? " " : "");
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  /* Pad with spaces so that the data starts on a 64-byte boundary; end with '\n'. */
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)n + pad + 1;
  void *host = t->data;
  if (t->device.kind != DLC_DEVICE_CPU) {
    DLC_TRY(dlc_host_alloc(ctx, &host, t->nbytes));
    dlc_status s = dlc_tensor_download(ctx, t, host, t->nbytes);
    if (s != DLC_OK) { dlc_host_free(host); return s; }
  }
  dlc_atomic_file f;
  dlc_status st = dlc_atomic_open(ctx, &f, path);
  if (st == DLC_OK) {
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    char spaces[64];
    memset(spaces, ' ', sizeof spaces);
    st = dlc_atomic_write(&f, pre, 10);
    if (st == DLC_OK) st = dlc_atomic_write(&f, dict, (size_t)n);
    if (st == DLC_OK) st = dlc_atomic_write(&f, spaces, pad);
    if (st == DLC_OK) st = dlc_atomic_write(&f, "\n", 1);
    if (st == DLC_OK) st = dlc_atomic_write(&f, host, t->nbytes);
    if (st == DLC_OK) st = dlc_atomic_commit(&f);
    else dlc_atomic_abort(&f);
  }
  if (host != t->data) dlc_host_free(host);
  return st;
}
