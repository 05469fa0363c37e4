/* safetensors read and write: round trips of every dtype, metadata and awkward names; each
 * kind of malformed file refused with a message naming the tensor; atomic writes under an
 * injected disk-full failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "testutil.h"

static char dir[256];
static const dlc_device cpu = {DLC_DEVICE_CPU, 0};

static const char *path_of(const char *name) {
  return t_join(dir, name);
}

/* A file of the 8-byte header length, the header, then data_len bytes 0, 1, 2, ... */
static const char *write_st(const char *name, const char *header, size_t data_len) {
  const char *path = path_of(name);
  FILE *f = fopen(path, "wb");
  uint64_t n = strlen(header);
  unsigned char pre[8];
  for (int i = 0; i < 8; i++) pre[i] = (unsigned char)(n >> (8 * i));
  fwrite(pre, 1, 8, f);
  fwrite(header, 1, n, f);
  for (size_t i = 0; i < data_len; i++) fputc((int)(i & 0xff), f);
  fclose(f);
  return path;
}

static const char *write_raw(const char *name, const void *bytes, size_t n) {
  const char *path = path_of(name);
  FILE *f = fopen(path, "wb");
  fwrite(bytes, 1, n, f);
  fclose(f);
  return path;
}

/* Opening the file must fail with code and a message holding needle. */
static void refused(dlc_ctx *ctx, const char *path, dlc_status code, const char *needle) {
  dlc_safetensors *st = NULL;
  T_FAILS(ctx, code, needle, dlc_safetensors_open(ctx, path, &st));
  T_CHECK(st == NULL, "a refused file gives no handle");
  /* The in-memory parser says the same. */
  unsigned char *bytes = NULL;
  long n = t_read_file(path, &bytes);
  T_FAILS(ctx, code, needle, dlc_safetensors_parse(ctx, bytes, (size_t)n, &st));
  free(bytes);
}

