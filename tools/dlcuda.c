/* The dlcuda command. `dlcuda info` reports devices, build options and library versions. */
#include <stdio.h>
#include <string.h>

#include "dlcuda.h"

static int cmd_info(void) {
  printf("%s\n", dlc_build_info());
  char why[256];
  int n = dlc_cuda_device_count(why, sizeof why);
  if (n == 0) printf("CUDA devices: none (%s)\n", why);
  for (int i = 0; i < n; i++) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CUDA;
    o.device_index = i;
    dlc_ctx *ctx = NULL;
    dlc_status s = dlc_ctx_create(&ctx, &o);
    printf("cuda:%d %s\n", i, s == DLC_OK ? "usable" : dlc_ctx_error(ctx));
    dlc_ctx_destroy(ctx);
  }
  dlc_ctx *ctx = NULL;
  dlc_status s = dlc_ctx_create(&ctx, NULL);
  if (s != DLC_OK) {
    fprintf(stderr, "dlcuda: %s\n", dlc_ctx_error(ctx));
    dlc_ctx_destroy(ctx);
    return 1;
  }
  dlc_device d = dlc_ctx_device(ctx);
  printf("default device: %s", d.kind == DLC_DEVICE_CUDA ? "cuda" : "cpu");
  if (d.kind == DLC_DEVICE_CUDA) printf(":%d", d.index);
  printf("\n");
  if (dlc_ctx_notice(ctx)[0]) printf("notice: %s\n", dlc_ctx_notice(ctx));
  dlc_ctx_destroy(ctx);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: dlcuda COMMAND\n"
          "  info     devices, build options, library versions\n");
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "info") == 0) return cmd_info();
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "dlcuda: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
