/* Files that appear whole or not at all: written to a temporary file in PATH's folder whose
 * name is unique to the writer (PATH.tmp.PID.N, created exclusively), flushed and fsync'd,
 * then renamed over PATH (and the folder fsync'd), so a crash, a full disk or a second
 * process writing the same PATH never leaves a broken or mixed file in place of a good
 * one. A failed write removes the temporary file. */
#ifndef DLC_ATOMIC_FILE_H
#define DLC_ATOMIC_FILE_H

#include <stdio.h>

#include "core/internal.h"

typedef struct dlc_atomic_file {
  dlc_ctx *ctx;
  FILE *fp;
  const char *path;
  char tmp[4096];
  uint64_t written;
  int failed; /* a write failed: commit refuses, the message is already set */
} dlc_atomic_file;

dlc_status dlc_atomic_open(dlc_ctx *ctx, dlc_atomic_file *f, const char *path);
dlc_status dlc_atomic_write(dlc_atomic_file *f, const void *data, size_t bytes);
/* Overwrites bytes already written at offset (a header field known only at the end). */
dlc_status dlc_atomic_patch(dlc_atomic_file *f, uint64_t offset, const void *data, size_t bytes);
/* Flushes, fsyncs, closes and renames; on any failure removes the temporary file. */
dlc_status dlc_atomic_commit(dlc_atomic_file *f);
/* Gives up: closes and removes the temporary file. Safe after a failed commit. */
void dlc_atomic_abort(dlc_atomic_file *f);

/* Test hook: the next file written atomically on ctx fails with ENOSPC once it has written
 * `after_bytes` bytes (a shorter file fails at its fsync instead), as on a full disk. The
 * hook fires once; a negative value disarms it. Compiled in always, armed only by tests. */
void dlc_test_fail_writes_after(dlc_ctx *ctx, int64_t after_bytes);

#endif
