/* Model weights in and out: PyTorch's safetensors (tests/fixtures/gen_io.py) loaded into the
 * same architecture give PyTorch's logits (a CNN with batchnorm, an LSTM); what libdlcuda
 * writes reads back bit for bit and matches a committed file that PyTorch was checked to
 * load; strict loading names the missing, extra, misshapen or mistyped tensor and changes
 * nothing when it refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static char dir[256];

static const char *fx(const char *rel) {
  return t_join(DLC_FIXTURE_DIR, rel);
}

static const char *tmp(const char *name) {
  return t_join(dir, name);
}

/* Every tensor of a equals the tensor of b with its name, byte for byte. */
static int same_tensors(dlc_ctx *ctx, dlc_net *a, dlc_net *b, int quiet) {
  int n = dlc_net_tensor_count(a), ok = n == dlc_net_tensor_count(b);
  for (int k = 0; k < n && ok; k++) {
    char na[64], nb[64];
    dlc_tensor va, vb;
    dlc_net_tensor(a, k, na, sizeof na, &va, NULL, NULL);
    dlc_net_tensor(b, k, nb, sizeof nb, &vb, NULL, NULL);
    void *ha = malloc(va.nbytes), *hb = malloc(vb.nbytes);
    ok = strcmp(na, nb) == 0 && va.nbytes == vb.nbytes && dlc_tensor_download(ctx, &va, ha, va.nbytes) == DLC_OK &&
         dlc_tensor_download(ctx, &vb, hb, vb.nbytes) == DLC_OK && memcmp(ha, hb, va.nbytes) == 0;
    if (!ok && !quiet) printf("tensor %d (%s) differs\n", k, na);
    free(ha);
    free(hb);
  }
  return ok;
}

static int64_t counter(dlc_net *net, const char *want) {
  for (int k = 0; k < dlc_net_tensor_count(net); k++) {
    char name[64];
    dlc_tensor v;
    dlc_net_tensor(net, k, name, sizeof name, &v, NULL, NULL);
    if (strcmp(name, want) == 0 && v.dtype == DLC_I64) return *(int64_t *)v.data;
  }
  return -1;
}

/* Backward from PyTorch's output gradient: the input's and the parameters' gradients. The
 * CNN runs in evaluation mode (batchnorm's statistics are constants, dropout is the
 * identity); the LSTM in training mode, which computes the same (it has no dropout) and
 * which its backward needs. */
static void gradients(dlc_ctx *ctx, dlc_net *net, const char *model, const dlc_tensor *x) {
  char rel[128], what[160];
  int train = strcmp(model, "lstm") == 0;
  dlc_tensor dy, want, y, dx;
  snprintf(rel, sizeof rel, "io/%s_dy.npy", model);
  if (!t_fixture(ctx, rel, &dy)) return;
  snprintf(rel, sizeof rel, "io/%s_dx.npy", model);
  if (!t_fixture(ctx, rel, &want)) return;
  T_OK(ctx, dlc_net_input_grad(net, 1, NULL));
  T_OK(ctx, dlc_net_zero_grad(net));
  T_OK(ctx, dlc_net_forward(net, x, train, &y));
  T_OK(ctx, dlc_tensor_reshape(ctx, &dy, y.ndim, y.shape));
  T_OK(ctx, dlc_net_backward_from(net, &dy));
  T_OK(ctx, dlc_net_input_grad(net, 1, &dx));
  snprintf(what, sizeof what, "%s input gradient vs PyTorch (%s mode)", model, train ? "training" : "evaluation");
  t_parity(what, want.data, dx.data, want.numel, 1e-10, 2e-5);
  dlc_tensor_free(ctx, &want);
  dlc_safetensors *st = NULL;
  snprintf(rel, sizeof rel, "io/%s_grads.safetensors", model);
  T_OK(ctx, dlc_safetensors_open(ctx, fx(rel), &st));
  int checked = 0;
  for (int k = 0; st && k < dlc_net_tensor_count(net); k++) {
    char name[64];
    dlc_tensor v, g;
    int buffer;
    dlc_net_tensor(net, k, name, sizeof name, &v, &g, &buffer);
    if (buffer) continue;
    int i = dlc_safetensors_find(st, name);
    T_CHECK(i >= 0, "PyTorch has a gradient for %s", name);
    if (i < 0 || dlc_safetensors_load(st, i, &want) != DLC_OK) continue;
    snprintf(what, sizeof what, "%s grad %s vs PyTorch", model, name);
    t_parity(what, want.data, g.data, want.numel, 1e-10, 2e-5);
    dlc_tensor_free(ctx, &want);
    checked++;
  }
  T_CHECK(st && checked == dlc_safetensors_count(st), "every parameter gradient compared (%d)", checked);
  dlc_safetensors_destroy(st);
  T_OK(ctx, dlc_net_input_grad(net, 0, NULL));
  if (train) { /* a recurrent layer refuses backward after an evaluation forward */
    T_OK(ctx, dlc_net_forward(net, x, 0, NULL));
    T_FAILS(ctx, DLC_ERR_INVALID_ARG, "backward needs a training-mode forward", dlc_net_backward_from(net, &dy));
  }
  dlc_tensor_free(ctx, &dy);
}

