/* safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [b, e]},
 * "__metadata__": {string: string}}, then the data, which the tensors must cover exactly:
 * no overlaps, no holes, nothing past the end. Every length and offset is checked against
 * the file before it is used; tensors are read on demand (the file stays open). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/atomic_file.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "io/file_io.h"

#define ST_MAX_HEADER (UINT64_C(100) << 20) /* as the reference implementation */

typedef struct st_dtype {
  const char *name;
  size_t size;
  dlc_dtype dtype; /* DLC_DTYPE_COUNT: libdlcuda has no such dtype */
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F32", 4, DLC_F32},  {"F16", 2, DLC_F16},  {"BF16", 2, DLC_BF16}, {"I32", 4, DLC_I32},
    {"U8", 1, DLC_U8},    {"I64", 8, DLC_I64},  {"F64", 8, DLC_DTYPE_COUNT}, {"I8", 1, DLC_DTYPE_COUNT},
    {"I16", 2, DLC_DTYPE_COUNT}, {"U16", 2, DLC_DTYPE_COUNT}, {"U32", 4, DLC_DTYPE_COUNT},
    {"U64", 8, DLC_DTYPE_COUNT}, {"BOOL", 1, DLC_DTYPE_COUNT}, {"F8_E4M3", 1, DLC_DTYPE_COUNT},
    {"F8_E5M2", 1, DLC_DTYPE_COUNT},
};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

static const st_dtype *dtype_by_name(const char *s, size_t len) {
  for (size_t i = 0; i < ST_NDTYPES; i++)
    if (strlen(st_dtypes[i].name) == len && memcmp(st_dtypes[i].name, s, len) == 0) return &st_dtypes[i];
  return NULL;
}

static const char *file_dtype_name(dlc_dtype d) {
  for (size_t i = 0; i < ST_NDTYPES; i++)
    if (st_dtypes[i].dtype == d) return st_dtypes[i].name;
  return NULL;
}

typedef struct st_entry {
  const char *name; /* in the JSON arena */
  const st_dtype *dt;
  int ndim;
  int64_t shape[DLC_MAX_DIMS];
  int64_t numel;
  uint64_t begin, end;
} st_entry;

struct dlc_safetensors {
  dlc_ctx *ctx;
  char what[512];                /* the path, or "<memory>", for messages */
  FILE *fp;                      /* a file, or ... */
  const unsigned char *mem;      /* ... the caller's bytes */
  uint64_t data_start, data_size;
  dlc_json_doc doc;
  st_entry *entries;
  int count;
  const dlc_json_node **meta;    /* the __metadata__ members */
  int nmeta;
};

/* Short, printable names for messages (a hostile name may be long or hold anything). */
static const char *printable(const char *s, char *buf, size_t len) {
  size_t o = 0;
  for (size_t i = 0; s[i] && o + 5 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
    else buf[o++] = (char)c;
    if (o + 5 >= len && s[i + 1]) {
      snprintf(buf + o, len - o, "...");
      return buf;
    }
  }
  buf[o < len ? o : len - 1] = '\0';
  return buf;
}

void dlc_safetensors_destroy(dlc_safetensors *st) {
  if (!st) return;
  if (st->fp) fclose(st->fp);
  dlc_json_free(&st->doc);
  free(st->entries);
  free(st->meta);
  free(st);
}

