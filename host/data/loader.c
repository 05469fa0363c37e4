/* The batch loader: a worker thread gathers, normalises and augments the next batch into
 * one of two (pinned) host buffers while the current batch trains; on CUDA each batch is
 * copied to the device asynchronously on the context's stream, and an event per buffer
 * tells the worker when the host buffer may be refilled. Order and augmentation are pure
 * functions of (seed, epoch, sample), so runs are reproducible and resumable. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/philox.h"
#include "data/augment.h"
#include "core/internal.h"

struct dlc_loader {
  dlc_ctx *ctx;
  const dlc_dataset *ds;
  dlc_loader_options o;
  int64_t sample, nbatches, epoch, next;
  int64_t *order;
  /* Class-balanced sampling: sample indices grouped by class, where each class starts,
   * and the classes present. */
  int64_t *by_class, *class_start;
  int32_t *present;
  int npresent;
  float *hx[2];
  void *hy[2];             /* int32 labels [batch], or float32 targets [batch, K] */
  int K;                   /* targets per sample (regression), 0 for labels */
  dlc_tensor dx[2], dy[2]; /* device copies (CUDA only) */
  void *ev[2];
  int cuda;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int64_t want, want_slot, done[2];
  int busy, stop, started;
};

dlc_loader_options dlc_loader_options_default(void) {
  dlc_loader_options o;
  memset(&o, 0, sizeof o);
  o.batch = 64;
  o.shuffle = 1;
  for (int c = 0; c < 3; c++) o.std[c] = 1.f;
  o.seed = 0x5eed;
  return o;
}

int64_t dlc_loader_batches(const dlc_loader *l) { return l ? l->nbatches : 0; }

dlc_loader_options dlc_loader_options_eval(const dlc_loader_options *o) {
  dlc_loader_options e = o ? *o : dlc_loader_options_default();
  e.shuffle = e.balanced = e.flip = e.crop_pad = 0;
  e.rotate = e.erase = e.brightness = e.contrast = 0;
  return e;
}

static uint64_t stream_key(const dlc_loader *l, uint64_t salt) {
  return l->o.seed ^ (salt * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)l->epoch << 40);
}

static void shuffle(dlc_loader *l) {
  int64_t n = l->ds->count;
  if (l->o.balanced) { /* with replacement: a class uniformly, then a sample of it */
    uint64_t key = stream_key(l, 3);
    for (int64_t i = 0; i < n; i++) {
      uint32_t r[4];
      dlc_philox_block((uint64_t)i, key, r);
      int32_t c = l->present[r[0] % (uint32_t)l->npresent];
      int64_t size = l->class_start[c + 1] - l->class_start[c];
      l->order[i] = l->by_class[l->class_start[c] + (int64_t)((((uint64_t)r[1] << 32) | r[2]) % (uint64_t)size)];
    }
    return;
  }
  for (int64_t i = 0; i < n; i++) l->order[i] = i;
  if (!l->o.shuffle) return;
  uint64_t key = stream_key(l, 1);
  for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
    uint32_t r[4];
    dlc_philox_block((uint64_t)i, key, r);
    int64_t j = (int64_t)((((uint64_t)r[0] << 32) | r[1]) % (uint64_t)(i + 1));
    int64_t t = l->order[i];
    l->order[i] = l->order[j];
    l->order[j] = t;
  }
}

static int64_t batch_size(const dlc_loader *l, int64_t b) {
  int64_t left = l->ds->count - b * l->o.batch;
  return left < l->o.batch ? left : l->o.batch;
}

/* Writes sample `idx` into dst [C, H, W], normalised and augmented. */
static void assemble_one(const dlc_loader *l, int64_t idx, float *dst) {
  const dlc_dataset *ds = l->ds;
  int C = ds->channels, H = ds->height, W = ds->width;
  if (ds->features) {
    const float *src = ds->features + idx * l->sample;
    for (int64_t k = 0; k < l->sample; k++)
      dst[k] = l->o.normalize ? (src[k] - l->o.mean[0]) / l->o.std[0] : src[k];
    return;
  }
  dlc_aug a;
  dlc_aug_draw(&l->o, H, W, stream_key(l, 2), (uint64_t)idx, &a);
  dlc_aug_image(ds->pixels + idx * l->sample, C, H, W, &a, &l->o, dst);
}

static void assemble(const dlc_loader *l, int64_t b, int slot) {
  int64_t n = batch_size(l, b);
  for (int64_t i = 0; i < n; i++) {
    int64_t idx = l->order[b * l->o.batch + i];
    assemble_one(l, idx, l->hx[slot] + i * l->sample);
    if (l->K)
      memcpy((float *)l->hy[slot] + i * l->K, l->ds->targets + idx * l->K, sizeof(float) * (size_t)l->K);
    else
      ((int32_t *)l->hy[slot])[i] = l->ds->labels[idx];
  }
}