/* Loads PyTorch's weights, compares the logits, exports and re-imports. */
static void against_pytorch(dlc_ctx *ctx, const char *model) {
  char rel[128], what[128], cfg[1024], torch_file[1024];
  dlc_net *net = NULL, *again = NULL;
  snprintf(rel, sizeof rel, "io/%s.cfg", model);
  snprintf(cfg, sizeof cfg, "%s", fx(rel));
  T_OK(ctx, dlc_model_load(ctx, cfg, 8, &net, NULL));
  if (!net) return;
  snprintf(rel, sizeof rel, "io/%s_torch.safetensors", model);
  snprintf(torch_file, sizeof torch_file, "%s", fx(rel));
  T_OK(ctx, dlc_net_load_weights(net, torch_file));
  dlc_tensor x, want, logits;
  snprintf(rel, sizeof rel, "io/%s_x.npy", model);
  int have = t_fixture(ctx, rel, &x);
  snprintf(rel, sizeof rel, "io/%s_logits.npy", model);
  have = have && t_fixture(ctx, rel, &want);
  if (have) {
    T_OK(ctx, dlc_net_forward(net, &x, 0, &logits));
    snprintf(what, sizeof what, "%s logits, PyTorch's weights", model);
    t_parity(what, want.data, logits.data, want.numel, 1e-10, 2e-5);
  }
  /* Out and back in: the same bytes. */
  const char *a = tmp("a.safetensors"), *b = tmp("b.safetensors");
  T_OK(ctx, dlc_net_save_weights(net, a));
  T_OK(ctx, dlc_model_load(ctx, cfg, 8, &again, NULL));
  if (again) {
    T_CHECK(!same_tensors(ctx, net, again, 1), "%s: a fresh network differs before loading", model);
    T_OK(ctx, dlc_net_load_weights(again, a));
    T_CHECK(same_tensors(ctx, net, again, 0), "%s: weights read back bit for bit", model);
    T_OK(ctx, dlc_net_save_weights(again, b));
    T_CHECK(t_same_file(a, b), "%s: writing the re-read weights gives the same file", model);
    dlc_net_destroy(again);
  }
  /* Every tensor PyTorch wrote is in our file with the same bytes. */
  dlc_safetensors *pt = NULL, *ours = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, torch_file, &pt));
  T_OK(ctx, dlc_safetensors_open(ctx, a, &ours));
  if (pt && ours) {
    T_CHECK(dlc_safetensors_count(pt) == dlc_safetensors_count(ours), "%s: %d tensors in PyTorch's file, %d in ours",
            model, dlc_safetensors_count(pt), dlc_safetensors_count(ours));
    int same = 1;
    for (int k = 0; k < dlc_safetensors_count(pt); k++) {
      dlc_safetensors_tensor_info info;
      dlc_tensor t1, t2;
      dlc_safetensors_info(pt, k, &info);
      int j = dlc_safetensors_find(ours, info.name);
      if (j < 0 || dlc_safetensors_load(pt, k, &t1) != DLC_OK || dlc_safetensors_load(ours, j, &t2) != DLC_OK) {
        same = 0;
        continue;
      }
      if (t1.nbytes != t2.nbytes || t1.ndim != t2.ndim || memcmp(t1.data, t2.data, t1.nbytes) != 0) {
        printf("%s differs\n", info.name);
        same = 0;
      }
      dlc_tensor_free(ctx, &t1);
      dlc_tensor_free(ctx, &t2);
    }
    T_CHECK(same, "%s: PyTorch's tensors come back out of libdlcuda byte for byte", model);
    T_CHECK(strcmp(dlc_safetensors_metadata(ours, "format"), "pt") == 0, "metadata format = pt");
  }
  dlc_safetensors_destroy(pt);
  dlc_safetensors_destroy(ours);
  /* The file PyTorch was checked to load (gen_io.py --check): our writer still makes it. */
  snprintf(rel, sizeof rel, "io/%s_dlcuda.safetensors", model);
  if (getenv("DLC_WRITE_FIXTURES")) {
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, fx(rel));
    T_CHECK(system(cmd) == 0, "%s", cmd);
  }
  T_CHECK(t_same_file(a, fx(rel)), "%s: the export equals the committed %s", model, rel);
  if (have) gradients(ctx, net, model, &x);
  if (have) {
    dlc_tensor_free(ctx, &x);
    dlc_tensor_free(ctx, &want);
  }
  dlc_net_destroy(net);
}