static int by_offset(const void *a, const void *b) {
  const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

/* A tensor's header entry: {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}. */
static dlc_status parse_entry(dlc_safetensors *st, const dlc_json_node *n, st_entry *e) {
  dlc_ctx *ctx = st->ctx;
  char nm[96];
  printable(e->name, nm, sizeof nm);
  if (n->type != DLC_JSON_OBJECT)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": its header entry is not an object", st->what, nm);
  const dlc_json_node *dt = NULL, *shape = NULL, *off = NULL;
  for (int c = n->first; c >= 0; c = st->doc.nodes[c].next) {
    const dlc_json_node *m = &st->doc.nodes[c];
    const dlc_json_node **slot = !strcmp(m->key, "dtype") ? &dt : !strcmp(m->key, "shape") ? &shape
                                : !strcmp(m->key, "data_offsets") ? &off : NULL;
    char k[64];
    if (!slot || m->key_len != strlen(m->key))
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": unknown field \"%s\" (dtype, shape, data_offsets)",
                      st->what, nm, printable(m->key, k, sizeof k));
    if (*slot) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": field \"%s\" twice", st->what, nm, m->key);
    *slot = m;
  }
  if (!dt || !shape || !off)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": no \"%s\" field", st->what, nm,
                    !dt ? "dtype" : !shape ? "shape" : "data_offsets");
  if (dt->type != DLC_JSON_STRING)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": dtype is not a string", st->what, nm);
  e->dt = dtype_by_name(dt->str, dt->str_len);
  if (!e->dt) {
    char d[32];
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%s\"", st->what, nm,
                    printable(dt->str, d, sizeof d));
  }
  if (shape->type != DLC_JSON_ARRAY)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": shape is not an array", st->what, nm);
  if (shape->count > DLC_MAX_DIMS)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: tensor \"%s\" has %d dimensions; libdlcuda holds at most %d", st->what,
                    nm, shape->count, DLC_MAX_DIMS);
  e->ndim = 0;
  uint64_t numel = 1;
  int overflow = 0;
  for (int c = shape->first; c >= 0; c = st->doc.nodes[c].next) {
    const dlc_json_node *d = &st->doc.nodes[c];
    if (d->type != DLC_JSON_NUMBER || !d->is_uint || d->u > (uint64_t)INT64_MAX)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": shape entry %d is not a non-negative integer",
                      st->what, nm, e->ndim);
    e->shape[e->ndim++] = (int64_t)d->u;
    if (d->u != 0 && numel > (uint64_t)INT64_MAX / d->u) overflow = 1;
    else numel *= d->u;
  }
  if (overflow || numel > UINT64_MAX / e->dt->size)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: tensor \"%s\": shape overflows", st->what, nm);
  e->numel = (int64_t)numel;
  if (off->type != DLC_JSON_ARRAY || off->count != 2)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": data_offsets is not a pair [begin, end]", st->what, nm);
  const dlc_json_node *b = &st->doc.nodes[off->first], *en = &st->doc.nodes[b->next];
  if (b->type != DLC_JSON_NUMBER || !b->is_uint || en->type != DLC_JSON_NUMBER || !en->is_uint)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": data_offsets are not non-negative integers", st->what, nm);
  e->begin = b->u;
  e->end = en->u;
  if (e->end < e->begin)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                    st->what, nm, (unsigned long long)e->begin, (unsigned long long)e->end);
  if (e->end > st->data_size)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT,
                    "%s: tensor \"%s\": data_offsets [%llu, %llu] fall outside the %llu data bytes of the file",
                    st->what, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                    (unsigned long long)st->data_size);
  uint64_t need = numel * e->dt->size;
  if (e->end - e->begin != need)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT,
                    "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes but %s of %lld elements needs %llu",
                    st->what, nm, (unsigned long long)e->begin, (unsigned long long)e->end,
                    (unsigned long long)(e->end - e->begin), e->dt->name, (long long)e->numel,
                    (unsigned long long)need);
  return DLC_OK;
}

/* The tensors, sorted by offset, must tile [0, data_size) exactly; names must differ. */
static dlc_status check_layout(dlc_safetensors *st) {
  dlc_ctx *ctx = st->ctx;
  if (st->count == 0) {
    if (st->data_size != 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: %llu data bytes but no tensors", st->what,
                      (unsigned long long)st->data_size);
    return DLC_OK;
  }
  st_entry **order = malloc(sizeof *order * (size_t)st->count);
  if (!order) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: header index", st->what);
  for (int i = 0; i < st->count; i++) order[i] = &st->entries[i];
  dlc_status s = DLC_OK;
  char a[96], b[96];
  qsort(order, (size_t)st->count, sizeof *order, by_name);
  for (int i = 1; i < st->count && s == DLC_OK; i++)
    if (strcmp(order[i - 1]->name, order[i]->name) == 0)
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\" appears twice", st->what, printable(order[i]->name, a, sizeof a));
  qsort(order, (size_t)st->count, sizeof *order, by_offset);
  uint64_t at = 0;
  for (int i = 0; i < st->count && s == DLC_OK; i++) {
    const st_entry *e = order[i];
    if (e->begin < at)
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" overlap (bytes [%llu, %llu) and [%llu, %llu))",
                   st->what, printable(order[i - 1]->name, a, sizeof a), printable(e->name, b, sizeof b),
                   (unsigned long long)order[i - 1]->begin, (unsigned long long)order[i - 1]->end,
                   (unsigned long long)e->begin, (unsigned long long)e->end);
    else if (e->begin > at)
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: %llu bytes before tensor \"%s\" belong to no tensor (a hole at %llu)",
                   st->what, (unsigned long long)(e->begin - at), printable(e->name, a, sizeof a), (unsigned long long)at);
    at = e->end;
  }
  if (s == DLC_OK && at != st->data_size)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: %llu bytes after the last tensor belong to no tensor", st->what,
                 (unsigned long long)(st->data_size - at));
  free(order);
  return s;
}

