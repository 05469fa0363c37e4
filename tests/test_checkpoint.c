/* Checkpoints: training stopped (at an epoch's end or in the middle of one), saved, and
 * resumed in a new context, network, optimizer and loader gives the same losses, bit for
 * bit, and the same final weights and optimizer state as a run never stopped (with dropout,
 * batchnorm, shuffling and flips, under SGD with momentum and under Adam with clipping).
 * A failed write leaves the previous checkpoint intact; bad checkpoints are refused, a
 * checkpoint whose data does not match its checksum among them. Two processes writing one
 * file at once always leave one of them whole (never a mix), and the output lock lets one
 * process alone hold a path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/atomic_file.h"
#include "nn/weights.h"
#include "testutil.h"

#define EPOCHS 3
#define MAX_STEPS 64

static char dir[256];
static dlc_dataset ds;

static const char *tmp(const char *name) {
  return t_join(dir, name);
}

/* One training setup: what a `dlcuda train` process holds. */
typedef struct run {
  dlc_ctx *ctx;
  dlc_net *net;
  dlc_optim *opt;
  dlc_loader *loader;
  int64_t nb;
} run;

static void start(run *r, uint64_t seed, int adam, const char *resume_from) {
  memset(r, 0, sizeof *r);
  r->ctx = t_cpu_ctx(seed);
  dlc_checkpoint_info info;
  if (resume_from) { /* the loader's order depends on the seed: take it from the checkpoint first */
    T_OK(r->ctx, dlc_checkpoint_read_info(r->ctx, resume_from, &info));
    T_OK(r->ctx, dlc_ctx_set_seed(r->ctx, info.seed));
  }
  dlc_train_config cfg;
  char path[1024];
  snprintf(path, sizeof path, "%s/io/cnn.cfg", DLC_FIXTURE_DIR);
  T_OK(r->ctx, dlc_model_load(r->ctx, path, 0, &r->net, &cfg));
  cfg.loader.batch = cfg.batch;
  cfg.loader.flip = 1;
  cfg.loader.normalize = 1;
  cfg.loader.mean[0] = 0.5f;
  cfg.loader.std[0] = 0.25f;
  cfg.loader.seed = dlc_ctx_seed(r->ctx);
  T_OK(r->ctx, dlc_loader_create(r->ctx, &ds, &cfg.loader, &r->loader));
  r->nb = dlc_loader_batches(r->loader);
  if (adam) {
    cfg.optim.kind = DLC_OPT_ADAM;
    cfg.optim.lr = 3e-3f;
    cfg.optim.clip_norm = 0.5f;
  }
  cfg.optim.schedule = DLC_LR_COSINE; /* the step count drives the learning rate */
  cfg.optim.total_steps = r->nb * EPOCHS;
  cfg.optim.warmup_steps = 2;
  T_OK(r->ctx, dlc_optim_create(r->ctx, &cfg.optim, dlc_net_params(r->net)->numel, &r->opt));
  if (resume_from) {
    dlc_checkpoint_info got;
    T_OK(r->ctx, dlc_checkpoint_load(r->net, r->opt, resume_from, &got));
    T_CHECK(got.epoch == info.epoch && got.batch == info.batch && got.batches_per_epoch == r->nb,
            "checkpoint info: epoch %lld batch %lld of %lld", (long long)got.epoch, (long long)got.batch,
            (long long)got.batches_per_epoch);
    T_CHECK(dlc_ctx_seed(r->ctx) == info.seed && dlc_ctx_rng_offset(r->ctx) == info.rng_offset &&
                dlc_optim_steps(r->opt) == info.step, "seed, generator offset and step restored");
  }
}

static void stop(run *r) {
  dlc_loader_destroy(r->loader);
  dlc_optim_destroy(r->opt);
  dlc_net_destroy(r->net);
  dlc_ctx_destroy(r->ctx);
}

/* Trains batch by batch from (epoch, batch) until `until` steps in all (or the end),
 * recording each step's loss at its global index. Returns the global step reached. */
