/* A network's named tensors in and out of safetensors files, shared by weights.c and
 * checkpoint.c. */
#ifndef DLC_WEIGHTS_H
#define DLC_WEIGHTS_H

#include "net_internal.h"

/* The network's tensors as named tensors: *list has room for `extra` more entries after
 * the *n written, and the names live in *names. Free both with free(). */
dlc_status dlc_net_named_tensors(dlc_net *net, int extra, dlc_named_tensor **list, char **names, int *n);

/* Checks that st holds exactly the network's tensors (same names, dtypes and shapes),
 * tolerating names that start with skip_prefix (may be NULL); then, when copy is 1, copies
 * them in. `path` names the file in messages. */
dlc_status dlc_net_read_tensors(dlc_net *net, dlc_safetensors *st, const char *path, const char *skip_prefix,
                                int copy);

/* dlc_safetensors_save, and with checksum = 1 the CRC-32 (zlib's) of the data section as
 * __metadata__ "data_crc32" (8 lowercase hex digits), patched into the header once the
 * data is written. */
dlc_status dlc_safetensors_save_ex(dlc_ctx *ctx, const char *path, const dlc_named_tensor *tensors, int n,
                                   const char *const *metadata, int nmeta, int checksum);
/* When st's metadata holds "data_crc32", reads the whole data section and fails, naming
 * the file, unless its CRC-32 matches; *present (may be NULL) says whether it was there. */
dlc_status dlc_safetensors_verify(dlc_safetensors *st, int *present);

#endif
