/* A network's named tensors in and out of safetensors files, shared by weights.c and
 * checkpoint.c. */
#ifndef DLC_WEIGHTS_H
#define DLC_WEIGHTS_H

#include "io/safetensors.h"
#include "nn/net_internal.h"

/* The network's tensors as named tensors: *list has room for `extra` more entries after
 * the *n written, and the names live in *names. Free both with free(). */
dlc_status dlc_net_named_tensors(dlc_net *net, int extra, dlc_named_tensor **list, char **names, int *n);

/* Checks that st holds exactly the network's tensors (same names, dtypes and shapes),
 * tolerating names that start with skip_prefix (may be NULL); then, when copy is 1, copies
 * them in. `path` names the file in messages. */
dlc_status dlc_net_read_tensors(dlc_net *net, dlc_safetensors *st, const char *path, const char *skip_prefix,
                                int copy);

#endif