static void round_trip(dlc_ctx *ctx) {
  dlc_tensor f32, i32, u8, i64, f16, bf16, s5;
  int64_t s23[2] = {2, 3}, s7 = 7, s5d[5] = {1, 2, 1, 3, 2};
  T_OK(ctx, dlc_tensor_alloc(ctx, &f32, DLC_F32, 2, s23, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &i32, DLC_I32, 1, &s7, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &u8, DLC_U8, 1, &s7, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &i64, DLC_I64, 0, NULL, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &f16, DLC_F16, 1, &s7, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &bf16, DLC_BF16, 2, s23, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &s5, DLC_F32, 5, s5d, cpu));
  t_fill_uniform(f32.data, 6, 1, -3, 3);
  t_fill_uniform(s5.data, 12, 2, -3, 3);
  for (int i = 0; i < 7; i++) {
    ((int32_t *)i32.data)[i] = -1000000 * i;
    ((uint8_t *)u8.data)[i] = (uint8_t)(250 + i);
    ((uint16_t *)f16.data)[i] = (uint16_t)(0x3c00 + i);
  }
  for (int i = 0; i < 6; i++) ((uint16_t *)bf16.data)[i] = (uint16_t)(0x3f80 + i);
  *(int64_t *)i64.data = INT64_C(-5000000000);
  /* Odd-sized tensors first: the writer must still align the int64 one. */
  dlc_named_tensor list[] = {{"u8", &u8},       {"half", &f16},          {"a \"quoted\" \\ name", &f32},
                             {"i32", &i32},     {"count", &i64},         {"bf", &bf16},
                             {"caf\xc3\xa9.\xe2\x82\xac\x01", &s5}};
  int n = (int)(sizeof list / sizeof list[0]);
  const char *meta[] = {"format", "pt", "note", "tab\there \"q\" \\ \xc3\xa9 \x02", "empty", ""};
  const char *a = path_of("a.safetensors"), *b = path_of("b.safetensors");
  T_OK(ctx, dlc_safetensors_save(ctx, a, list, n, meta, 3));
  T_OK(ctx, dlc_safetensors_save(ctx, b, list, n, meta, 3));
  T_CHECK(t_same_file(a, b), "the same tensors give the same bytes");
  T_CHECK(t_temp_files(a) == 0, "no temporary file left behind");
  dlc_safetensors *st = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, a, &st));
  if (!st) return;
  T_CHECK(dlc_safetensors_count(st) == n, "%d tensors", dlc_safetensors_count(st));
  T_CHECK(dlc_safetensors_metadata_count(st) == 3, "3 metadata entries");
  for (int i = 0; i < 3; i++) {
    const char *v = dlc_safetensors_metadata(st, meta[2 * i]);
    T_CHECK(v && strcmp(v, meta[2 * i + 1]) == 0, "metadata %s = \"%s\"", meta[2 * i], v ? v : "(null)");
  }
  T_CHECK(dlc_safetensors_metadata(st, "absent") == NULL, "absent metadata is NULL");
  for (int k = 0; k < n; k++) {
    int i = dlc_safetensors_find(st, list[k].name);
    T_CHECK(i >= 0, "tensor %s found", list[k].name);
    if (i < 0) continue;
    dlc_safetensors_tensor_info info;
    T_OK(ctx, dlc_safetensors_info(st, i, &info));
    T_CHECK(info.dtype == list[k].tensor->dtype && info.ndim == list[k].tensor->ndim &&
                info.nbytes == list[k].tensor->nbytes, "tensor %s: dtype %s, %d dims", list[k].name, info.dtype_name,
            info.ndim);
    dlc_tensor got;
    T_OK(ctx, dlc_safetensors_load(st, i, &got));
    T_CHECK(got.data && got.nbytes == list[k].tensor->nbytes && memcmp(got.data, list[k].tensor->data, got.nbytes) == 0,
            "tensor %s: the same bytes back", list[k].name);
    dlc_tensor_free(ctx, &got);
  }
  T_CHECK(dlc_safetensors_find(st, "nope") < 0, "find of an absent name is -1");
  /* The writer's layout: 8-byte dtypes first, so the scalar sits at offset 0. */
  dlc_safetensors_tensor_info info;
  T_OK(ctx, dlc_safetensors_info(st, 0, &info));
  T_CHECK(strcmp(info.name, "count") == 0 && info.ndim == 0 && strcmp(info.dtype_name, "I64") == 0,
          "first in the file: the int64 scalar (%s)", info.name);
  /* Reading into a tensor of another dtype or shape names the tensor. */
  dlc_tensor wrong;
  T_OK(ctx, dlc_tensor_alloc(ctx, &wrong, DLC_I32, 2, s23, cpu));
  int k = dlc_safetensors_find(st, "a \"quoted\" \\ name");
  T_FAILS(ctx, DLC_ERR_FORMAT, "tensor \"a \"quoted\" \\ name\" is F32 in the file", dlc_safetensors_read(st, k, &wrong));
  dlc_tensor_free(ctx, &wrong);
  int64_t s32[2] = {3, 2};
  T_OK(ctx, dlc_tensor_alloc(ctx, &wrong, DLC_F32, 2, s32, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "is [2, 3] in the file but [3, 2] is wanted", dlc_safetensors_read(st, k, &wrong));
  dlc_tensor_free(ctx, &wrong);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "tensor 99 of 7", dlc_safetensors_load(st, 99, &wrong));
  dlc_safetensors_destroy(st);

  /* The writer refuses what it cannot write faithfully. */
  dlc_named_tensor dup[] = {{"x", &f32}, {"x", &i32}};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "\"x\" given twice", dlc_safetensors_save(ctx, b, dup, 2, NULL, 0));
  dlc_named_tensor reserved[] = {{"__metadata__", &f32}};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "cannot name a tensor", dlc_safetensors_save(ctx, b, reserved, 1, NULL, 0));
  dlc_named_tensor empty[] = {{"", &f32}};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "cannot name a tensor", dlc_safetensors_save(ctx, b, empty, 1, NULL, 0));
  dlc_named_tensor bad_utf8[] = {{"\xff\xfe", &f32}};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not valid UTF-8", dlc_safetensors_save(ctx, b, bad_utf8, 1, NULL, 0));
  dlc_tensor nodata;
  memset(&nodata, 0, sizeof nodata);
  dlc_named_tensor none[] = {{"y", &nodata}};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "\"y\" has no data", dlc_safetensors_save(ctx, b, none, 1, NULL, 0));
  const char *dup_meta[] = {"k", "1", "k", "2"};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "metadata key \"k\" twice", dlc_safetensors_save(ctx, b, list, 1, dup_meta, 2));
  T_FAILS(ctx, DLC_ERR_IO, "cannot write /nonexistent-dir/w.safetensors: its folder",
          dlc_safetensors_save(ctx, "/nonexistent-dir/w.safetensors", list, 1, NULL, 0));
  T_CHECK(t_same_file(a, b), "failed saves left the earlier file alone");

  /* No tensors at all is a valid file. */
  const char *e = path_of("empty.safetensors");
  T_OK(ctx, dlc_safetensors_save(ctx, e, NULL, 0, NULL, 0));
  T_OK(ctx, dlc_safetensors_open(ctx, e, &st));
  T_CHECK(st && dlc_safetensors_count(st) == 0, "an empty file has no tensors");
  dlc_safetensors_destroy(st);

  /* A full disk mid-write, or at the fsync: an error, the old file intact, no .tmp left. */
  for (int at = 0; at < 3; at++) {
    int64_t after = at == 0 ? 0 : at == 1 ? 100 : 1 << 20;
    dlc_test_fail_writes_after(ctx, after);
    T_FAILS(ctx, DLC_ERR_IO, "No space left on device", dlc_safetensors_save(ctx, a, list, n, NULL, 0));
    T_CHECK(t_same_file(a, b), "after a failed write at byte %lld the old file is intact", (long long)after);
    T_CHECK(t_temp_files(a) == 0, "no temporary file after a failed write");
  }
  T_OK(ctx, dlc_safetensors_save(ctx, a, list, n, meta, 3)); /* the hook fired once */
  T_CHECK(t_same_file(a, b), "the hook is disarmed after it fired");
  dlc_test_fail_writes_after(ctx, 16);
  dlc_test_fail_writes_after(ctx, -1);
  T_OK(ctx, dlc_safetensors_save(ctx, a, list, n, meta, 3));
  /* .npy goes through the same writer. */
  dlc_test_fail_writes_after(ctx, 64);
  const char *npy = path_of("x.npy");
  T_FAILS(ctx, DLC_ERR_IO, "No space left", dlc_npy_save(ctx, npy, &f32));
  T_CHECK(access(npy, F_OK) != 0, "a failed .npy write leaves no file");
  T_OK(ctx, dlc_npy_save(ctx, npy, &i64)); /* int64 .npy: read back as int32 when it fits */
  dlc_tensor back;
  T_FAILS(ctx, DLC_ERR_FORMAT, "does not fit int32", dlc_npy_load(ctx, npy, &back));
  *(int64_t *)i64.data = -42;
  T_OK(ctx, dlc_npy_save(ctx, npy, &i64));
  T_OK(ctx, dlc_npy_load(ctx, npy, &back));
  T_CHECK(back.dtype == DLC_I32 && back.ndim == 0 && back.data && *(int32_t *)back.data == -42,
          "int64 .npy scalar read back");
  dlc_tensor_free(ctx, &back);

  dlc_tensor *all[] = {&f32, &i32, &u8, &i64, &f16, &bf16, &s5};
  for (int i = 0; i < 7; i++) dlc_tensor_free(ctx, all[i]);
}