static int64_t train(run *r, int64_t epoch, int64_t batch, int64_t until, double *loss) {
  int64_t step = epoch * r->nb + batch;
  for (int64_t e = epoch; e < EPOCHS; e++)
    for (int64_t b = e == epoch ? batch : 0; b < r->nb; b++) {
      if (step == until) return step;
      dlc_epoch_stats st;
      T_OK(r->ctx, dlc_net_train_batches(r->net, r->opt, r->loader, e, b, 1, NULL, NULL, &st));
      loss[step++] = st.loss;
    }
  return step;
}

static void checkpoint(run *r, int64_t step, const char *path) {
  dlc_checkpoint_info info = {step / r->nb, step % r->nb, r->nb, 0, 0, 0};
  T_OK(r->ctx, dlc_checkpoint_save(r->net, r->opt, &info, path));
}

static void resume_case(int adam) {
  const char *kind = adam ? "Adam" : "SGD";
  double ref[MAX_STEPS], got[MAX_STEPS];
  memset(ref, 0, sizeof ref);
  memset(got, 0, sizeof got);
  run r;
  start(&r, 77, adam, NULL);
  int64_t total = train(&r, 0, 0, -1, ref);
  T_CHECK(total == EPOCHS * r.nb && total <= MAX_STEPS, "%lld steps", (long long)total);
  T_CHECK(ref[total - 1] != ref[0], "%s: the loss moves (%g -> %g)", kind, ref[0], ref[total - 1]);
  char ref_w[512], ref_c[512];
  snprintf(ref_w, sizeof ref_w, "%s", tmp("ref.safetensors"));
  snprintf(ref_c, sizeof ref_c, "%s", tmp("ref.ckpt"));
  T_OK(r.ctx, dlc_net_save_weights(r.net, ref_w));
  checkpoint(&r, total, ref_c);
  int64_t nb = r.nb;
  stop(&r);

  /* Stop at an epoch boundary, in the middle of an epoch, and after the first batch. */
  int64_t stops[3] = {nb, nb + nb / 2 + 1, 1};
  for (int i = 0; i < 3; i++) {
    const char *ck = tmp("stop.ckpt"), *w = tmp("w.safetensors"), *c = tmp("end.ckpt");
    start(&r, 77, adam, NULL);
    int64_t at = train(&r, 0, 0, stops[i], got);
    checkpoint(&r, at, ck);
    stop(&r);
    /* A new process: another seed on the command line, which the checkpoint overrides. */
    start(&r, 12345, adam, ck);
    int64_t end = train(&r, at / nb, at % nb, -1, got);
    T_CHECK(end == total, "resumed run ends at step %lld", (long long)end);
    T_CHECK(memcmp(ref, got, sizeof(double) * (size_t)total) == 0,
            "%s, stopped after %lld of %lld steps: every loss bit-identical to the unstopped run", kind,
            (long long)at, (long long)total);
    for (int64_t s = 0; s < total; s++)
      if (ref[s] != got[s]) {
        printf("  step %lld: %.17g vs %.17g\n", (long long)s, ref[s], got[s]);
        break;
      }
    T_OK(r.ctx, dlc_net_save_weights(r.net, w));
    checkpoint(&r, end, c);
    T_CHECK(t_same_file(ref_w, w), "%s, stopped at %lld: the same final weights, byte for byte", kind, (long long)at);
    T_CHECK(t_same_file(ref_c, c), "%s, stopped at %lld: the same final checkpoint (optimizer state, step, offset)",
            kind, (long long)at);
    stop(&r);
  }

  /* Whole epochs in one call each give what batch-by-batch training gave. */
  start(&r, 77, adam, NULL);
  for (int e = 0; e < EPOCHS; e++) {
    dlc_epoch_stats st;
    T_OK(r.ctx, dlc_net_train_epoch(r.net, r.opt, r.loader, e, 0, NULL, NULL, &st));
  }
  const char *w = tmp("epochs.safetensors");
  T_OK(r.ctx, dlc_net_save_weights(r.net, w));
  T_CHECK(t_same_file(ref_w, w), "%s: dlc_net_train_epoch and dlc_net_train_batches train the same", kind);
  stop(&r);
}