static dlc_status parse_header(dlc_safetensors *st, const char *h, size_t len) {
  dlc_ctx *ctx = st->ctx;
  if (len == 0 || h[0] != '{')
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the header does not start with '{' (not a safetensors file?)", st->what);
  if (!dlc_utf8_valid(h, len)) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the header is not valid UTF-8", st->what);
  int r = dlc_json_parse(h, len, &st->doc);
  if (r == -2) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: parsing the header", st->what);
  if (r != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: bad JSON in the header at byte %zu of %zu: %s", st->what,
                    st->doc.error_pos, len, st->doc.error);
  const dlc_json_node *root = &st->doc.nodes[0];
  if (root->type != DLC_JSON_OBJECT) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the header is not a JSON object", st->what);
  st->entries = calloc((size_t)root->count + 1, sizeof *st->entries);
  if (!st->entries) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: header entries", st->what);
  const dlc_json_node *meta = NULL;
  for (int c = root->first; c >= 0; c = st->doc.nodes[c].next) {
    const dlc_json_node *m = &st->doc.nodes[c];
    char nm[96];
    if (m->key_len != strlen(m->key))
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: a tensor name holds a NUL character (\"%s...\")", st->what,
                      printable(m->key, nm, sizeof nm));
    if (strcmp(m->key, "__metadata__") == 0) {
      if (meta) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: two __metadata__ entries", st->what);
      meta = m;
      continue;
    }
    st_entry *e = &st->entries[st->count++];
    e->name = m->key;
    DLC_TRY(parse_entry(st, m, e));
  }
  if (meta) {
    if (meta->type != DLC_JSON_OBJECT)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: __metadata__ is not an object of strings", st->what);
    st->meta = calloc((size_t)meta->count + 1, sizeof *st->meta);
    if (!st->meta) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: metadata", st->what);
    for (int c = meta->first; c >= 0; c = st->doc.nodes[c].next) {
      const dlc_json_node *m = &st->doc.nodes[c];
      char k[64];
      if (m->type != DLC_JSON_STRING)
        return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: __metadata__ \"%s\" is not a string", st->what,
                        printable(m->key, k, sizeof k));
      st->meta[st->nmeta++] = m;
    }
  }
  return check_layout(st);
}

/* The 8-byte length, the header, the data size; the header text is in h. */
static dlc_status split(dlc_safetensors *st, const unsigned char *pre, uint64_t total, uint64_t *hlen) {
  if (total < 8)
    return DLC_FAIL(st->ctx, DLC_ERR_FORMAT, "%s: %llu bytes, shorter than the 8-byte header length", st->what,
                    (unsigned long long)total);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | pre[i];
  if (n > total - 8)
    return DLC_FAIL(st->ctx, DLC_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%llu bytes)",
                    st->what, (unsigned long long)n, (unsigned long long)total);
  if (n > ST_MAX_HEADER)
    return DLC_FAIL(st->ctx, DLC_ERR_FORMAT, "%s: header length %llu exceeds the %llu-byte limit", st->what,
                    (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
  *hlen = n;
  st->data_start = 8 + n;
  st->data_size = total - 8 - n;
  return DLC_OK;
}

static dlc_status new_file(dlc_ctx *ctx, const char *what, dlc_safetensors **out) {
  dlc_safetensors *st = calloc(1, sizeof *st);
  if (!st) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s", what);
  st->ctx = ctx;
  snprintf(st->what, sizeof st->what, "%s", what);
  *out = st;
  return DLC_OK;
}

dlc_status dlc_safetensors_parse(dlc_ctx *ctx, const void *bytes, size_t len, dlc_safetensors **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  if (!bytes && len) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "safetensors bytes are NULL");
  dlc_safetensors *st = NULL;
  DLC_TRY(new_file(ctx, "<memory>", &st));
  st->mem = bytes;
  uint64_t hlen;
  dlc_status s = split(st, bytes, len, &hlen);
  if (s == DLC_OK) s = parse_header(st, (const char *)st->mem + 8, (size_t)hlen);
  if (s != DLC_OK) {
    dlc_safetensors_destroy(st);
    return s;
  }
  *out = st;
  return DLC_OK;
}

