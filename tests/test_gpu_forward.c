/* `dlcuda forward` on the GPU matches the CPU (argv[1] is the binary, argv[2] the fixture
 * folder): outputs, input gradients and parameter gradients of the CNN fixture (conv,
 * batchnorm, pooling, dropout, dense) in evaluation and training mode (dropout masks are
 * the same on both devices), and of the LSTM; and `dlcuda predict` prints the same. Label
 * gpu: exits 77 without a device. */
#define _DEFAULT_SOURCE /* realpath */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *bin, *fixtures;
static char dir[256];

static int run(const char *args, const char *device, const char *tag) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --device %s --seed 5 >%s.out 2>%s.err", dir, bin, args, device, tag, tag);
  int st = system(cmd);
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  T_CHECK(rc == 0, "dlcuda %s --device %s -> %d (see %s/%s.err)", args, device, rc, dir, tag);
  return rc == 0;
}

static void compare_npy(dlc_ctx *ctx, const char *what, const char *a, const char *b, double tol) {
  char pa[600], pb[600];
  snprintf(pa, sizeof pa, "%s/%s", dir, a);
  snprintf(pb, sizeof pb, "%s/%s", dir, b);
  dlc_tensor x, y;
  T_OK(ctx, dlc_npy_load(ctx, pa, &x));
  T_OK(ctx, dlc_npy_load(ctx, pb, &y));
  if (x.data && y.data && x.numel == y.numel) t_parity(what, x.data, y.data, x.numel, 1e-9, tol);
  else T_CHECK(0, "%s: outputs missing or of different sizes", what);
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_gpu_forward DLCUDA_BINARY FIXTURE_DIR\n");
    return 2;
  }
  /* The commands run in a temporary folder: relative paths (the GPU bundle's) must be
   * made absolute first. */
  static char bin_abs[4096], fix_abs[4096];
  if (!realpath(argv[1], bin_abs) || !realpath(argv[2], fix_abs)) {
    fprintf(stderr, "test_gpu_forward: cannot resolve %s or %s\n", argv[1], argv[2]);
    return 2;
  }
  bin = bin_abs;
  fixtures = fix_abs;
  dlc_ctx *g = t_gpu_ctx_or_skip(1); /* exits 77 without a device */
  dlc_ctx_destroy(g);
  dlc_ctx *ctx = t_cpu_ctx(1);
  snprintf(dir, sizeof dir, "%s/dlc_gpufwd_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  const char *devices[2] = {"cpu", "cuda"};
  for (int m = 0; m < 3; m++) {
    const char *model = m == 2 ? "lstm" : "cnn";
    const char *mode = m == 1 || m == 2 ? "--train" : "";
    char args[4096], tag[64];
    for (int d = 0; d < 2; d++) {
      snprintf(tag, sizeof tag, "%s%d_%s", model, m, devices[d]);
      snprintf(args, sizeof args,
               "forward %s/io/%s.cfg --weights %s/io/%s_torch.safetensors --input %s/io/%s_x.npy --output %s_y.npy "
               "--grad-output %s/io/%s_dy.npy --input-grad %s_dx.npy --param-grads %s_g.safetensors %s",
               fixtures, model, fixtures, model, fixtures, model, tag, fixtures, model, tag, tag, mode);
      run(args, devices[d], tag);
    }
    char a[96], b[96], what[96];
    const char *kinds[2] = {"y.npy", "dx.npy"};
    for (int k = 0; k < 2; k++) {
      snprintf(a, sizeof a, "%s%d_cpu_%s", model, m, kinds[k]);
      snprintf(b, sizeof b, "%s%d_cuda_%s", model, m, kinds[k]);
      snprintf(what, sizeof what, "%s %s%s: cuda vs cpu", model, kinds[k], m == 1 ? " (train)" : "");
      compare_npy(ctx, what, a, b, 1e-4);
    }
    snprintf(a, sizeof a, "%s%d_cpu_g.safetensors", model, m);
    snprintf(b, sizeof b, "%s%d_cuda_g.safetensors", model, m);
    snprintf(what, sizeof what, "%s grads%s: cuda vs cpu", model, m == 1 ? " (train)" : "");
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/%s", dir, b);
    snprintf(pb, sizeof pb, "%s/%s", dir, a);
    /* In training mode, batch norm subtracts the batch mean: the biases of the convolutions
     * before it (0.bias, 4.bias) cancel, and their true gradient is 0. */
    static const char *const cancelled[] = {"0.bias", "4.bias", NULL};
    t_compare_safetensors(ctx, what, pa, pb, 1e-9, 1e-4, m == 1 ? cancelled : NULL,
                          1e-5); /* cuda against cpu */
  }
  /* predict prints the same classes and probabilities (to its 6 digits, nearly always). */
  char args[2048];
  snprintf(args, sizeof args, "predict %s/io/cnn.cfg --weights %s/io/cnn_torch.safetensors %s/io/cnn_x.npy --top 1",
           fixtures, fixtures, fixtures);
  if (run(args, "cpu", "pcpu") && run(args, "cuda", "pcuda")) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cd '%s' && cut -d: -f1 pcpu.out > a.txt && cut -d: -f1 pcuda.out > b.txt && cmp -s a.txt b.txt", dir);
    T_CHECK(system(cmd) == 0, "predict: the same top class on both devices");
  }
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (!t_failures && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_gpu_forward");
}