/* Rewrites a checkpoint with one metadata value replaced (value NULL: the key dropped). */
static void rewrite(dlc_ctx *ctx, const char *src, const char *dst, const char *key, const char *value) {
  dlc_safetensors *st = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, src, &st));
  if (!st) return;
  int n = dlc_safetensors_count(st), m = dlc_safetensors_metadata_count(st), nm = 0;
  dlc_tensor *t = calloc((size_t)n, sizeof *t);
  dlc_named_tensor *list = calloc((size_t)n, sizeof *list);
  const char **meta = calloc((size_t)(2 * m + 2), sizeof *meta);
  for (int k = 0; k < n; k++) {
    dlc_safetensors_tensor_info info;
    dlc_safetensors_info(st, k, &info);
    T_OK(ctx, dlc_safetensors_load(st, k, &t[k]));
    list[k] = (dlc_named_tensor){info.name, &t[k]};
  }
  for (int i = 0; i < m; i++) {
    const char *k, *v;
    dlc_safetensors_metadata_at(st, i, &k, &v);
    if (strcmp(k, key) == 0) {
      if (!value) continue;
      v = value;
    }
    meta[2 * nm] = k;
    meta[2 * nm + 1] = v;
    nm++;
  }
  T_OK(ctx, dlc_safetensors_save(ctx, dst, list, n, meta, nm));
  for (int k = 0; k < n; k++) dlc_tensor_free(ctx, &t[k]);
  free(t);
  free(list);
  free(meta);
  dlc_safetensors_destroy(st);
}

static void refusals(void) {
  run r;
  start(&r, 5, 0, NULL);
  double loss[MAX_STEPS];
  train(&r, 0, 0, 2, loss);
  const char *good = tmp("good.ckpt"), *copy = tmp("copy.ckpt"), *bad = tmp("bad.ckpt");
  checkpoint(&r, 2, good);
  checkpoint(&r, 2, copy);
  dlc_ctx *ctx = r.ctx;
  /* A full disk while checkpointing: an error, and the previous checkpoint still whole. */
  train(&r, 0, 2, 3, loss);
  for (int k = 0; k < 2; k++) {
    dlc_test_fail_writes_after(ctx, k == 0 ? 1000 : 1 << 30);
    dlc_checkpoint_info info = {0, 3, r.nb, 0, 0, 0};
    T_FAILS(ctx, DLC_ERR_IO, "No space left on device", dlc_checkpoint_save(r.net, r.opt, &info, good));
    T_CHECK(t_same_file(good, copy), "the previous checkpoint survives a failed write (%s)", k ? "at fsync" : "mid-file");
    T_CHECK(t_temp_files(good) == 0, "no temporary file remains");
  }
  /* Weights load from a checkpoint (the optimizer's tensors are skipped). */
  T_OK(ctx, dlc_net_load_weights(r.net, good));
  /* Not a checkpoint; other optimizers; damaged metadata. */
  const char *w = tmp("plain.safetensors");
  T_OK(ctx, dlc_net_save_weights(r.net, w));
  T_FAILS(ctx, DLC_ERR_FORMAT, "not a libdlcuda checkpoint (metadata format is \"pt\"", dlc_checkpoint_load(r.net, r.opt, w, NULL));
  dlc_optim_options oo = dlc_optim_options_default();
  dlc_optim *adam, *plain;
  oo.kind = DLC_OPT_ADAM;
  T_OK(ctx, dlc_optim_create(ctx, &oo, dlc_net_params(r.net)->numel, &adam));
  T_FAILS(ctx, DLC_ERR_FORMAT, "the checkpoint's optimizer is \"sgd\" but this one is adam",
          dlc_checkpoint_load(r.net, adam, good, NULL));
  oo.kind = DLC_OPT_SGD;
  T_OK(ctx, dlc_optim_create(ctx, &oo, dlc_net_params(r.net)->numel, &plain));
  T_FAILS(ctx, DLC_ERR_FORMAT, "has \"optimizer.momentum_buffer\" but the optimizer keeps no such state (momentum 0?)",
          dlc_checkpoint_load(r.net, plain, good, NULL));
  dlc_checkpoint_info info;
  T_OK(ctx, dlc_checkpoint_load(r.net, NULL, good, &info)); /* no optimizer: its state is skipped */
  T_CHECK(info.batch == 2 && info.step == 2, "checkpoint info: batch %lld, step %lld", (long long)info.batch,
          (long long)info.step);
  rewrite(ctx, good, bad, "epoch", "-1");
  T_FAILS(ctx, DLC_ERR_FORMAT, "\"epoch\" = \"-1\" is not an integer", dlc_checkpoint_load(r.net, r.opt, bad, NULL));
  rewrite(ctx, good, bad, "seed", NULL);
  T_FAILS(ctx, DLC_ERR_FORMAT, "checkpoint metadata has no \"seed\"", dlc_checkpoint_read_info(ctx, bad, &info));
  rewrite(ctx, good, bad, "seed", "18446744073709551616");
  T_FAILS(ctx, DLC_ERR_FORMAT, "\"seed\" = \"18446744073709551616\" is not an integer", dlc_checkpoint_read_info(ctx, bad, &info));
  rewrite(ctx, good, bad, "batch", "99");
  T_FAILS(ctx, DLC_ERR_FORMAT, "batch 99 is past the", dlc_checkpoint_read_info(ctx, bad, &info));
  rewrite(ctx, good, bad, "version", "2");
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "checkpoint version \"2\"", dlc_checkpoint_load(r.net, r.opt, bad, NULL));
  /* A refused load changed nothing: the state still saves as it was. */
  const char *after = tmp("after.safetensors");
  T_OK(ctx, dlc_net_save_weights(r.net, after));
  T_CHECK(t_same_file(w, after), "refused checkpoints leave the network alone");
  dlc_optim_destroy(adam);
  dlc_optim_destroy(plain);
  stop(&r);
}