dlc_status dlc_safetensors_open(dlc_ctx *ctx, const char *path, dlc_safetensors **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  dlc_safetensors *st = NULL;
  DLC_TRY(new_file(ctx, path, &st));
  dlc_status s = DLC_OK;
  char *header = NULL;
  off_t size = -1;
  s = dlc_fopen_input(ctx, path, "safetensors file", "rb", &st->fp);
  if (s != DLC_OK) {
  } else if (fseeko(st->fp, 0, SEEK_END) != 0 || (size = ftello(st->fp)) < 0 || fseeko(st->fp, 0, SEEK_SET) != 0)
    s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: cannot seek (not a regular file?)", path);
  unsigned char pre[8] = {0};
  if (s == DLC_OK && size >= 8 && fread(pre, 1, 8, st->fp) != 8) s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: read failed", path);
  uint64_t hlen = 0;
  if (s == DLC_OK) s = split(st, pre, (uint64_t)size, &hlen);
  if (s == DLC_OK && !(header = malloc((size_t)hlen + 1)))
    s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: header of %llu bytes", path, (unsigned long long)hlen);
  if (s == DLC_OK && fread(header, 1, (size_t)hlen, st->fp) != hlen)
    s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: cannot read the %llu-byte header", path, (unsigned long long)hlen);
  if (s == DLC_OK) s = parse_header(st, header, (size_t)hlen);
  free(header); /* the document keeps its own decoded strings */
  if (s != DLC_OK) {
    dlc_safetensors_destroy(st);
    return s;
  }
  *out = st;
  return DLC_OK;
}

int dlc_safetensors_count(const dlc_safetensors *st) { return st ? st->count : 0; }

int dlc_safetensors_find(const dlc_safetensors *st, const char *name) {
  for (int i = 0; st && name && i < st->count; i++)
    if (strcmp(st->entries[i].name, name) == 0) return i;
  return -1;
}

dlc_status dlc_safetensors_info(const dlc_safetensors *st, int k, dlc_safetensors_tensor_info *info) {
  if (!st) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(st->ctx, info);
  if (k < 0 || k >= st->count)
    return DLC_FAIL(st->ctx, DLC_ERR_INVALID_ARG, "%s: tensor %d of %d", st->what, k, st->count);
  const st_entry *e = &st->entries[k];
  memset(info, 0, sizeof *info);
  info->name = e->name;
  info->dtype_name = e->dt->name;
  info->dtype = e->dt->dtype;
  info->ndim = e->ndim;
  memcpy(info->shape, e->shape, sizeof(int64_t) * (size_t)e->ndim);
  info->numel = e->numel;
  info->nbytes = e->end - e->begin;
  return DLC_OK;
}

int dlc_safetensors_metadata_count(const dlc_safetensors *st) { return st ? st->nmeta : 0; }

dlc_status dlc_safetensors_metadata_at(const dlc_safetensors *st, int i, const char **key, const char **value) {
  if (!st) return DLC_ERR_INVALID_ARG;
  if (i < 0 || i >= st->nmeta)
    return DLC_FAIL(st->ctx, DLC_ERR_INVALID_ARG, "%s: metadata entry %d of %d", st->what, i, st->nmeta);
  if (key) *key = st->meta[i]->key;
  if (value) *value = st->meta[i]->str;
  return DLC_OK;
}