static void malformed(dlc_ctx *ctx) {
  const char *T1 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  dlc_safetensors *st = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, write_st("ok.st", T1, 8), &st));
  dlc_safetensors_destroy(st);
  /* Sizes and the header length. */
  refused(ctx, write_raw("short.st", "\x08\0\0\0", 4), DLC_ERR_FORMAT, "shorter than the 8-byte header length");
  refused(ctx, write_raw("hlen.st", "\xff\x00\x00\x00\x00\x00\x00\x00{}", 10), DLC_ERR_FORMAT,
          "header length 255 runs past the end of the file (10 bytes)");
  refused(ctx, write_raw("hlen64.st", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10), DLC_ERR_FORMAT, "runs past the end");
  refused(ctx, write_raw("hlen0.st", "\0\0\0\0\0\0\0\0", 8), DLC_ERR_FORMAT, "does not start with '{'");
  refused(ctx, write_st("notjson.st", "[1, 2]", 0), DLC_ERR_FORMAT, "does not start with '{'");
  T_FAILS(ctx, DLC_ERR_IO, "No such file", dlc_safetensors_open(ctx, "/nonexistent/x.safetensors", &st));
  /* Bad JSON. */
  refused(ctx, write_st("trunc.st", "{\"w\":{\"dtype\":\"F32\",", 0), DLC_ERR_FORMAT, "bad JSON in the header at byte");
  refused(ctx, write_st("comma.st", "{\"w\":1,}", 0), DLC_ERR_FORMAT, "expected a string key");
  refused(ctx, write_st("garbage.st", "{} x", 0), DLC_ERR_FORMAT, "text after the value");
  refused(ctx, write_st("ctrl.st", "{\"a\nb\":1}", 0), DLC_ERR_FORMAT, "control character in a string");
  refused(ctx, write_st("esc.st", "{\"\\q\":1}", 0), DLC_ERR_FORMAT, "unknown escape");
  refused(ctx, write_st("surr.st", "{\"\\ud800\":1}", 0), DLC_ERR_FORMAT, "surrogate");
  refused(ctx, write_st("utf8.st", "{\"\xc3\x28\":1}", 0), DLC_ERR_FORMAT, "not valid UTF-8");
  refused(ctx, write_st("overlong.st", "{\"\xc0\xaf\":1}", 0), DLC_ERR_FORMAT, "not valid UTF-8");
  refused(ctx, write_st("number.st", "{\"w\":01}", 0), DLC_ERR_FORMAT, "expected ',' or '}'");
  char deep[400] = "{\"w\":";
  for (int i = 0; i < 100; i++) strcat(deep, "[");
  refused(ctx, write_st("deep.st", deep, 0), DLC_ERR_FORMAT, "nested too deeply");
  /* Entries. */
  refused(ctx, write_st("entry.st", "{\"w\":[1]}", 0), DLC_ERR_FORMAT, "tensor \"w\": its header entry is not an object");
  refused(ctx, write_st("nodtype.st", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), DLC_ERR_FORMAT,
          "tensor \"w\": no \"dtype\" field");
  refused(ctx, write_st("noshape.st", "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), DLC_ERR_FORMAT,
          "tensor \"w\": no \"shape\" field");
  refused(ctx, write_st("extra.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": unknown field \"x\"");
  refused(ctx, write_st("twice.st", "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
          DLC_ERR_FORMAT, "field \"dtype\" twice");
  refused(ctx, write_st("dtype.st", "{\"w\":{\"dtype\":\"Q8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
          DLC_ERR_FORMAT, "tensor \"w\": unknown dtype \"Q8\"");
  refused(ctx, write_st("dtype2.st", "{\"w\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
          DLC_ERR_FORMAT, "tensor \"w\": dtype is not a string");
  refused(ctx, write_st("neg.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": shape entry 0 is not a non-negative integer");
  refused(ctx, write_st("float.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8),
          DLC_ERR_FORMAT, "shape entry 0 is not a non-negative integer");
  refused(ctx, write_st("6d.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
          DLC_ERR_SHAPE, "tensor \"w\" has 6 dimensions");
  refused(ctx, write_st("ovf.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4),
          DLC_ERR_SHAPE, "tensor \"w\": shape overflows");
  refused(ctx, write_st("ovf2.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4),
          DLC_ERR_FORMAT, "shape entry 0 is not a non-negative integer");
  refused(ctx, write_st("pair.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": data_offsets is not a pair");
  refused(ctx, write_st("pair2.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8),
          DLC_ERR_FORMAT, "data_offsets are not non-negative integers");
  /* Offsets against the data and against each other. */
  refused(ctx, write_st("range.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4),
          DLC_ERR_FORMAT, "tensor \"w\": data_offsets [0, 8] fall outside the 4 data bytes");
  refused(ctx, write_st("range2.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[18446744073709551608,18446744073709551615]}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": data_offsets [18446744073709551608, 18446744073709551615] fall outside");
  refused(ctx, write_st("back.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": data_offsets [8, 0] end before they begin");
  refused(ctx, write_st("size.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
          DLC_ERR_FORMAT, "tensor \"w\": data_offsets [0, 8] hold 8 bytes but F32 of 3 elements needs 12");
  refused(ctx, write_st("overlap.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
          DLC_ERR_FORMAT, "tensors \"a\" and \"b\" overlap (bytes [0, 8) and [4, 12))");
  refused(ctx, write_st("same.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
          DLC_ERR_FORMAT, "overlap");
  refused(ctx, write_st("hole.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12),
          DLC_ERR_FORMAT, "4 bytes before tensor \"b\" belong to no tensor (a hole at 4)");
  refused(ctx, write_st("lead.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
          DLC_ERR_FORMAT, "before tensor \"a\" belong to no tensor");
  refused(ctx, write_st("tail.st", T1, 9), DLC_ERR_FORMAT, "1 bytes after the last tensor belong to no tensor");
  refused(ctx, write_st("nodata.st", "{}", 4), DLC_ERR_FORMAT, "4 data bytes but no tensors");
  refused(ctx, write_st("dupname.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
          DLC_ERR_FORMAT, "tensor \"a\" appears twice");
  refused(ctx, write_st("nul.st", "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
          DLC_ERR_FORMAT, "holds a NUL character");
  /* Metadata. */
  refused(ctx, write_st("meta.st", "{\"__metadata__\":{\"a\":1}}", 0), DLC_ERR_FORMAT, "__metadata__ \"a\" is not a string");
  refused(ctx, write_st("meta2.st", "{\"__metadata__\":[]}", 0), DLC_ERR_FORMAT, "__metadata__ is not an object");
  refused(ctx, write_st("meta3.st", "{\"__metadata__\":{},\"__metadata__\":{}}", 0), DLC_ERR_FORMAT,
          "two __metadata__ entries");
  /* Valid files with tensors libdlcuda cannot hold: opened, refused when read. */
  T_OK(ctx, dlc_safetensors_open(ctx, write_st("f64.st", "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                                                "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]}}  ", 8), &st));
  if (st) {
    dlc_tensor t;
    T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "tensor \"d\" is F64", dlc_safetensors_load(st, 0, &t));
    T_FAILS(ctx, DLC_ERR_SHAPE, "tensor \"z\" is empty", dlc_safetensors_load(st, 1, &t));
    dlc_safetensors_destroy(st);
  }
  /* A file truncated after it was opened: a read error, not garbage. */
  const char *big = "{\"w\":{\"dtype\":\"F32\",\"shape\":[65536],\"data_offsets\":[0,262144]}}";
  const char *trunc = write_st("later.st", big, 262144);
  T_OK(ctx, dlc_safetensors_open(ctx, trunc, &st));
  if (st) {
    T_CHECK(truncate(trunc, 8 + (off_t)strlen(big) + 4) == 0, "truncate");
    dlc_tensor t;
    T_FAILS(ctx, DLC_ERR_IO, "tensor \"w\": cannot read its 262144 bytes", dlc_safetensors_load(st, 0, &t));
    dlc_safetensors_destroy(st);
  }
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  snprintf(dir, sizeof dir, "%s/dlc_st_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  round_trip(ctx);
  malformed(ctx);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_safetensors");
}