/* Two processes each write 40 versions of one file (4096 floats all equal to the writer's
 * value, and a "writer" metadata entry) as fast as they can; at every moment, and at the
 * end, the file is one writer's whole version: its checksum holds and its data is the
 * value its metadata names. */
static void concurrent_writers(void) {
  const char *path = tmp("race.safetensors");
  pid_t kids[2];
  for (int w = 0; w < 2; w++) {
    kids[w] = fork();
    if (kids[w] == 0) {
      dlc_ctx *c = t_cpu_ctx(1);
      int64_t n = 4096;
      dlc_tensor t;
      dlc_device cpu = {DLC_DEVICE_CPU, 0};
      if (dlc_tensor_alloc(c, &t, DLC_F32, 1, &n, cpu) != DLC_OK) _exit(2);
      char who[8];
      snprintf(who, sizeof who, "%d", w);
      const char *meta[] = {"writer", who};
      dlc_named_tensor nt = {"x", &t};
      for (int k = 0; k < 40; k++) {
        dlc_op_fill(c, &t, (float)(w * 1000 + k));
        if (dlc_safetensors_save_ex(c, path, &nt, 1, meta, 1, 1) != DLC_OK) _exit(3);
      }
      _exit(0);
    }
  }
  int reads = 0, torn = 0;
  dlc_ctx *ctx = t_cpu_ctx(1);
  for (int alive = 2; alive > 0;) {
    for (int w = 0; w < 2; w++) {
      int st;
      if (kids[w] > 0 && waitpid(kids[w], &st, WNOHANG) == kids[w]) {
        T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d ended with status %d", w, st);
        kids[w] = 0;
        alive--;
      }
    }
    dlc_safetensors *st = NULL;
    if (access(path, F_OK) != 0 || dlc_safetensors_open(ctx, path, &st) != DLC_OK) continue;
    reads++;
    int present = 0;
    dlc_tensor x;
    memset(&x, 0, sizeof x);
    const char *who = dlc_safetensors_metadata(st, "writer");
    if (dlc_safetensors_verify(st, &present) != DLC_OK || !present || !who || dlc_safetensors_load(st, 0, &x) != DLC_OK) {
      torn++;
    } else {
      const float *v = x.data;
      int w = atoi(who);
      for (int64_t i = 0; i < x.numel; i++)
        if (v[i] != v[0] || (int)(v[0] / 1000) != w) {
          torn++;
          break;
        }
    }
    dlc_tensor_free(ctx, &x);
    dlc_safetensors_destroy(st);
  }
  T_CHECK(reads > 0 && torn == 0, "two writers on one file: %d of %d reads saw a torn or mixed file", torn, reads);
  T_CHECK(t_temp_files(path) == 0, "no temporary files remain after two writers");
  printf("two concurrent writers: %d reads, %d torn\n", reads, torn);

  /* The checksum: a changed data byte is refused; metadata naming another sum too. */
  dlc_safetensors *st = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, path, &st));
  if (st) {
    T_OK(ctx, dlc_safetensors_verify(st, NULL));
    dlc_safetensors_destroy(st);
  }
  FILE *f = fopen(path, "r+b");
  if (f) {
    fseek(f, -5, SEEK_END);
    int b = fgetc(f);
    fseek(f, -5, SEEK_END);
    fputc(b ^ 0x10, f); /* one bit of the data changed */
    fclose(f);
  }
  T_OK(ctx, dlc_safetensors_open(ctx, path, &st));
  if (st) {
    T_FAILS(ctx, DLC_ERR_FORMAT, "does not match the header's checksum", dlc_safetensors_verify(st, NULL));
    dlc_safetensors_destroy(st);
  }
  dlc_ctx_destroy(ctx);
}