static void *worker(void *arg) {
  dlc_loader *l = arg;
  /* The events it waits on belong to the context's device, not to device 0. */
  if (l->cuda) dlc_cuda_thread_set_device(l->ctx->device.index);
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->stop && l->want < 0) pthread_cond_wait(&l->cv, &l->mu);
    if (l->stop) break;
    int64_t b = l->want;
    int slot = (int)l->want_slot;
    l->want = -1;
    l->busy = 1;
    pthread_mutex_unlock(&l->mu);
    /* The previous copy out of this host buffer must have finished. */
    if (l->cuda) dlc_cuda_event_wait_host(NULL, l->ev[slot]);
    assemble(l, b, slot);
    pthread_mutex_lock(&l->mu);
    l->done[slot] = b;
    l->busy = 0;
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static void request(dlc_loader *l, int64_t b) {
  pthread_mutex_lock(&l->mu);
  l->want = b;
  l->want_slot = b % 2;
  l->done[b % 2] = -1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static void wait_idle(dlc_loader *l) {
  pthread_mutex_lock(&l->mu);
  while (l->want >= 0 || l->busy) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

void dlc_loader_destroy(dlc_loader *l) {
  if (!l) return;
  if (l->started) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
  }
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  if (l->cuda) dlc_cuda_sync(l->ctx);
  for (int s = 0; s < 2; s++) {
    dlc_host_free_pinned(l->ctx, l->hx[s]);
    dlc_host_free_pinned(l->ctx, l->hy[s]);
    dlc_tensor_free(l->ctx, &l->dx[s]);
    dlc_tensor_free(l->ctx, &l->dy[s]);
    dlc_cuda_event_destroy(l->ev[s]);
  }
  free(l->order);
  free(l->by_class);
  free(l->class_start);
  free(l->present);
  free(l);
}

/* For balanced sampling: the sample indices of each class, in order (a counting sort). */
static dlc_status group_by_class(dlc_loader *l) {
  const dlc_dataset *ds = l->ds;
  int32_t C = 0;
  for (int64_t i = 0; i < ds->count; i++)
    if (ds->labels[i] >= C) C = ds->labels[i] + 1;
  l->class_start = calloc((size_t)C + 1, sizeof(int64_t));
  l->by_class = malloc(sizeof(int64_t) * (size_t)ds->count);
  l->present = malloc(sizeof(int32_t) * (size_t)(C > 0 ? C : 1));
  if (!l->class_start || !l->by_class || !l->present) return DLC_FAIL(l->ctx, DLC_ERR_OUT_OF_MEMORY, "balanced sampler");
  for (int64_t i = 0; i < ds->count; i++)
    if (ds->labels[i] >= 0) l->class_start[ds->labels[i] + 1]++;
  for (int32_t c = 0; c < C; c++) {
    if (l->class_start[c + 1] > 0) l->present[l->npresent++] = c;
    l->class_start[c + 1] += l->class_start[c];
  }
  if (l->npresent == 0) return DLC_FAIL(l->ctx, DLC_ERR_INVALID_ARG, "%s: no labelled sample to balance", ds->source);
  int64_t *at = malloc(sizeof(int64_t) * (size_t)C);
  if (!at) return DLC_FAIL(l->ctx, DLC_ERR_OUT_OF_MEMORY, "balanced sampler");
  memcpy(at, l->class_start, sizeof(int64_t) * (size_t)C);
  for (int64_t i = 0; i < ds->count; i++)
    if (ds->labels[i] >= 0) l->by_class[at[ds->labels[i]]++] = i;
  free(at);
  return DLC_OK;
}

dlc_status dlc_loader_create(dlc_ctx *ctx, const dlc_dataset *ds, const dlc_loader_options *opts,
                             dlc_loader **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, ds);
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  dlc_loader_options o = opts ? *opts : dlc_loader_options_default();
  if (o.batch <= 0) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "batch size %lld must be positive", (long long)o.batch);
  if (ds->count <= 0 || (!ds->pixels && !ds->features))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: the data set is empty", ds->source);
  if (ds->targets ? ds->num_targets < 1 : !ds->labels)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: the data set has no %s", ds->source, ds->targets ? "targets" : "labels");
  if (o.crop_pad < 0 || (o.crop_pad && ds->features))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "random crop needs images and a padding >= 0");
  if (!(o.rotate >= 0 && o.rotate <= 180) || !(o.erase >= 0 && o.erase <= 1) || !(o.brightness >= 0 && o.brightness <= 1) ||
      !(o.contrast >= 0 && o.contrast <= 1))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG,
                    "augmentation: rotate %g (0 to 180 degrees), erase %g, brightness %g, contrast %g (0 to 1)", o.rotate,
                    o.erase, o.brightness, o.contrast);
  if ((o.rotate > 0 || o.erase > 0 || o.brightness > 0 || o.contrast > 0) && ds->features)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: rotation, erasing and colour jitter need images", ds->source);
  if (o.balanced && !ds->labels)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "%s: class-balanced sampling needs class labels", ds->source);
  for (int c = 0; c < 3; c++)
    if (o.normalize && !(o.std[c] > 0.f))
      return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "normalisation std[%d] = %g must be > 0", c, o.std[c]);
  dlc_loader *l = calloc(1, sizeof *l);
  if (!l) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "loader");
  l->ctx = ctx;
  l->ds = ds;
  l->o = o;
  l->sample = (int64_t)ds->channels * ds->height * ds->width;
  l->K = ds->targets ? ds->num_targets : 0;
  l->nbatches = o.drop_last ? ds->count / o.batch : (ds->count + o.batch - 1) / o.batch;
  l->cuda = ctx->device.kind == DLC_DEVICE_CUDA;
  l->want = -1;
  l->done[0] = l->done[1] = -1;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  dlc_status s = DLC_OK;
  l->order = malloc(sizeof(int64_t) * (size_t)ds->count);
  if (!l->order) s = DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "loader order");
  if (s == DLC_OK && o.balanced) s = group_by_class(l);
  int64_t xs[4] = {o.batch, ds->channels, ds->height, ds->width}, ys[2] = {o.batch, l->K};
  size_t ybytes = l->K ? sizeof(float) * (size_t)(o.batch * l->K) : sizeof(int32_t) * (size_t)o.batch;
  for (int k = 0; k < 2 && s == DLC_OK; k++) {
    s = dlc_host_alloc_pinned(ctx, (void **)&l->hx[k], sizeof(float) * (size_t)(o.batch * l->sample));
    if (s == DLC_OK) s = dlc_host_alloc_pinned(ctx, &l->hy[k], ybytes);
    if (s == DLC_OK && l->cuda) s = dlc_tensor_alloc(ctx, &l->dx[k], DLC_F32, 4, xs, ctx->device);
    if (s == DLC_OK && l->cuda)
      s = dlc_tensor_alloc(ctx, &l->dy[k], l->K ? DLC_F32 : DLC_I32, l->K ? 2 : 1, ys, ctx->device);
    if (s == DLC_OK && l->cuda) s = dlc_cuda_event_create(ctx, &l->ev[k]);
    if (s == DLC_OK && l->cuda) s = dlc_cuda_event_record(ctx, l->ev[k]);
  }
  if (s == DLC_OK && pthread_create(&l->thread, NULL, worker, l) != 0)
    s = DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "loader: cannot start its thread");
  else if (s == DLC_OK)
    l->started = 1;
  if (s != DLC_OK) {
    dlc_loader_destroy(l);
    return s;
  }
  *out = l;
  return dlc_loader_start(l, 0, 0);
}

