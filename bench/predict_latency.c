/* Real-time inference latency: dlc_infer_run on the shipped models at batch 1 and 8,
 * thousands of calls each, timed one by one (a monotonic clock around each call; on a GPU
 * the call ends with its stream synchronised, so the time is the host's wait). Prints p50
 * and p99 in microseconds, a table line and a JSON line per (model, batch). The peer is
 * PyTorch in bench/torch_latency.py (bench/predict_latency.sh runs both, interleaved).
 *   predict_latency [--cpu] [--threads N] [--calls N | --quick] [--json FILE] [MODEL.cfg ...] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlcuda.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int cpu = 0, threads = 1, calls = 3000;
  const char *json_path = NULL;
  const char *models[16];
  int nmodels = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--cpu")) cpu = 1;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--calls") && i + 1 < argc) calls = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--quick")) calls = 300;
    else if (!strcmp(argv[i], "--json") && i + 1 < argc) json_path = argv[++i];
    else if (argv[i][0] != '-' && nmodels < 16) models[nmodels++] = argv[i];
    else {
      fprintf(stderr, "usage: %s [--cpu] [--threads N] [--calls N | --quick] [--json FILE] [MODEL.cfg ...]\n", argv[0]);
      return 2;
    }
  }
  if (calls < 10 || threads < 0) {
    fprintf(stderr, "predict_latency: --calls >= 10, --threads >= 0\n");
    return 2;
  }
  if (nmodels == 0) {
    static const char *const dflt[] = {"models/mlp.cfg", "models/lenet5.cfg", "models/fashion_cnn.cfg"};
    for (int i = 0; i < 3; i++) models[nmodels++] = dflt[i];
  }
  FILE *json = json_path ? fopen(json_path, "a") : stdout;
  if (!json) {
    perror(json_path);
    return 1;
  }
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = cpu ? DLC_DEVICE_CPU : DLC_DEVICE_CUDA; /* a GPU run that fell back to the CPU would mislead */
  o.threads = threads;
  dlc_ctx *ctx = NULL;
  if (dlc_ctx_create(&ctx, &o) != DLC_OK) {
    fprintf(stderr, "predict_latency: %s (--cpu measures the CPU)\n", dlc_ctx_error(ctx));
    dlc_ctx_destroy(ctx);
    return 1;
  }
  char versions[512];
  dlc_runtime_versions(versions, sizeof versions);
  int emulated = strstr(dlc_ctx_notice(ctx), "EMULATED") != NULL || strstr(versions, "emulated") != NULL;
  if (emulated) calls = 10; /* the emulated device: the calls run and check, no timing means anything */
  printf("%-26s %5s %7s %10s %10s   (%s, %d thread%s, %d calls)\n", "model", "batch", "values", "p50 us", "p99 us",
         cpu ? "cpu" : "cuda", dlc_ctx_threads(ctx), dlc_ctx_threads(ctx) == 1 ? "" : "s", calls);
  int rc = 0;
  for (int m = 0; m < nmodels; m++) {
    dlc_net *net = NULL;
    dlc_train_config cfg;
    if (dlc_model_load(ctx, models[m], 8, &net, &cfg) != DLC_OK) {
      fprintf(stderr, "predict_latency: %s\n", dlc_ctx_error(ctx));
      rc = 1;
      continue;
    }
    int64_t in[DLC_MAX_DIMS], per = 1;
    for (int i = 0, nd = dlc_net_input_shape(net, in); i < nd; i++) per *= in[i];
    dlc_infer *s = NULL;
    if (dlc_infer_create(net, 8, &s) != DLC_OK) {
      fprintf(stderr, "predict_latency: %s\n", dlc_ctx_error(ctx));
      dlc_net_destroy(net);
      rc = 1;
      continue;
    }
    int64_t outs = dlc_infer_output_values(s);
    float *x = malloc(sizeof(float) * (size_t)(8 * per)), *y = malloc(sizeof(float) * (size_t)(8 * outs));
    double *t = malloc(sizeof(double) * (size_t)calls);
    for (int64_t i = 0; i < 8 * per; i++) x[i] = (float)((i * 7919) % 1000) / 1000.f - 0.5f;
    for (int batch = 1; batch <= 8; batch += 7) {
      for (int k = 0; k < 100 && rc == 0; k++)
        if (dlc_infer_run(s, x, batch, y) != DLC_OK) rc = 1; /* warm-up */
      for (int k = 0; k < calls && rc == 0; k++) {
        double t0 = now_us();
        if (dlc_infer_run(s, x, batch, y) != DLC_OK) rc = 1;
        t[k] = now_us() - t0;
      }
      if (rc) {
        fprintf(stderr, "predict_latency: %s\n", dlc_ctx_error(ctx));
        break;
      }
      qsort(t, (size_t)calls, sizeof *t, by_value);
      double p50 = t[calls / 2], p99 = t[(calls * 99) / 100];
      const char *name = strrchr(models[m], '/') ? strrchr(models[m], '/') + 1 : models[m];
      printf("%-26s %5d %7lld %10.1f %10.1f%s\n", name, batch, (long long)(batch * outs), p50, p99,
             emulated ? "   (emulated: not a GPU's time)" : "");
      fprintf(json,
              "{\"bench\":\"predict_latency\",\"framework\":\"dlcuda\",\"model\":\"%s\",\"device\":\"%s\",\"threads\":%d,"
              "\"batch\":%d,\"calls\":%d,\"p50_us\":%.2f,\"p99_us\":%.2f%s}\n",
              name, cpu ? "cpu" : "cuda", dlc_ctx_threads(ctx), batch, calls, p50, p99, emulated ? ",\"emulated\":true" : "");
    }
    free(x);
    free(y);
    free(t);
    dlc_infer_destroy(s);
    dlc_net_destroy(net);
  }
  if (json != stdout) fclose(json);
  dlc_ctx_destroy(ctx);
  return rc;
}
