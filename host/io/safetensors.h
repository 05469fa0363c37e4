/* What the library's own files add to the public safetensors API: checksummed saves. */
#ifndef DLC_SAFETENSORS_H
#define DLC_SAFETENSORS_H

#include "core/internal.h"

/* dlc_safetensors_save, and with checksum = 1 the CRC-32 (zlib's) of the data section as
 * __metadata__ "data_crc32" (8 lowercase hex digits), patched into the header once the
 * data is written. */
dlc_status dlc_safetensors_save_ex(dlc_ctx *ctx, const char *path, const dlc_named_tensor *tensors, int n,
                                   const char *const *metadata, int nmeta, int checksum);
/* When st's metadata holds "data_crc32", reads the whole data section and fails, naming
 * the file, unless its CRC-32 matches; *present (may be NULL) says whether it was there. */
dlc_status dlc_safetensors_verify(dlc_safetensors *st, int *present);

#endif