const char *dlc_safetensors_metadata(const dlc_safetensors *st, const char *key) {
  for (int i = 0; st && key && i < st->nmeta; i++)
    if (strcmp(st->meta[i]->key, key) == 0) return st->meta[i]->str;
  return NULL;
}

/* Copies tensor k's bytes into host memory (nbytes of them). */
static dlc_status read_bytes(dlc_safetensors *st, const st_entry *e, void *host) {
  size_t n = (size_t)(e->end - e->begin);
  if (n == 0) return DLC_OK;
  if (st->mem) {
    memcpy(host, st->mem + st->data_start + e->begin, n);
    return DLC_OK;
  }
  char nm[96];
  if (fseeko(st->fp, (off_t)(st->data_start + e->begin), SEEK_SET) != 0 || fread(host, 1, n, st->fp) != n)
    return DLC_FAIL(st->ctx, DLC_ERR_IO, "%s: tensor \"%s\": cannot read its %zu bytes (file changed or truncated?)",
                    st->what, printable(e->name, nm, sizeof nm), n);
  return DLC_OK;
}

static const char *shape_text(int ndim, const int64_t *s, char *buf, size_t len) {
  dlc_tensor t;
  memset(&t, 0, sizeof t);
  t.ndim = ndim;
  memcpy(t.shape, s, sizeof(int64_t) * (size_t)ndim);
  return dlc_shape_str(&t, buf, len);
}

dlc_status dlc_safetensors_read(dlc_safetensors *st, int k, dlc_tensor *dst) {
  if (!st) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = st->ctx;
  DLC_CHECK_NULL(ctx, dst);
  if (k < 0 || k >= st->count) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor %d of %d", st->what, k, st->count);
  const st_entry *e = &st->entries[k];
  char nm[96], a[96], b[96];
  printable(e->name, nm, sizeof nm);
  if (!dst->data) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor \"%s\": the destination has no data", st->what, nm);
  if (e->dt->dtype != dst->dtype) {
    const char *want = file_dtype_name(dst->dtype);
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\" is %s in the file but %s (%s) is wanted", st->what, nm,
                    e->dt->name, want ? want : "?", dlc_dtype_name(dst->dtype));
  }
  int same = e->ndim == dst->ndim;
  for (int i = 0; same && i < e->ndim; i++) same = e->shape[i] == dst->shape[i];
  if (!same)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: tensor \"%s\" is %s in the file but %s is wanted", st->what, nm,
                    shape_text(e->ndim, e->shape, a, sizeof a), dlc_shape_str(dst, b, sizeof b));
  if (dst->device.kind == DLC_DEVICE_CPU) return read_bytes(st, e, dst->data);
  void *host;
  DLC_TRY(dlc_host_alloc(ctx, &host, dst->nbytes));
  dlc_status s = read_bytes(st, e, host);
  if (s == DLC_OK) s = dlc_tensor_upload(ctx, dst, host, dst->nbytes);
  dlc_host_free(host);
  return s;
}

dlc_status dlc_safetensors_load(dlc_safetensors *st, int k, dlc_tensor *out) {
  if (!st) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = st->ctx;
  DLC_CHECK_NULL(ctx, out);
  memset(out, 0, sizeof *out);
  if (k < 0 || k >= st->count) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor %d of %d", st->what, k, st->count);
  const st_entry *e = &st->entries[k];
  char nm[96];
  printable(e->name, nm, sizeof nm);
  if (e->dt->dtype == DLC_DTYPE_COUNT)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: tensor \"%s\" is %s, which libdlcuda does not hold", st->what, nm,
                    e->dt->name);
  if (e->numel == 0)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: tensor \"%s\" is empty (a zero dimension)", st->what, nm);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor t;
  DLC_TRY(dlc_tensor_alloc(ctx, &t, e->dt->dtype, e->ndim, e->shape, cpu));
  dlc_status s = dlc_safetensors_read(st, k, &t);
  if (s != DLC_OK) {
    dlc_tensor_free(ctx, &t);
    return s;
  }
  *out = t;
  return DLC_OK;
}

/* ---------------------------------------------------------------- writing */

static void sb_u64(dlc_sbuf *b, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
  dlc_sb_put(b, tmp, (size_t)n);
}