/* dlc_file_lock: a second process is refused with the holder's pid; the holder's death
 * releases the lock; in the holder's own process a release leaves no lock file. */
static void output_lock(void) {
  const char *path = tmp("locked.ckpt");
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return;
  pid_t kid = fork();
  if (kid == 0) {
    dlc_ctx *c = t_cpu_ctx(1);
    dlc_file_lock *l = NULL;
    char ok = dlc_file_lock_acquire(c, path, &l) == DLC_OK ? 'y' : 'n';
    if (write(up[1], &ok, 1) != 1) _exit(2);
    if (read(down[0], &ok, 1) != 1) _exit(2); /* hold until told */
    _exit(0);                                 /* dies holding it */
  }
  char ok = 0;
  T_CHECK(read(up[0], &ok, 1) == 1 && ok == 'y', "the child took the lock");
  dlc_ctx *ctx = t_cpu_ctx(1);
  dlc_file_lock *l = NULL;
  char needle[64];
  snprintf(needle, sizeof needle, "another process (pid %ld)", (long)kid);
  T_FAILS(ctx, DLC_ERR_IO, needle, dlc_file_lock_acquire(ctx, path, &l));
  if (write(down[1], &ok, 1) != 1) return;
  int st;
  waitpid(kid, &st, 0);
  T_OK(ctx, dlc_file_lock_acquire(ctx, path, &l));
  dlc_file_lock_destroy(l);
  char lockfile[600];
  snprintf(lockfile, sizeof lockfile, "%s.lock", path);
  T_CHECK(access(lockfile, F_OK) != 0, "a released lock leaves no lock file");
  dlc_ctx_destroy(ctx);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/dlc_ckpt_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  /* 43 images of 1x12x12: five batches of 8 and one of 3 per epoch. */
  ds.count = 43;
  ds.channels = 1;
  ds.height = ds.width = 12;
  ds.num_classes = 10;
  ds.pixels = malloc((size_t)ds.count * 144);
  ds.labels = malloc(sizeof(int32_t) * (size_t)ds.count);
  float *f = malloc(sizeof(float) * (size_t)ds.count * 144);
  t_fill_uniform(f, ds.count * 144, 9, 0, 255);
  for (int64_t i = 0; i < ds.count * 144; i++) ds.pixels[i] = (uint8_t)f[i];
  for (int64_t i = 0; i < ds.count; i++) ds.labels[i] = (int32_t)((i * 7) % 10);
  free(f);
  snprintf(ds.source, sizeof ds.source, "test images");
  resume_case(0);
  resume_case(1);
  refusals();
  concurrent_writers();
  output_lock();
  dlc_dataset_free(&ds);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (!getenv("DLC_KEEP_TMP") && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return t_finish("test_checkpoint");
}
