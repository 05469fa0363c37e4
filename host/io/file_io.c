/* Input files that are regular files (file_io.h). */
#include "io/file_io.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

dlc_status dlc_open_input(dlc_ctx *ctx, const char *path, const char *what, int *fd) {
  *fd = -1;
  if (!path) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "no %s given", what);
  /* O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting. */
  int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f < 0) return DLC_FAIL(ctx, DLC_ERR_IO, "%s (%s): %s", path, what, strerror(errno));
  struct stat st;
  if (fstat(f, &st) != 0) {
    int e = errno;
    close(f);
    return DLC_FAIL(ctx, DLC_ERR_IO, "%s (%s): %s", path, what, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(f);
    return DLC_FAIL(ctx, DLC_ERR_IO, "%s is %s, not a %s", path, kind_of(st.st_mode), what);
  }
  int flags = fcntl(f, F_GETFL);
  if (flags >= 0) (void)fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
  *fd = f;
  return DLC_OK;
}

dlc_status dlc_fopen_input(dlc_ctx *ctx, const char *path, const char *what, const char *mode, FILE **out) {
  *out = NULL;
  int fd;
  DLC_TRY(dlc_open_input(ctx, path, what, &fd));
  FILE *f = fdopen(fd, mode);
  if (!f) {
    int e = errno;
    close(fd);
    return DLC_FAIL(ctx, DLC_ERR_IO, "%s (%s): %s", path, what, strerror(e));
  }
  *out = f;
  return DLC_OK;
}

dlc_status dlc_gzopen_input(dlc_ctx *ctx, const char *path, const char *what, gzFile *out) {
  *out = NULL;
  int fd;
  DLC_TRY(dlc_open_input(ctx, path, what, &fd));
  gzFile f = gzdopen(fd, "rb");
  if (!f) {
    close(fd);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "%s (%s): cannot start decompressing", path, what);
  }
  *out = f;
  return DLC_OK;
}

void dlc_folder_of(const char *path, char *buf, size_t len) {
  snprintf(buf, len, "%s", path);
  char *slash = strrchr(buf, '/');
  if (!slash) snprintf(buf, len, ".");
  else if (slash == buf) slash[1] = '\0';
  else *slash = '\0';
}

int dlc_path_ends_with(const char *path, const char *suffix) {
  size_t n = strlen(path), m = strlen(suffix);
  return n >= m && strcmp(path + n - m, suffix) == 0;
}

dlc_status dlc_check_output_path(dlc_ctx *ctx, const char *path) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  if (!path[0]) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "an output path is empty");
  size_t n = strlen(path);
  if (path[n - 1] == '/') return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s names a folder, not a file to write", path);
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: it is %s, not a regular file", path, kind_of(st.st_mode));
  char dir[4096], probe[4200];
  if (n >= sizeof dir) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "path too long: %.200s...", path);
  dlc_folder_of(path, dir, sizeof dir);
  if (stat(dir, &st) != 0)
    return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: its folder %s: %s", path, dir, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: %s is not a folder", path, dir);
  /* The only sure test: create (exclusively) and remove a file there. */
  snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST)
    return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: creating a file in %s: %s", path, dir, strerror(errno));
  if (fd >= 0) {
    close(fd);
    remove(probe);
  }
  return DLC_OK;
}

struct dlc_file_lock {
  int fd;
  char path[4200];
};

dlc_status dlc_file_lock_acquire(dlc_ctx *ctx, const char *path, dlc_file_lock **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  dlc_file_lock *l = calloc(1, sizeof *l);
  if (!l) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "lock for %s", path);
  if (snprintf(l->path, sizeof l->path, "%s.lock", path) >= (int)sizeof l->path) {
    free(l);
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "path too long: %.200s...", path);
  }
  /* A lock file that its owner removed between our open and our lock is stale: the lock
   * must be on the file the path names now, so check that after locking, and retry. */
  for (int attempt = 0; attempt < 20; attempt++) {
    int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
      int e = errno;
      free(l);
      return DLC_FAIL(ctx, DLC_ERR_IO, "cannot write %s: creating its lock file: %s", path, strerror(e));
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
      int e = errno;
      struct flock who;
      memset(&who, 0, sizeof who);
      who.l_type = F_WRLCK;
      who.l_whence = SEEK_SET;
      long pid = (e == EACCES || e == EAGAIN) && fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK ? (long)who.l_pid : 0;
      close(fd);
      dlc_status st;
      if (e == EACCES || e == EAGAIN) {
        if (pid > 0)
          st = DLC_FAIL(ctx, DLC_ERR_IO, "%s is being written by another process (pid %ld): one output, one writer", path, pid);
        else
          st = DLC_FAIL(ctx, DLC_ERR_IO, "%s is being written by another process: one output, one writer", path);
      } else {
        st = DLC_FAIL(ctx, DLC_ERR_IO, "cannot lock %s: %s", l->path, strerror(e));
      }
      free(l);
      return st;
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      char pid[32];
      int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
      if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)len) != len) { /* the pid is only informative */
      }
      l->fd = fd;
      *out = l;
      return DLC_OK;
    }
    close(fd);
  }
  free(l);
  return DLC_FAIL(ctx, DLC_ERR_IO, "cannot lock %s: its lock file keeps changing", path);
}

void dlc_file_lock_destroy(dlc_file_lock *l) {
  if (!l) return;
  unlink(l->path); /* while still locked: a waiting process then finds a stale file and retries */
  close(l->fd);
  free(l);
}