static dlc_status check_text(dlc_ctx *ctx, const char *path, const char *what, const char *s) {
  if (!s) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: a %s is NULL", path, what);
  if (!dlc_utf8_valid(s, strlen(s))) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: a %s is not valid UTF-8", path, what);
  return DLC_OK;
}

dlc_status dlc_safetensors_save(dlc_ctx *ctx, const char *path, const dlc_named_tensor *tensors, int n,
                                const char *const *metadata, int nmeta) {
  return dlc_safetensors_save_ex(ctx, path, tensors, n, metadata, nmeta, 0);
}

#define CRC_KEY "data_crc32"

dlc_status dlc_safetensors_verify(dlc_safetensors *st, int *present) {
  if (present) *present = 0;
  if (!st) return DLC_ERR_INVALID_ARG;
  const char *want = dlc_safetensors_metadata(st, CRC_KEY);
  if (!want) return DLC_OK;
  if (present) *present = 1;
  uLong crc = crc32(0L, Z_NULL, 0);
  if (st->mem) {
    crc = crc32_z(crc, st->mem + st->data_start, (size_t)st->data_size);
  } else {
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf) return DLC_FAIL(st->ctx, DLC_ERR_OUT_OF_MEMORY, "%s: checking its checksum", st->what);
    uint64_t left = st->data_size;
    int ok = fseeko(st->fp, (off_t)st->data_start, SEEK_SET) == 0;
    while (ok && left > 0) {
      size_t n = left < CHUNK ? (size_t)left : CHUNK;
      ok = fread(buf, 1, n, st->fp) == n;
      if (ok) crc = crc32_z(crc, buf, n);
      left -= ok ? n : 0;
    }
    free(buf);
    if (!ok) return DLC_FAIL(st->ctx, DLC_ERR_IO, "%s: cannot read its data to check the checksum (truncated?)", st->what);
  }
  char got[16];
  snprintf(got, sizeof got, "%08lx", (unsigned long)crc);
  if (strcmp(got, want) != 0)
    return DLC_FAIL(st->ctx, DLC_ERR_FORMAT,
                    "%s: the data does not match the header's checksum (data_crc32 %.16s, the data's is %s): the file is "
                    "corrupt or was changed; it is not used",
                    st->what, want, got);
  return DLC_OK;
}

