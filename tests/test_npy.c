/* .npy read and write: round trips, and every kind of malformed file rejected by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char dir[256];

/* Writes a v1.0 .npy with the given header dict and `data_bytes` bytes of 0x01. */
static const char *write_npy(const char *name, const char *dict, size_t data_bytes, int version) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  size_t n = strlen(dict);
  unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)version, 0,
                           (unsigned char)(n & 0xff), (unsigned char)(n >> 8), 0, 0};
  fwrite(pre, 1, version == 1 ? 10 : 12, f);
  fwrite(dict, 1, n, f);
  for (size_t i = 0; i < data_bytes; i++) fputc(1, f);
  fclose(f);
  return path;
}

static void write_raw(const char *name, const void *bytes, size_t n, char *path, size_t len) {
  snprintf(path, len, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  fwrite(bytes, 1, n, f);
  fclose(f);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  snprintf(dir, sizeof dir, "%s/dlc_npy_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  char path[512];

  /* Round trips for each dtype and up to 5 dimensions. */
  int64_t shape[5] = {2, 3, 1, 4, 5};
  dlc_tensor a, b;
  T_OK(ctx, dlc_tensor_alloc(ctx, &a, DLC_F32, 5, shape, cpu));
  t_fill_uniform(a.data, a.numel, 3, -5, 5);
  snprintf(path, sizeof path, "%s/a.npy", dir);
  T_OK(ctx, dlc_npy_save(ctx, path, &a));
  T_OK(ctx, dlc_npy_load(ctx, path, &b));
  T_CHECK(b.dtype == DLC_F32 && b.ndim == 5 && b.shape[4] == 5 && b.numel == a.numel &&
              memcmp(a.data, b.data, a.nbytes) == 0, "float32 round trip");
  T_CHECK(t_temp_files(path) == 0, "no temporary file left behind");
  dlc_tensor_free(ctx, &b);
  dlc_tensor_free(ctx, &a);
  int64_t n7 = 7;
  T_OK(ctx, dlc_tensor_alloc(ctx, &a, DLC_I32, 1, &n7, cpu));
  for (int i = 0; i < 7; i++) ((int32_t *)a.data)[i] = i * 1000 - 3000;
  snprintf(path, sizeof path, "%s/i.npy", dir);
  T_OK(ctx, dlc_npy_save(ctx, path, &a));
  T_OK(ctx, dlc_npy_load(ctx, path, &b));
  T_CHECK(b.dtype == DLC_I32 && memcmp(a.data, b.data, a.nbytes) == 0, "int32 round trip");
  dlc_tensor_free(ctx, &a);
  dlc_tensor_free(ctx, &b);
  T_OK(ctx, dlc_tensor_alloc(ctx, &a, DLC_U8, 1, &n7, cpu));
  memset(a.data, 200, 7);
  T_OK(ctx, dlc_npy_save(ctx, path, &a));
  T_OK(ctx, dlc_npy_load(ctx, path, &b));
  T_CHECK(b.dtype == DLC_U8 && ((uint8_t *)b.data)[6] == 200, "uint8 round trip");
  dlc_tensor_free(ctx, &a);
  dlc_tensor_free(ctx, &b);

  /* int64 labels become int32; values that do not fit are an error. */
  int64_t labels[3] = {0, 9, -100};
  unsigned char buf[256];
  const char *d64 = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n";
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)strlen(d64), 0};
  memcpy(buf, pre, 10);
  memcpy(buf + 10, d64, strlen(d64));
  memcpy(buf + 10 + strlen(d64), labels, sizeof labels);
  write_raw("l.npy", buf, 10 + strlen(d64) + sizeof labels, path, sizeof path);
  T_OK(ctx, dlc_npy_load(ctx, path, &b));
  T_CHECK(b.dtype == DLC_I32 && ((int32_t *)b.data)[1] == 9 && ((int32_t *)b.data)[2] == -100, "int64 -> int32");
  dlc_tensor_free(ctx, &b);
  labels[1] = INT64_C(1) << 40;
  memcpy(buf + 10 + strlen(d64), labels, sizeof labels);
  write_raw("l2.npy", buf, 10 + strlen(d64) + sizeof labels, path, sizeof path);
  T_FAILS(ctx, DLC_ERR_FORMAT, "does not fit int32", dlc_npy_load(ctx, path, &b));

  /* Malformed files. */
  const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  T_FAILS(ctx, DLC_ERR_IO, "No such file", dlc_npy_load(ctx, "/nonexistent/x.npy", &b));
  write_raw("magic.npy", "\x93NUMPX\x01\x00\x00\x00", 10, path, sizeof path);
  T_FAILS(ctx, DLC_ERR_FORMAT, "magic", dlc_npy_load(ctx, path, &b));
  write_raw("short.npy", "\x93NUM", 4, path, sizeof path);
  T_FAILS(ctx, DLC_ERR_FORMAT, "magic", dlc_npy_load(ctx, path, &b));
  write_raw("hlen.npy", "\x93NUMPY\x01\x00\xff\x7f{'descr'", 17, path, sizeof path);
  T_FAILS(ctx, DLC_ERR_FORMAT, "past the end", dlc_npy_load(ctx, path, &b));
  T_FAILS(ctx, DLC_ERR_FORMAT, "version 4", dlc_npy_load(ctx, write_npy("v4.npy", ok, 24, 4), &b));
  T_OK(ctx, dlc_npy_load(ctx, write_npy("v2.npy", ok, 24, 2), &b));
  dlc_tensor_free(ctx, &b);
  T_FAILS(ctx, DLC_ERR_FORMAT, "truncated", dlc_npy_load(ctx, write_npy("trunc.npy", ok, 23, 1), &b));
  T_FAILS(ctx, DLC_ERR_FORMAT, "trailing bytes", dlc_npy_load(ctx, write_npy("trail.npy", ok, 25, 1), &b));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "'>f4'", dlc_npy_load(ctx, write_npy("be.npy",
          "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8, 1), &b));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "'<f8'", dlc_npy_load(ctx, write_npy("f8.npy",
          "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", 16, 1), &b));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "Fortran", dlc_npy_load(ctx, write_npy("fo.npy",
          "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24, 1), &b));
  T_FAILS(ctx, DLC_ERR_FORMAT, "no 'descr'", dlc_npy_load(ctx, write_npy("nod.npy",
          "{'fortran_order': False, 'shape': (2,), }\n", 8, 1), &b));
  T_FAILS(ctx, DLC_ERR_FORMAT, "no 'shape'", dlc_npy_load(ctx, write_npy("nos.npy",
          "{'descr': '<f4', 'fortran_order': False, }\n", 8, 1), &b));
  T_FAILS(ctx, DLC_ERR_FORMAT, "non-integer", dlc_npy_load(ctx, write_npy("nonint.npy",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }\n", 8, 1), &b));
  T_FAILS(ctx, DLC_ERR_SHAPE, "more than 5", dlc_npy_load(ctx, write_npy("6d.npy",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1), }\n", 4, 1), &b));
  T_FAILS(ctx, DLC_ERR_SHAPE, "zero", dlc_npy_load(ctx, write_npy("zero.npy",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", 0, 1), &b));
  T_FAILS(ctx, DLC_ERR_SHAPE, "overflows", dlc_npy_load(ctx, write_npy("ovf.npy",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", 4, 1), &b));
  T_FAILS(ctx, DLC_ERR_SHAPE, "out of range", dlc_npy_load(ctx, write_npy("huge.npy",
          "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", 4, 1), &b));
  T_CHECK(b.data == NULL, "a failed load leaves an empty tensor");

  /* A write that cannot happen is an error and leaves nothing behind. */
  T_OK(ctx, dlc_tensor_alloc(ctx, &a, DLC_F32, 1, &n7, cpu));
  T_FAILS(ctx, DLC_ERR_IO, "cannot write /nonexistent-dir/x.npy: its folder /nonexistent-dir: No such file", dlc_npy_save(ctx, "/nonexistent-dir/x.npy", &a));
  dlc_tensor_free(ctx, &a);

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_npy");
}
