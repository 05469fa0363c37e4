/* Atomic file replacement (atomic_file.h). */
#include "io/atomic_file.h"
#include "io/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void dlc_test_fail_writes_after(dlc_ctx *ctx, int64_t after_bytes) {
  if (ctx) ctx->write_fail_at = after_bytes < 0 ? 0 : after_bytes + 1;
}

dlc_status dlc_atomic_open(dlc_ctx *ctx, dlc_atomic_file *f, const char *path) {
  memset(f, 0, sizeof *f);
  f->ctx = ctx;
  f->path = path;
  DLC_TRY(dlc_check_output_path(ctx, path));
  static _Atomic unsigned counter;
  for (int attempt = 0; attempt < 100; attempt++) {
    unsigned k = counter++;
    if (snprintf(f->tmp, sizeof f->tmp, "%s.tmp.%ld.%u", path, (long)getpid(), k) >= (int)sizeof f->tmp)
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "path too long: %.200s...", path);
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue; /* left by a crashed process with our pid */
    if (fd < 0) {
      int e = errno;
      f->tmp[0] = '\0';
      return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: creating a temporary file beside it: %s", path, strerror(e));
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
      close(fd);
      remove(f->tmp);
      f->tmp[0] = '\0';
      return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s: opening a stream", path);
    }
    return DLC_OK;
  }
  f->tmp[0] = '\0';
  return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: no free temporary name beside it", path);
}

/* The test hook: when this write would pass the armed limit, writes what fits (as a full
 * disk does), disarms and returns 1. */
static int hook_fires(dlc_atomic_file *f, const void *data, size_t bytes) {
  dlc_ctx *ctx = f->ctx;
  uint64_t limit = (uint64_t)ctx->write_fail_at - 1;
  if (ctx->write_fail_at == 0 || f->written + bytes <= limit) return 0;
  ctx->write_fail_at = 0;
  size_t fits = limit > f->written ? (size_t)(limit - f->written) : 0;
  if (fits) (void)!fwrite(data, 1, fits, f->fp);
  return 1;
}

dlc_status dlc_atomic_write(dlc_atomic_file *f, const void *data, size_t bytes) {
  if (f->failed) return DLC_ERR_IO;
  if (!f->fp) return DLC_FAIL(f->ctx, DLC_ERR_IO, "%s: not open", f->tmp);
  int err = 0;
  if (bytes > 0 && hook_fires(f, data, bytes)) {
    err = ENOSPC;
  } else if (bytes > 0 && fwrite(data, 1, bytes, f->fp) != bytes) {
    err = errno ? errno : EIO;
  }
  if (err) {
    f->failed = 1;
    return DLC_FAIL(f->ctx, DLC_ERR_IO, "writing %s: %s (the previous %s, if any, is untouched)", f->tmp,
                    strerror(err), f->path);
  }
  f->written += bytes;
  return DLC_OK;
}

dlc_status dlc_atomic_patch(dlc_atomic_file *f, uint64_t offset, const void *data, size_t bytes) {
  if (f->failed) return DLC_ERR_IO;
  if (offset + bytes > f->written) return DLC_FAIL(f->ctx, DLC_ERR_INVALID_ARG, "%s: patch past the end", f->tmp);
  int err = 0;
  if (fflush(f->fp) != 0 || fseeko(f->fp, (off_t)offset, SEEK_SET) != 0 || fwrite(data, 1, bytes, f->fp) != bytes ||
      fflush(f->fp) != 0 || fseeko(f->fp, 0, SEEK_END) != 0)
    err = errno ? errno : EIO;
  if (err) {
    f->failed = 1;
    return DLC_FAIL(f->ctx, DLC_ERR_IO, "writing %s: %s (the previous %s, if any, is untouched)", f->tmp, strerror(err),
                    f->path);
  }
  return DLC_OK;
}

/* Makes the rename itself durable; best effort (some file systems refuse fsync on a
 * folder, and the file is complete either way). */
static void sync_folder(const char *path) {
  char dir[4096];
  dlc_folder_of(path, dir, sizeof dir);
  int fd = open(dir, O_RDONLY);
  if (fd >= 0) {
    (void)fsync(fd);
    close(fd);
  }
}

dlc_status dlc_atomic_commit(dlc_atomic_file *f) {
  if (f->failed || !f->fp) {
    dlc_atomic_abort(f);
    return DLC_ERR_IO;
  }
  int err = 0;
  errno = 0;
  if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) err = errno ? errno : EIO;
  if (!err && f->ctx->write_fail_at != 0) { /* the hook, armed past the end of this file */
    f->ctx->write_fail_at = 0;
    err = ENOSPC;
  }
  if (fclose(f->fp) != 0 && !err) err = errno ? errno : EIO;
  f->fp = NULL;
  if (err) {
    remove(f->tmp);
    f->failed = 1;
    return DLC_FAIL(f->ctx, DLC_ERR_IO, "writing %s: %s (the previous %s, if any, is untouched)", f->tmp,
                    strerror(err), f->path);
  }
  if (rename(f->tmp, f->path) != 0) {
    err = errno;
    remove(f->tmp);
    f->failed = 1;
    return DLC_FAIL(f->ctx, DLC_ERR_IO, "renaming %s to %s: %s", f->tmp, f->path, strerror(err));
  }
  sync_folder(f->path);
  return DLC_OK;
}

void dlc_atomic_abort(dlc_atomic_file *f) {
  if (f->fp) {
    fclose(f->fp);
    f->fp = NULL;
  }
  if (f->tmp[0]) remove(f->tmp);
  f->failed = 1;
}