dlc_status dlc_loader_start(dlc_loader *l, int64_t epoch, int64_t start) {
  if (!l) return DLC_ERR_INVALID_ARG;
  if (start < 0 || start > l->nbatches)
    return DLC_FAIL(l->ctx, DLC_ERR_INVALID_ARG, "loader: batch %lld of %lld", (long long)start, (long long)l->nbatches);
  wait_idle(l);
  l->epoch = epoch;
  l->next = start;
  l->done[0] = l->done[1] = -1;
  shuffle(l);
  if (start < l->nbatches) request(l, start);
  return DLC_OK;
}

dlc_status dlc_loader_next(dlc_loader *l, dlc_tensor *x, dlc_tensor *labels, int64_t *n) {
  if (!l) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = l->ctx;
  DLC_CHECK_NULL(ctx, x);
  DLC_CHECK_NULL(ctx, labels);
  DLC_CHECK_NULL(ctx, n);
  *n = 0;
  int64_t b = l->next;
  if (b >= l->nbatches) return DLC_OK;
  int slot = (int)(b % 2);
  pthread_mutex_lock(&l->mu);
  while (l->done[slot] != b) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
  int64_t nb = batch_size(l, b);
  int64_t xs[4] = {nb, l->ds->channels, l->ds->height, l->ds->width};
  void *xd = l->hx[slot], *yd = l->hy[slot];
  if (l->cuda) {
    DLC_TRY(dlc_cuda_memcpy_async(ctx, l->dx[slot].data, l->hx[slot], sizeof(float) * (size_t)(nb * l->sample), 1));
    DLC_TRY(dlc_cuda_memcpy_async(ctx, l->dy[slot].data, l->hy[slot],
                                  l->K ? sizeof(float) * (size_t)(nb * l->K) : sizeof(int32_t) * (size_t)nb, 1));
    DLC_TRY(dlc_cuda_event_record(ctx, l->ev[slot]));
    xd = l->dx[slot].data;
    yd = l->dy[slot].data;
  }
  DLC_TRY(dlc_tensor_borrow(ctx, x, xd, DLC_F32, 4, xs, ctx->device));
  int64_t ys[2] = {nb, l->K};
  DLC_TRY(dlc_tensor_borrow(ctx, labels, yd, l->K ? DLC_F32 : DLC_I32, l->K ? 2 : 1, ys, ctx->device));
  l->next = b + 1;
  if (b + 1 < l->nbatches) request(l, b + 1);
  *n = nb;
  return DLC_OK;
}