dlc_status dlc_safetensors_save_ex(dlc_ctx *ctx, const char *path, const dlc_named_tensor *tensors, int n,
                                   const char *const *metadata, int nmeta, int checksum) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  if (n < 0 || nmeta < 0 || (n > 0 && !tensors) || (nmeta > 0 && !metadata))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: %d tensors, %d metadata pairs", path, n, nmeta);
  for (int i = 0; i < nmeta; i++) {
    DLC_TRY(check_text(ctx, path, "metadata key", metadata[2 * i]));
    DLC_TRY(check_text(ctx, path, "metadata value", metadata[2 * i + 1]));
    for (int j = 0; j < i; j++)
      if (strcmp(metadata[2 * j], metadata[2 * i]) == 0)
        return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: metadata key \"%s\" twice", path, metadata[2 * i]);
    if (checksum && strcmp(metadata[2 * i], CRC_KEY) == 0)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: metadata key \"%s\" is the checksum's", path, CRC_KEY);
  }
  char nm[96];
  for (int i = 0; i < n; i++) {
    const dlc_named_tensor *t = &tensors[i];
    DLC_TRY(check_text(ctx, path, "tensor name", t->name));
    printable(t->name, nm, sizeof nm);
    if (!t->name[0] || strcmp(t->name, "__metadata__") == 0)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: \"%s\" cannot name a tensor", path, nm);
    if (!t->tensor || !t->tensor->data)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor \"%s\" has no data", path, nm);
    if (!file_dtype_name(t->tensor->dtype))
      return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: tensor \"%s\": dtype %d has no safetensors name", path, nm,
                      (int)t->tensor->dtype);
    for (int j = 0; j < i; j++)
      if (strcmp(tensors[j].name, t->name) == 0)
        return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: tensor \"%s\" given twice", path, nm);
  }
  /* Widest elements first, so every tensor starts aligned to its element size (the data
   * starts on an 8-byte boundary and tensors are packed without holes). Stable. */
  int *order = malloc(sizeof *order * (size_t)(n + 1));
  if (!order) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: tensor order", path);
  int m = 0;
  for (size_t size = 8; size >= 1; size /= 2)
    for (int i = 0; i < n; i++)
      if (dlc_dtype_size(tensors[i].tensor->dtype) == size) order[m++] = i;
  dlc_sbuf h = {0};
  dlc_sb_put(&h, "{", 1);
  size_t crc_at = 0; /* where the checksum's 8 digits lie in the header */
  if (nmeta > 0 || checksum) {
    dlc_sb_put(&h, "\"__metadata__\":{", 16);
    for (int i = 0; i < nmeta; i++) {
      if (i) dlc_sb_put(&h, ",", 1);
      dlc_sb_json_string(&h, metadata[2 * i]);
      dlc_sb_put(&h, ":", 1);
      dlc_sb_json_string(&h, metadata[2 * i + 1]);
    }
    if (checksum) {
      if (nmeta) dlc_sb_put(&h, ",", 1);
      dlc_sb_put(&h, "\"" CRC_KEY "\":\"", strlen(CRC_KEY) + 4);
      crc_at = h.len;
      dlc_sb_put(&h, "00000000\"", 9);
    }
    dlc_sb_put(&h, "}", 1);
  }
  uint64_t at = 0;
  for (int j = 0; j < m; j++) {
    const dlc_named_tensor *t = &tensors[order[j]];
    if (j || nmeta > 0) dlc_sb_put(&h, ",", 1);
    dlc_sb_json_string(&h, t->name);
    dlc_sb_put(&h, ":{\"dtype\":\"", 11);
    const char *dn = file_dtype_name(t->tensor->dtype);
    dlc_sb_put(&h, dn, strlen(dn));
    dlc_sb_put(&h, "\",\"shape\":[", 11);
    for (int d = 0; d < t->tensor->ndim; d++) {
      if (d) dlc_sb_put(&h, ",", 1);
      sb_u64(&h, (uint64_t)t->tensor->shape[d]);
    }
    dlc_sb_put(&h, "],\"data_offsets\":[", 18);
    sb_u64(&h, at);
    dlc_sb_put(&h, ",", 1);
    sb_u64(&h, at + t->tensor->nbytes);
    dlc_sb_put(&h, "]}", 2);
    at += t->tensor->nbytes;
  }
  dlc_sb_put(&h, "}", 1);
  while (!h.oom && h.len % 8 != 0) dlc_sb_put(&h, " ", 1); /* the data starts 8-aligned */
  dlc_status s = h.oom ? DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: header", path) : DLC_OK;
  dlc_atomic_file f;
  int opened = 0;
  if (s == DLC_OK && (s = dlc_atomic_open(ctx, &f, path)) == DLC_OK) opened = 1;
  unsigned char pre[8];
  for (int i = 0; i < 8; i++) pre[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
  if (s == DLC_OK) s = dlc_atomic_write(&f, pre, 8);
  if (s == DLC_OK) s = dlc_atomic_write(&f, h.p, h.len);
  void *host = NULL;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (int j = 0; j < m && s == DLC_OK; j++) {
    const dlc_tensor *t = tensors[order[j]].tensor;
    if (t->device.kind == DLC_DEVICE_CPU) {
      s = dlc_atomic_write(&f, t->data, t->nbytes);
      if (checksum) crc = crc32_z(crc, t->data, t->nbytes);
      continue;
    }
    if ((s = dlc_host_alloc(ctx, &host, t->nbytes)) != DLC_OK) break;
    s = dlc_tensor_download(ctx, t, host, t->nbytes);
    if (s == DLC_OK) s = dlc_atomic_write(&f, host, t->nbytes);
    if (checksum) crc = crc32_z(crc, host, t->nbytes);
    dlc_host_free(host);
    host = NULL;
  }
  if (s == DLC_OK && checksum) {
    char digits[9];
    snprintf(digits, sizeof digits, "%08lx", (unsigned long)crc);
    s = dlc_atomic_patch(&f, 8 + crc_at, digits, 8);
  }
  if (opened) {
    if (s == DLC_OK) s = dlc_atomic_commit(&f);
    else dlc_atomic_abort(&f);
  }
  free(h.p);
  free(order);
  return s;
}
