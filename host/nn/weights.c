/* Network weights as safetensors with nn.Sequential state_dict names ("0.weight",
 * "1.running_mean", "1.num_batches_tracked"), PyTorch's layouts and dtypes, loaded strictly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/weights.h"

#define NAME_LEN 64

dlc_status dlc_net_named_tensors(dlc_net *net, int extra, dlc_named_tensor **list, char **names, int *n) {
  dlc_ctx *ctx = net->ctx;
  int count = dlc_net_tensor_count(net);
  *list = NULL;
  *names = NULL;
  *n = 0;
  dlc_named_tensor *l = calloc((size_t)(count + extra + 1), sizeof *l);
  char *nm = calloc((size_t)(count + 1), NAME_LEN);
  if (!l || !nm) {
    free(l);
    free(nm);
    return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "tensor list");
  }
  int k = 0;
  for (int i = 0; i < net->nlayers; i++)
    for (int j = 0; j < net->layers[i].nparam; j++, k++) {
      snprintf(nm + (size_t)k * NAME_LEN, NAME_LEN, "%d.%s", net->layers[i].seq, net->layers[i].param[j].name);
      l[k].name = nm + (size_t)k * NAME_LEN;
      l[k].tensor = &net->layers[i].param[j].value;
    }
  *list = l;
  *names = nm;
  *n = count;
  return DLC_OK;
}

static int skipped(const char *name, const char *prefix) {
  return prefix && strncmp(name, prefix, strlen(prefix)) == 0;
}

dlc_status dlc_net_read_tensors(dlc_net *net, dlc_safetensors *st, const char *path, const char *skip_prefix,
                                int copy) {
  dlc_ctx *ctx = net->ctx;
  dlc_named_tensor *list;
  char *names;
  int n;
  DLC_TRY(dlc_net_named_tensors(net, 0, &list, &names, &n));
  dlc_status s = DLC_OK;
  char a[96], b[96];
  /* Every network tensor is in the file with its dtype and shape ... */
  for (int k = 0; k < n && s == DLC_OK; k++) {
    const dlc_tensor *t = list[k].tensor;
    int i = dlc_safetensors_find(st, list[k].name);
    if (i < 0) {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the network's tensor \"%s\" (%s %s) is not in the file", path,
                   list[k].name, dlc_dtype_name(t->dtype), dlc_shape_str(t, a, sizeof a));
      break;
    }
    dlc_safetensors_tensor_info info;
    if ((s = dlc_safetensors_info(st, i, &info)) != DLC_OK) break;
    if (info.dtype != t->dtype) {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%s\" is %s in the file but the network holds %s", path,
                   list[k].name, info.dtype_name, dlc_dtype_name(t->dtype));
      break;
    }
    dlc_tensor want = *t;
    want.ndim = info.ndim;
    memcpy(want.shape, info.shape, sizeof want.shape);
    int same = info.ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = info.shape[d] == t->shape[d];
    if (!same)
      s = DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: tensor \"%s\" is %s in the file but %s in the network", path, list[k].name,
                   dlc_shape_str(&want, a, sizeof a), dlc_shape_str(t, b, sizeof b));
  }
  /* ... and the file holds nothing else. */
  for (int i = 0; i < dlc_safetensors_count(st) && s == DLC_OK; i++) {
    dlc_safetensors_tensor_info info;
    if ((s = dlc_safetensors_info(st, i, &info)) != DLC_OK) break;
    if (skipped(info.name, skip_prefix)) continue;
    int found = 0;
    for (int k = 0; k < n && !found; k++) found = strcmp(list[k].name, info.name) == 0;
    if (!found) {
      snprintf(a, sizeof a, "%.80s", info.name);
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT,
                   "%s: tensor \"%s\" in the file is not in the network (%d tensors, \"%s\" to \"%s\"): a different "
                   "architecture?", path, a, n, n ? list[0].name : "", n ? list[n - 1].name : "");
    }
  }
  for (int k = 0; k < n && s == DLC_OK && copy; k++) {
    s = dlc_safetensors_read(st, dlc_safetensors_find(st, list[k].name), (dlc_tensor *)list[k].tensor);
  }
  free(list);
  free(names);
  return s;
}

static dlc_status check_built(dlc_net *net) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!net->built) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "build the network first (dlc_net_build)");
  return DLC_OK;
}

/* Saves the network's tensors under their names: the weights and buffers, or (grads) the
 * parameters' gradients, which buffers do not have. */
static dlc_status save_named(dlc_net *net, const char *path, int grads) {
  DLC_TRY(check_built(net));
  DLC_CHECK_NULL(net->ctx, path);
  dlc_named_tensor *list;
  char *names;
  int n;
  DLC_TRY(dlc_net_named_tensors(net, 0, &list, &names, &n));
  if (grads) {
    int m = 0, k = 0;
    for (int i = 0; i < net->nlayers; i++)
      for (int j = 0; j < net->layers[i].nparam; j++, k++)
        if (!net->layers[i].param[j].is_buffer) {
          list[m].name = list[k].name;
          list[m++].tensor = &net->layers[i].param[j].grad;
        }
    n = m;
  }
  static const char *const meta[] = {"format", "pt"};
  dlc_status s = dlc_safetensors_save(net->ctx, path, list, n, grads ? NULL : meta, grads ? 0 : 1);
  free(list);
  free(names);
  return s;
}

dlc_status dlc_net_save_weights(dlc_net *net, const char *path) { return save_named(net, path, 0); }
dlc_status dlc_net_save_grads(dlc_net *net, const char *path) { return save_named(net, path, 1); }

dlc_status dlc_net_load_weights(dlc_net *net, const char *path) {
  DLC_TRY(check_built(net));
  DLC_CHECK_NULL(net->ctx, path);
  dlc_safetensors *st = NULL;
  DLC_TRY(dlc_safetensors_open(net->ctx, path, &st));
  const char *format = dlc_safetensors_metadata(st, "format");
  int checkpoint = format && strcmp(format, "dlcuda-checkpoint") == 0;
  dlc_status s = dlc_safetensors_verify(st, NULL); /* a checkpoint's checksum */
  if (s == DLC_OK) s = dlc_net_read_tensors(net, st, path, checkpoint ? "optimizer." : NULL, 0);
  if (s == DLC_OK) s = dlc_net_read_tensors(net, st, path, checkpoint ? "optimizer." : NULL, 1);
  dlc_safetensors_destroy(st);
  return s;
}