static void batch_counter(dlc_ctx *ctx) {
  dlc_net *net = NULL;
  T_OK(ctx, dlc_model_load(ctx, fx("io/cnn.cfg"), 8, &net, NULL));
  if (!net) return;
  T_CHECK(counter(net, "1.num_batches_tracked") == 0, "a new batchnorm has counted nothing");
  T_OK(ctx, dlc_net_load_weights(net, fx("io/cnn_torch.safetensors")));
  T_CHECK(counter(net, "1.num_batches_tracked") == 3 && counter(net, "5.num_batches_tracked") == 3,
          "PyTorch's count (3 training steps) loaded: %lld", (long long)counter(net, "1.num_batches_tracked"));
  dlc_tensor x;
  if (t_fixture(ctx, "io/cnn_x.npy", &x)) {
    T_OK(ctx, dlc_net_forward(net, &x, 1, NULL));
    T_OK(ctx, dlc_net_forward(net, &x, 0, NULL));
    T_CHECK(counter(net, "1.num_batches_tracked") == 4, "a training forward counts, an evaluation one does not");
    dlc_tensor_free(ctx, &x);
  }
  dlc_net_destroy(net);
}

/* Writes the tensors of PyTorch's CNN file, edited, and checks the load refuses it. */
static void strict(dlc_ctx *ctx) {
  dlc_net *net = NULL;
  T_OK(ctx, dlc_model_load(ctx, fx("io/cnn.cfg"), 8, &net, NULL));
  dlc_safetensors *st = NULL;
  T_OK(ctx, dlc_safetensors_open(ctx, fx("io/cnn_torch.safetensors"), &st));
  if (!net || !st) return;
  int n = dlc_safetensors_count(st);
  dlc_tensor t[32];
  dlc_named_tensor list[33];
  char names[32][64];
  for (int k = 0; k < n && k < 32; k++) {
    dlc_safetensors_tensor_info info;
    dlc_safetensors_info(st, k, &info);
    snprintf(names[k], sizeof names[k], "%s", info.name);
    T_OK(ctx, dlc_safetensors_load(st, k, &t[k]));
    list[k].name = names[k];
    list[k].tensor = &t[k];
  }
  int w = dlc_safetensors_find(st, "0.weight"), bias = dlc_safetensors_find(st, "0.bias"),
      nbt = dlc_safetensors_find(st, "1.num_batches_tracked"), last = dlc_safetensors_find(st, "11.bias");
  dlc_safetensors_destroy(st);
  T_CHECK(n == 18 && w >= 0 && bias >= 0 && nbt >= 0 && last >= 0, "PyTorch's file: %d tensors", n);
  if (n != 18 || w < 0 || bias < 0 || nbt < 0 || last < 0) return;
  /* A fresh network, saved, to check that refused loads change nothing. */
  const char *before = tmp("before.safetensors"), *after = tmp("after.safetensors"), *bad = tmp("bad.safetensors");
  T_OK(ctx, dlc_net_save_weights(net, before));
  dlc_device cpu = {DLC_DEVICE_CPU, 0};

  /* A missing tensor: the last one left out. */
  dlc_named_tensor keep = list[last];
  list[last] = list[n - 1];
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n - 1, NULL, 0));
  list[last] = keep;
  T_FAILS(ctx, DLC_ERR_FORMAT, "the network's tensor \"11.bias\" (float32 [10]) is not in the file",
          dlc_net_load_weights(net, bad));
  /* An extra tensor. */
  list[n] = (dlc_named_tensor){"12.weight", &t[w]};
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n + 1, NULL, 0));
  T_FAILS(ctx, DLC_ERR_FORMAT, "tensor \"12.weight\" in the file is not in the network", dlc_net_load_weights(net, bad));
  /* A wrong shape: conv weights flattened to [4, 9]. */
  dlc_tensor flat = t[w];
  int64_t s49[2] = {4, 9};
  flat.owns = 0;
  T_OK(ctx, dlc_tensor_reshape(ctx, &flat, 2, s49));
  list[w].tensor = &flat;
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n, NULL, 0));
  list[w].tensor = &t[w];
  T_FAILS(ctx, DLC_ERR_SHAPE, "tensor \"0.weight\" is [4, 9] in the file but [4, 1, 3, 3] in the network",
          dlc_net_load_weights(net, bad));
  /* Wrong dtypes: a float16 bias, an int32 batch count. */
  dlc_tensor half, i32;
  int64_t four = 4;
  T_OK(ctx, dlc_tensor_alloc(ctx, &half, DLC_F16, 1, &four, cpu));
  memset(half.data, 0, half.nbytes);
  list[bias].tensor = &half;
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n, NULL, 0));
  list[bias].tensor = &t[bias];
  T_FAILS(ctx, DLC_ERR_FORMAT, "tensor \"0.bias\" is F16 in the file but the network holds float32",
          dlc_net_load_weights(net, bad));
  T_OK(ctx, dlc_tensor_alloc(ctx, &i32, DLC_I32, 0, NULL, cpu));
  *(int32_t *)i32.data = 3;
  list[nbt].tensor = &i32;
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n, NULL, 0));
  list[nbt].tensor = &t[nbt];
  T_FAILS(ctx, DLC_ERR_FORMAT, "tensor \"1.num_batches_tracked\" is I32 in the file but the network holds int64",
          dlc_net_load_weights(net, bad));
  /* Another architecture's file. */
  T_FAILS(ctx, DLC_ERR_FORMAT, "the network's tensor \"0.weight\"", dlc_net_load_weights(net, fx("io/lstm_torch.safetensors")));
  T_FAILS(ctx, DLC_ERR_IO, "No such file", dlc_net_load_weights(net, tmp("absent.safetensors")));
  /* None of that changed the network. */
  T_OK(ctx, dlc_net_save_weights(net, after));
  T_CHECK(t_same_file(before, after), "refused loads leave the network as it was");
  /* The unedited list loads. */
  T_OK(ctx, dlc_safetensors_save(ctx, bad, list, n, NULL, 0));
  T_OK(ctx, dlc_net_load_weights(net, bad));
  for (int k = 0; k < n; k++) dlc_tensor_free(ctx, &t[k]);
  dlc_tensor_free(ctx, &half);
  dlc_tensor_free(ctx, &i32);
  dlc_net_destroy(net);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(5);
  snprintf(dir, sizeof dir, "%s/dlc_io_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  against_pytorch(ctx, "cnn");
  against_pytorch(ctx, "lstm");
  batch_counter(ctx);
  strict(ctx);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_model_io");
}
