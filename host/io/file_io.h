/* Opening the files a user names, safely: inputs must be regular files (a FIFO, device or
 * socket would block open() or read() forever; a folder would be misread as an empty or
 * malformed file), and outputs are checked before a long run starts, so that a path that
 * cannot be written fails in the first second rather than after the last epoch. */
#ifndef DLC_FILE_IO_H
#define DLC_FILE_IO_H

#include <stdio.h>
#include <zlib.h>

#include "core/internal.h"

/* Opens path for reading and checks, without blocking, that it is a regular file. On
 * failure sets a message naming path and `what` (e.g. "model file"). */
dlc_status dlc_open_input(dlc_ctx *ctx, const char *path, const char *what, int *fd);
/* The same as a stdio stream (mode "r" or "rb") or a zlib stream. */
dlc_status dlc_fopen_input(dlc_ctx *ctx, const char *path, const char *what, const char *mode, FILE **out);
dlc_status dlc_gzopen_input(dlc_ctx *ctx, const char *path, const char *what, gzFile *out);
/* The folder that holds path ("." for a bare name, "/" for a file at the root), into buf. */
void dlc_folder_of(const char *path, char *buf, size_t len);
/* 1 when path ends with suffix (".csv", ".jsonl"). */
int dlc_path_ends_with(const char *path, const char *suffix);

#endif
