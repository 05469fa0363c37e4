/* Checkpoints: the network's tensors, the optimizer's state tensors and the scalars needed
 * to continue (step, seed, generator offset, epoch and batch) in one safetensors file; see
 * dlcuda.h. Scalars are decimal strings in __metadata__. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/weights.h"

#define CKPT_FORMAT "dlcuda-checkpoint"
#define CKPT_VERSION "1"

/* The names of the optimizer's state tensors (SGD: momentum; Adam: moments), as PyTorch's
 * optimizer state calls them. */
static void state_names(dlc_optimizer_kind kind, const char **n1, const char **n2) {
  *n1 = kind == DLC_OPT_SGD ? "optimizer.momentum_buffer" : "optimizer.exp_avg";
  *n2 = kind == DLC_OPT_SGD ? NULL : "optimizer.exp_avg_sq";
}

dlc_status dlc_checkpoint_save(dlc_net *net, dlc_optim *opt, const dlc_checkpoint_info *info, const char *path) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, info);
  DLC_CHECK_NULL(ctx, path);
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "build the network first (dlc_net_build)");
  if (info->epoch < 0 || info->batch < 0 || info->batches_per_epoch < 0)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: epoch %lld, batch %lld, %lld batches per epoch", path,
                    (long long)info->epoch, (long long)info->batch, (long long)info->batches_per_epoch);
  dlc_named_tensor *list;
  char *names;
  int n;
  DLC_TRY(dlc_net_named_tensors(net, 2, &list, &names, &n));
  int64_t steps = 0;
  if (opt) {
    int64_t *step;
    dlc_tensor *s1, *s2;
    const char *n1, *n2;
    dlc_optim_state(opt, &step, &s1, &s2);
    state_names(dlc_optim_kind(opt), &n1, &n2);
    steps = *step;
    if (s1) list[n++] = (dlc_named_tensor){n1, s1};
    if (s2 && n2) list[n++] = (dlc_named_tensor){n2, s2};
  }
  char v[6][24];
  snprintf(v[0], sizeof v[0], "%lld", (long long)info->epoch);
  snprintf(v[1], sizeof v[1], "%lld", (long long)info->batch);
  snprintf(v[2], sizeof v[2], "%lld", (long long)info->batches_per_epoch);
  snprintf(v[3], sizeof v[3], "%lld", (long long)steps);
  snprintf(v[4], sizeof v[4], "%llu", (unsigned long long)dlc_ctx_seed(ctx));
  snprintf(v[5], sizeof v[5], "%llu", (unsigned long long)dlc_ctx_rng_offset(ctx));
  const char *meta[] = {"format", CKPT_FORMAT, "version", CKPT_VERSION, "epoch", v[0], "batch", v[1],
                        "batches_per_epoch", v[2], "step", v[3], "seed", v[4], "rng_offset", v[5],
                        "optimizer", opt ? dlc_optimizer_name(dlc_optim_kind(opt)) : "none"};
  dlc_status s = dlc_safetensors_save_ex(ctx, path, list, n, meta, (int)(sizeof meta / sizeof meta[0] / 2), 1);
  free(list);
  free(names);
  return s;
}

static dlc_status meta_u64(dlc_ctx *ctx, const dlc_safetensors *st, const char *path, const char *key,
                           uint64_t max, uint64_t *out) {
  const char *v = dlc_safetensors_metadata(st, key);
  if (!v) return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: checkpoint metadata has no \"%s\"", path, key);
  uint64_t x = 0;
  int ok = v[0] != '\0';
  for (const char *p = v; ok && *p; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (d > 9 || x > (UINT64_MAX - d) / 10) ok = 0;
    else x = x * 10 + d;
  }
  if (!ok || x > max)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: checkpoint metadata \"%s\" = \"%.40s\" is not an integer in [0, %llu]",
                    path, key, v, (unsigned long long)max);
  *out = x;
  return DLC_OK;
}

static dlc_status read_info(dlc_ctx *ctx, const dlc_safetensors *st, const char *path, dlc_checkpoint_info *info) {
  const char *format = dlc_safetensors_metadata(st, "format");
  if (!format || strcmp(format, CKPT_FORMAT) != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: not a libdlcuda checkpoint (metadata format is \"%.40s\", not \"%s\")",
                    path, format ? format : "(none)", CKPT_FORMAT);
  const char *version = dlc_safetensors_metadata(st, "version");
  if (!version || strcmp(version, CKPT_VERSION) != 0)
    return DLC_FAIL(ctx, DLC_ERR_UNSUPPORTED, "%s: checkpoint version \"%.20s\"; this build reads version %s", path,
                    version ? version : "(none)", CKPT_VERSION);
  uint64_t e, b, bpe, step, seed, off;
  DLC_TRY(meta_u64(ctx, st, path, "epoch", INT64_MAX, &e));
  DLC_TRY(meta_u64(ctx, st, path, "batch", INT64_MAX, &b));
  DLC_TRY(meta_u64(ctx, st, path, "batches_per_epoch", INT64_MAX, &bpe));
  DLC_TRY(meta_u64(ctx, st, path, "step", INT64_MAX, &step));
  DLC_TRY(meta_u64(ctx, st, path, "seed", UINT64_MAX, &seed));
  DLC_TRY(meta_u64(ctx, st, path, "rng_offset", UINT64_MAX, &off));
  if (bpe > 0 && b > bpe)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: batch %llu is past the %llu batches of an epoch", path,
                    (unsigned long long)b, (unsigned long long)bpe);
  info->epoch = (int64_t)e;
  info->batch = (int64_t)b;
  info->batches_per_epoch = (int64_t)bpe;
  info->step = (int64_t)step;
  info->seed = seed;
  info->rng_offset = off;
  return DLC_OK;
}

dlc_status dlc_checkpoint_read_info(dlc_ctx *ctx, const char *path, dlc_checkpoint_info *info) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, info);
  dlc_safetensors *st = NULL;
  DLC_TRY(dlc_safetensors_open(ctx, path, &st));
  dlc_status s = read_info(ctx, st, path, info);
  dlc_safetensors_destroy(st);
  return s;
}

/* Checks the optimizer's state tensors against the file; copies them when copy is 1. */
static dlc_status optim_state(dlc_ctx *ctx, dlc_optim *opt, dlc_safetensors *st, const char *path, int copy) {
  const char *kind = dlc_safetensors_metadata(st, "optimizer");
  const char *want = dlc_optimizer_name(dlc_optim_kind(opt));
  if (!kind || strcmp(kind, want) != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the checkpoint's optimizer is \"%.20s\" but this one is %s", path,
                    kind ? kind : "(none)", want);
  int64_t *step;
  dlc_tensor *s[2];
  const char *names[2];
  dlc_optim_state(opt, &step, &s[0], &s[1]);
  state_names(dlc_optim_kind(opt), &names[0], &names[1]);
  for (int k = 0; k < 2; k++) {
    if (!names[k]) continue;
    int i = dlc_safetensors_find(st, names[k]);
    if (s[k] && i < 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the optimizer's state \"%s\" is not in the checkpoint (made without %s?)",
                      path, names[k], k == 0 && dlc_optim_kind(opt) == DLC_OPT_SGD ? "momentum" : "it");
    if (!s[k] && i >= 0)
      return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the checkpoint has \"%s\" but the optimizer keeps no such state%s", path,
                      names[k], dlc_optim_kind(opt) == DLC_OPT_SGD ? " (momentum 0?)" : "");
    if (s[k] && copy) DLC_TRY(dlc_safetensors_read(st, i, s[k]));
  }
  /* Any other optimizer.* tensor is one this optimizer would not restore. */
  for (int i = 0; i < dlc_safetensors_count(st); i++) {
    dlc_safetensors_tensor_info info;
    DLC_TRY(dlc_safetensors_info(st, i, &info));
    if (strncmp(info.name, "optimizer.", 10) != 0) continue;
    if ((names[0] && !strcmp(info.name, names[0])) || (names[1] && !strcmp(info.name, names[1]))) continue;
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: tensor \"%.80s\" is not state of a %s optimizer", path, info.name, want);
  }
  if (!copy) {
    /* Shapes and dtypes: a trial read would copy, so compare the descriptions. */
    for (int k = 0; k < 2; k++) {
      int i = names[k] ? dlc_safetensors_find(st, names[k]) : -1;
      if (i < 0 || !s[k]) continue;
      dlc_safetensors_tensor_info info;
      DLC_TRY(dlc_safetensors_info(st, i, &info));
      if (info.dtype != DLC_F32 || info.ndim != 1 || info.shape[0] != s[k]->numel)
        return DLC_FAIL(ctx, DLC_ERR_SHAPE, "%s: \"%s\" is %s of %lld elements; the optimizer keeps float32 [%lld]",
                        path, names[k], info.dtype_name, (long long)info.numel, (long long)s[k]->numel);
    }
  }
  return DLC_OK;
}

dlc_status dlc_checkpoint_load(dlc_net *net, dlc_optim *opt, const char *path, dlc_checkpoint_info *info) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  DLC_CHECK_NULL(ctx, path);
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "build the network first (dlc_net_build)");
  dlc_safetensors *st = NULL;
  DLC_TRY(dlc_safetensors_open(ctx, path, &st));
  dlc_checkpoint_info got;
  dlc_status s = read_info(ctx, st, path, &got);
  /* Everything is checked first (the data against the header's checksum included), then
   * copied. */
  if (s == DLC_OK) s = dlc_safetensors_verify(st, NULL);
  if (s == DLC_OK) s = dlc_net_read_tensors(net, st, path, "optimizer.", 0);
  if (s == DLC_OK && opt) s = optim_state(ctx, opt, st, path, 0);
  if (s == DLC_OK) s = dlc_net_read_tensors(net, st, path, "optimizer.", 1);
  if (s == DLC_OK && opt) s = optim_state(ctx, opt, st, path, 1);
  if (s == DLC_OK && opt) {
    int64_t *step;
    dlc_optim_state(opt, &step, NULL, NULL);
    *step = got.step;
  }
  if (s == DLC_OK) {
    dlc_ctx_set_seed(ctx, got.seed);
    dlc_ctx_set_rng_offset(ctx, got.rng_offset);
    if (info) *info = got;
  }
  dlc_safetensors_destroy(st);
  return s;
}
