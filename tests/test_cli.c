/* The dlcuda command end to end (argv[1] is the binary): `train --save/--checkpoint/
 * --stop-after/--resume` reproduces an unstopped run byte for byte; `eval` reports what
 * the library computes; `predict` gives PyTorch's probabilities (from .npy) and the same
 * answers for IDX and uint8 .npy images; `forward` gives PyTorch's outputs and gradients;
 * bad arguments and mismatched files fail with messages. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *bin, *fixtures;
static char dir[256];

static const char *tmp(const char *name) {
  return t_join(dir, name);
}

static const char *fx(const char *name) {
  static char p[8][1024];
  static int k;
  k = (k + 1) % 8;
  snprintf(p[k], sizeof p[k], "%s/io/%s", fixtures, name);
  return p[k];
}

static char out_text[1 << 16], err_text[1 << 16];

static void slurp(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, len - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

/* Runs `dlcuda ARGS` (ARGS is formatted); stdout and stderr land in out_text/err_text.
 * Returns the exit status. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
  char args[4096], cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s' %s >'%s/out.txt' 2>'%s/err.txt'", bin, args, dir, dir);
  int st = system(cmd);
  char p[600];
  snprintf(p, sizeof p, "%s/out.txt", dir);
  slurp(p, out_text, sizeof out_text);
  snprintf(p, sizeof p, "%s/err.txt", dir);
  slurp(p, err_text, sizeof err_text);
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (rc != 0) printf("dlcuda %s -> %d\n  %s", args, rc, err_text);
  return rc;
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static const char *mlp_cfg =
    "[net]\ninput = 12\nbatch = 16\nepochs = 3\noptimizer = adam\nlr = 0.01\nschedule = cosine\n"
    "[dense]\nunits = 16\n[batchnorm]\n[relu]\n[dropout]\np = 0.25\n[dense]\nunits = 4\n[softmax_xent]\n";

/* 200 rows of 12 features and a label that depends on two of them. */
static void write_csv(const char *path) {
  FILE *f = fopen(path, "w");
  float v[12];
  for (int r = 0; r < 200; r++) {
    t_fill_uniform(v, 12, (uint64_t)r + 1, -1, 1);
    for (int k = 0; k < 12; k++) fprintf(f, "%.5f,", v[k]);
    fprintf(f, "%d\n", (v[0] > 0) * 2 + (v[3] > 0));
  }
  fclose(f);
}

static void train_resume(dlc_ctx *ctx) {
  char cfg[512], csv[512]; /* tmp's names are reused after a few calls */
  snprintf(cfg, sizeof cfg, "%s", tmp("mlp.cfg"));
  snprintf(csv, sizeof csv, "%s", tmp("train.csv"));
  write_text(cfg, mlp_cfg);
  write_csv(csv);
  char common[2048];
  snprintf(common, sizeof common, "train '%s' --data '%s' --device cpu --threads 1 --seed 9 --quiet", cfg, csv);
  char a[512], ca[512], b[512], cb[512];
  snprintf(a, sizeof a, "%s", tmp("a.safetensors"));
  snprintf(ca, sizeof ca, "%s", tmp("a.ckpt"));
  snprintf(b, sizeof b, "%s", tmp("b.safetensors"));
  snprintf(cb, sizeof cb, "%s", tmp("b.ckpt"));
  T_CHECK(run("%s --save '%s' --checkpoint '%s' --log '%s'", common, a, ca, tmp("a.jsonl")) == 0, "train --save");
  /* Layer statistics: printed and logged, and the training itself unchanged by them. */
  char c[512], clog[512], loud[2048];
  snprintf(c, sizeof c, "%s", tmp("c.safetensors"));
  snprintf(clog, sizeof clog, "%s", tmp("c.jsonl"));
  snprintf(loud, sizeof loud, "%.*s", (int)(strlen(common) - strlen(" --quiet")), common); /* common without --quiet */
  T_CHECK(run("%s --layer-stats --save '%s' --log '%s'", loud, c, clog) == 0, "train --layer-stats");
  T_CHECK(t_contains(out_text, " dead ") && t_contains(out_text, "|grad|"), "the statistics are printed: %s", out_text);
  unsigned char *logtext = NULL;
  T_CHECK(t_read_file(clog, &logtext) > 0 && t_contains((char *)logtext, "\"layers\":[{\"name\":\"dense0\"") &&
              t_contains((char *)logtext, "\"dead\":") && t_contains((char *)logtext, "\"grad_norm\":"),
          "the log holds them: %s", logtext ? (char *)logtext : "");
  free(logtext);
  T_CHECK(t_same_file(a, c), "collecting layer statistics leaves the trained weights the same, byte for byte");
  /* 13 batches per epoch: stop at batch 4 of the second epoch, a checkpoint every 4. */
  T_CHECK(run("%s --checkpoint '%s' --checkpoint-every 4 --stop-after 17", common, cb) == 0, "train --stop-after");
  T_CHECK(t_contains(out_text, "stopped after 17 batches, at batch 4 of 13 in epoch 2"), "stop message: %s", out_text);
  T_CHECK(access(b, F_OK) != 0, "a stopped run writes no final weights");
  T_CHECK(run("%s --resume '%s' --save '%s' --checkpoint '%s' --log '%s'", common, cb, b, cb, tmp("b.jsonl")) == 0,
          "train --resume");
  T_CHECK(t_same_file(a, b), "resumed mid-epoch: the final weights equal the unstopped run's, byte for byte");
  T_CHECK(t_same_file(ca, cb), "and so does the final checkpoint (optimizer state, step, generator)");
  /* Resume at an epoch boundary (--stop-after 13) with the other seed on the command line. */
  T_CHECK(run("%s --checkpoint '%s' --stop-after 13", common, cb) == 0, "train --stop-after 13");
  T_CHECK(t_contains(out_text, "at the end of epoch 1"), "stop at the epoch's end: %s", out_text);
  T_CHECK(run("train '%s' --data '%s' --device cpu --threads 1 --seed 1234 --quiet --resume '%s' --save '%s'", cfg, csv,
              cb, b) == 0, "resume with another --seed");
  T_CHECK(t_contains(err_text, "--seed 1234 ignored"), "the checkpoint's seed wins: %s", err_text);
  T_CHECK(t_same_file(a, b), "resumed at an epoch's end: the same final weights");
  /* A checkpoint does not fit another batch size. */
  T_CHECK(run("%s --batch 20 --resume '%s'", common, cb) == 1, "resume with another batch size fails");
  T_CHECK(t_contains(err_text, "batches per epoch"), "and says why: %s", err_text);
  T_CHECK(run("%s --resume '%s'", common, a) == 1, "weights are not a checkpoint");
  T_CHECK(t_contains(err_text, "not a libdlcuda checkpoint"), "%s", err_text);

  /* eval reports what the library computes on the same weights. */
  T_CHECK(run("eval '%s' --weights '%s' --data '%s' --device cpu --threads 1", cfg, a, csv) == 0, "eval");
  dlc_net *net = NULL;
  dlc_train_config tc;
  dlc_dataset ds;
  dlc_loader *l = NULL;
  T_OK(ctx, dlc_model_load(ctx, cfg, 0, &net, &tc));
  T_OK(ctx, dlc_net_load_weights(net, a));
  T_OK(ctx, dlc_dataset_open(ctx, csv, 1, &ds));
  tc.loader.batch = tc.batch;
  tc.loader.shuffle = 0;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &tc.loader, &l));
  dlc_epoch_stats st;
  int64_t oshape[DLC_MAX_DIMS], cm[64 * 64];
  int64_t C = oshape[dlc_net_output_shape(net, oshape) - 1];
  T_CHECK(C <= 64, "%lld classes", (long long)C);
  T_OK(ctx, dlc_net_evaluate_confusion(net, l, &st, cm, C));
  dlc_class_summary cs;
  dlc_class_metrics(cm, C, NULL, NULL, NULL, &cs);
  char want[192];
  snprintf(want, sizeof want, "loss %.6f accuracy %.4f balanced accuracy %.4f macro F1 %.4f (200 samples)", st.loss,
           st.accuracy, cs.balanced_accuracy, cs.macro_f1);
  T_CHECK(t_contains(out_text, want), "eval prints \"%s\": %s", want, out_text);
  T_CHECK(st.accuracy > 0.6, "the model learned something: accuracy %.3f", st.accuracy);
  /* dlc_net_evaluate_classes (what eval and dlc_fit call) is the same evaluation, whole,
   * twice on one struct (its arrays reused). */
  dlc_class_eval ce = {0};
  for (int pass = 0; pass < 2; pass++) {
    T_OK(ctx, dlc_net_evaluate_classes(net, l, &ce));
    T_CHECK(ce.classes == C && dlc_net_classes(net) == C && ce.have_classes, "pass %d: %lld classes", pass,
            (long long)ce.classes);
    T_CHECK(ce.stats.loss == st.loss && ce.stats.samples == st.samples && ce.summary.macro_f1 == cs.macro_f1 &&
                !memcmp(ce.confusion, cm, sizeof(int64_t) * (size_t)(C * C)),
            "pass %d: the same loss, matrix and F1", pass);
  }
  dlc_class_eval_free(&ce);
  T_CHECK(!ce.confusion && ce.classes == 0, "freed and zeroed");
  dlc_loader_destroy(l);
  dlc_dataset_free(&ds);
  dlc_net_destroy(net);
}

static void softmax_rows(const float *z, float *p, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; r++) {
    double mx = z[r * C], s = 0;
    for (int64_t c = 1; c < C; c++) mx = fmax(mx, z[r * C + c]);
    for (int64_t c = 0; c < C; c++) s += exp(z[r * C + c] - mx);
    for (int64_t c = 0; c < C; c++) p[r * C + c] = (float)(exp(z[r * C + c] - mx) / s);
  }
}

/* Parses predict's "index class p0 p1 ..." lines; returns the rows read. */
static int parse_probs(const char *text, float *p, int64_t rows, int64_t C, int *cls) {
  const char *s = text;
  int got = 0;
  while (s && *s && got < rows) {
    if (*s == '#') {
      s = strchr(s, '\n');
      if (s) s++;
      continue;
    }
    char *e;
    long idx = strtol(s, &e, 10);
    cls[got] = (int)strtol(e, &e, 10);
    for (int64_t c = 0; c < C; c++) p[got * C + c] = strtof(e, &e);
    if (idx != got) return -1;
    got++;
    s = strchr(e, '\n');
    if (s) s++;
  }
  return got;
}

static void predict(dlc_ctx *ctx) {
  /* .npy float32 inputs: PyTorch's probabilities. */
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu", fx("cnn.cfg"), fx("cnn_torch.safetensors"),
              fx("cnn_x.npy")) == 0, "predict .npy");
  dlc_tensor logits;
  if (!t_fixture(ctx, "io/cnn_logits.npy", &logits)) return;
  float want[50], got[50];
  int cls[5];
  softmax_rows(logits.data, want, 5, 10);
  T_CHECK(parse_probs(out_text, got, 5, 10, cls) == 5, "5 rows of probabilities: %s", out_text);
  t_parity("predict probabilities vs PyTorch's softmax", want, got, 50, 1e-10, 2e-6);
  for (int r = 0; r < 5; r++) {
    int best = 0;
    for (int c = 1; c < 10; c++)
      if (want[r * 10 + c] > want[r * 10 + best]) best = c;
    T_CHECK(cls[r] == best, "row %d: predicted class %d, PyTorch's arg-max %d", r, cls[r], best);
  }
  dlc_tensor_free(ctx, &logits);
  /* A model file without a loss section is a classifier too (only [mse] predicts values):
   * the same probabilities and classes. */
  static char with_loss[sizeof out_text];
  memcpy(with_loss, out_text, sizeof out_text);
  unsigned char *cfg_text = NULL;
  long cfg_len = t_read_file(fx("cnn.cfg"), &cfg_text);
  if (cfg_len > 0) cfg_text[cfg_len] = '\0'; /* t_read_file leaves room for it */
  char *loss = cfg_len > 0 ? strstr((char *)cfg_text, "[softmax_xent]") : NULL;
  FILE *nl = loss ? fopen(tmp("noloss.cfg"), "wb") : NULL;
  if (nl) {
    fwrite(cfg_text, 1, (size_t)(loss - (char *)cfg_text), nl);
    fclose(nl);
  }
  free(cfg_text);
  T_CHECK(nl && run("predict '%s' --weights '%s' '%s' --device cpu", tmp("noloss.cfg"), fx("cnn_torch.safetensors"),
                    fx("cnn_x.npy")) == 0 && strcmp(with_loss, out_text) == 0,
          "a model without a loss predicts classes: %s", out_text);
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu --top 2", fx("cnn.cfg"), fx("cnn_torch.safetensors"),
              fx("cnn_x.npy")) == 0, "predict --top 2");
  T_CHECK(t_contains(out_text, "\n0 6:0.128024 7:0.126139\n"), "top-2 line: %s", out_text);

  /* Images as IDX (gzipped) and as uint8 .npy: the same answers, and the library's. */
  unsigned char idx[16 + 3 * 144];
  unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 12, 0, 0, 0, 12};
  memcpy(idx, head, 16);
  float px[3 * 144];
  t_fill_uniform(px, 3 * 144, 4, 0, 255.99f);
  for (int i = 0; i < 3 * 144; i++) idx[16 + i] = (unsigned char)px[i];
  FILE *f = fopen(tmp("images-idx3-ubyte"), "wb");
  fwrite(idx, 1, sizeof idx, f);
  fclose(f);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "gzip -kf '%s'", tmp("images-idx3-ubyte"));
  T_CHECK(system(cmd) == 0, "gzip");
  dlc_tensor img;
  T_OK(ctx, dlc_idx_load(ctx, tmp("images-idx3-ubyte.gz"), &img));
  T_CHECK(img.dtype == DLC_U8 && img.ndim == 3 && img.shape[0] == 3 && img.shape[2] == 12 &&
              memcmp(img.data, idx + 16, 3 * 144) == 0, "dlc_idx_load: [3, 12, 12] uint8");
  T_OK(ctx, dlc_npy_save(ctx, tmp("images.npy"), &img));
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu", fx("cnn.cfg"), fx("cnn_torch.safetensors"),
              tmp("images-idx3-ubyte.gz")) == 0, "predict IDX");
  static char from_idx[sizeof out_text];
  memcpy(from_idx, out_text, sizeof out_text);
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu", fx("cnn.cfg"), fx("cnn_torch.safetensors"),
              tmp("images.npy")) == 0, "predict uint8 .npy");
  T_CHECK(strcmp(from_idx, out_text) == 0, "IDX and uint8 .npy give the same answers");
  dlc_net *net = NULL;
  T_OK(ctx, dlc_model_load(ctx, fx("cnn.cfg"), 8, &net, NULL));
  T_OK(ctx, dlc_net_load_weights(net, fx("cnn_torch.safetensors")));
  int64_t xs[4] = {3, 1, 12, 12};
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor x, y;
  T_OK(ctx, dlc_tensor_alloc(ctx, &x, DLC_F32, 4, xs, cpu));
  for (int i = 0; i < 3 * 144; i++) ((float *)x.data)[i] = ((uint8_t *)img.data)[i] / 255.f; /* no mean/std */
  T_OK(ctx, dlc_net_forward(net, &x, 0, &y));
  softmax_rows(y.data, want, 3, 10);
  T_CHECK(parse_probs(out_text, got, 3, 10, cls) == 3, "3 rows");
  t_parity("predict on images vs the library", want, got, 30, 1e-10, 2e-6);
  /* dlc_net_predict_file (what predict calls) on the IDX file: the same probabilities, the
   * arg-max, and a NaN input counted rather than ranked. */
  dlc_predictions pr;
  dlc_loader_options raw = dlc_loader_options_default(); /* p / 255, no mean/std, as above */
  T_OK(ctx, dlc_net_predict_file(net, tmp("images-idx3-ubyte.gz"), &raw, &pr));
  T_CHECK(pr.n == 3 && pr.k == 10 && pr.classifier && pr.bad == 0 && pr.first_bad == -1, "3 inputs, 10 classes");
  if (pr.n == 3 && pr.k == 10) t_parity("dlc_net_predict_file vs the forward", want, pr.values, 30, 1e-10, 2e-6);
  for (int r = 0; r < 3 && pr.n == 3; r++)
    T_CHECK(pr.best[r] == cls[r], "input %d: best %lld, printed %d", r, (long long)pr.best[r], cls[r]);
  dlc_predictions_free(&pr);
  ((float *)x.data)[144 + 5] = NAN; /* input 1 */
  T_OK(ctx, dlc_npy_save(ctx, tmp("nan.npy"), &x));
  T_OK(ctx, dlc_net_predict_file(net, tmp("nan.npy"), &raw, &pr));
  T_CHECK(pr.n == 3 && pr.bad == 1 && pr.first_bad == 1 && pr.best[1] == -1 && pr.best[0] == cls[0],
          "a NaN input: %lld bad, the first %lld", (long long)pr.bad, (long long)pr.first_bad);
  dlc_predictions_free(&pr);
  T_CHECK(!pr.values && !pr.best, "freed");
  dlc_tensor_free(ctx, &x);
  dlc_tensor_free(ctx, &img);
  dlc_net_destroy(net);
  /* A truncated IDX file and a wrong magic. */
  FILE *g = fopen(tmp("short-idx3-ubyte"), "wb");
  fwrite(idx, 1, 100, g);
  fclose(g);
  T_FAILS(ctx, DLC_ERR_FORMAT, "truncated", dlc_idx_load(ctx, tmp("short-idx3-ubyte"), &img));
  idx[2] = 9;
  g = fopen(tmp("magic-idx3-ubyte"), "wb");
  fwrite(idx, 1, sizeof idx, g);
  fclose(g);
  T_FAILS(ctx, DLC_ERR_FORMAT, "is not 000008nn", dlc_idx_load(ctx, tmp("magic-idx3-ubyte"), &img));
  /* The wrong weights for the model. */
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu", fx("cnn.cfg"), fx("lstm_torch.safetensors"),
              fx("cnn_x.npy")) == 1, "predict with another model's weights fails");
  T_CHECK(t_contains(err_text, "the network's tensor \"0.weight\""), "naming the tensor: %s", err_text);
  T_CHECK(run("predict '%s' --weights '%s' '%s' --device cpu", fx("cnn.cfg"), fx("cnn_torch.safetensors"),
              fx("lstm_x.npy")) == 1, "predict on inputs of another shape fails");
  T_CHECK(t_contains(err_text, "do not split into samples of 144"), "%s", err_text);
}

/* Compares a .npy the command wrote with a fixture. */
static void compare_npy(dlc_ctx *ctx, const char *what, const char *path, const char *fixture, double tol) {
  dlc_tensor got, want;
  T_OK(ctx, dlc_npy_load(ctx, path, &got));
  if (!t_fixture(ctx, fixture, &want) || !got.data) return;
  T_CHECK(got.numel == want.numel, "%s: %lld values, want %lld", what, (long long)got.numel, (long long)want.numel);
  if (got.numel == want.numel) t_parity(what, want.data, got.data, want.numel, 1e-10, tol);
  dlc_tensor_free(ctx, &got);
  dlc_tensor_free(ctx, &want);
}

static void forward(dlc_ctx *ctx) {
  T_CHECK(run("forward '%s' --weights '%s' --input '%s' --output '%s' --grad-output '%s' --input-grad '%s' "
              "--param-grads '%s' --device cpu", fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"),
              tmp("y.npy"), fx("cnn_dy.npy"), tmp("dx.npy"), tmp("g.safetensors")) == 0, "forward + backward");
  compare_npy(ctx, "forward output vs PyTorch", tmp("y.npy"), "io/cnn_logits.npy", 2e-5);
  compare_npy(ctx, "forward input gradient vs PyTorch", tmp("dx.npy"), "io/cnn_dx.npy", 2e-5);
  t_compare_safetensors(ctx, "forward parameter gradient vs PyTorch", tmp("g.safetensors"), fx("cnn_grads.safetensors"), 1e-10, 2e-5, NULL, 0);
  /* The LSTM: backward needs --train (the same outputs: no dropout). */
  T_CHECK(run("forward '%s' --weights '%s' --input '%s' --output '%s' --grad-output '%s' --input-grad '%s' "
              "--param-grads '%s' --device cpu --train", fx("lstm.cfg"), fx("lstm_torch.safetensors"), fx("lstm_x.npy"),
              tmp("y.npy"), fx("lstm_dy.npy"), tmp("dx.npy"), tmp("g.safetensors")) == 0, "LSTM forward --train");
  compare_npy(ctx, "LSTM forward output vs PyTorch", tmp("y.npy"), "io/lstm_logits.npy", 2e-5);
  compare_npy(ctx, "LSTM input gradient vs PyTorch", tmp("dx.npy"), "io/lstm_dx.npy", 2e-5);
  t_compare_safetensors(ctx, "LSTM parameter gradient vs PyTorch", tmp("g.safetensors"), fx("lstm_grads.safetensors"), 1e-10, 2e-5, NULL, 0);
  T_CHECK(run("forward '%s' --weights '%s' --input '%s' --output '%s' --grad-output '%s' --device cpu", fx("lstm.cfg"),
              fx("lstm_torch.safetensors"), fx("lstm_x.npy"), tmp("y.npy"), fx("lstm_dy.npy")) == 1,
          "LSTM backward after an evaluation forward fails");
  T_CHECK(t_contains(err_text, "backward needs a training-mode forward"), "%s", err_text);
  /* Training mode: dropout masks follow --seed. */
  const char *args = "forward '%s' --weights '%s' --input '%s' --output '%s' --device cpu --train --seed %d";
  T_CHECK(run(args, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), tmp("t1.npy"), 3) == 0, "--train");
  T_CHECK(run(args, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), tmp("t2.npy"), 3) == 0, "--train");
  T_CHECK(run(args, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), tmp("t3.npy"), 4) == 0, "--train");
  T_CHECK(t_same_file(tmp("t1.npy"), tmp("t2.npy")) && !t_same_file(tmp("t1.npy"), tmp("t3.npy")),
          "training-mode outputs repeat for a seed and change with it");
  /* Usage errors. */
  T_CHECK(run("forward '%s' --input '%s'", fx("cnn.cfg"), fx("cnn_x.npy")) == 2, "forward without --output");
  T_CHECK(run("forward '%s' --input '%s' --output '%s' --input-grad '%s'", fx("cnn.cfg"), fx("cnn_x.npy"), tmp("y.npy"),
              tmp("dx.npy")) == 2, "--input-grad without --grad-output");
  T_CHECK(run("forward '%s' --weights '%s' --input '%s' --output '%s' --grad-output '%s' --device cpu", fx("cnn.cfg"),
              fx("cnn_torch.safetensors"), fx("cnn_x.npy"), tmp("y.npy"), fx("lstm_dy.npy")) == 1,
          "an output gradient of the wrong size fails");
  T_CHECK(t_contains(err_text, "the output's 50 values"), "%s", err_text);
  T_CHECK(run("train --checkpoint-every 0") == 2, "--checkpoint-every 0 is refused");
  T_CHECK(run("eval '%s'", fx("cnn.cfg")) == 1 && t_contains(err_text, "--weights"), "eval needs --weights");
  T_CHECK(run("frobnicate") == 2, "an unknown command");
  /* Each command takes its own options: one another command takes is refused, not ignored. */
  T_CHECK(run("eval '%s' --weights w --epochs 3", fx("cnn.cfg")) == 2 &&
              t_contains(err_text, "--epochs is not an option of eval"), "eval --epochs: %s", err_text);
  T_CHECK(run("info --top 3") == 2 && t_contains(err_text, "--top is not an option of info"), "%s", err_text);
  T_CHECK(run("train --frobnicate") == 2 && t_contains(err_text, "unknown option --frobnicate"), "%s", err_text);
  /* The help comes from the same table: all commands, or one command's options only. */
  T_CHECK(run("--help") == 0 && t_contains(out_text, "  explain MODEL.cfg") && t_contains(out_text, "(predict) the K"),
          "dlcuda --help: %s", out_text);
  T_CHECK(run("predict --help") == 0 && t_contains(out_text, "--top K") && !t_contains(out_text, "--epochs") &&
              !t_contains(out_text, "  train "), "dlcuda predict --help: %s", out_text);
}

/* dlcuda explain: each method's maps as the library's (checked against PyTorch in
 * test_explain), a picture per input, a fixed class, and what it refuses. */
static void explain(dlc_ctx *ctx) {
  const char *base = "explain '%s' --weights '%s' '%s' --out '%s' --device cpu --method %s%s";
  T_CHECK(run(base, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), dir, "gradcam", "") == 0, "explain gradcam");
  T_CHECK(t_contains(out_text, "1: 7 ("), "the predictions are printed: %s", out_text);
  dlc_tensor got, want;
  memset(&got, 0, sizeof got);
  char path[600];
  snprintf(path, sizeof path, "%s/00004-gradcam.npy", dir);
  if (dlc_npy_load(ctx, path, &got) == DLC_OK && t_fixture(ctx, "explain/gradcam_pred.npy", &want)) {
    T_CHECK(got.numel == 144, "one 12 x 12 map per input");
    if (got.numel == 144) t_parity("explain gradcam input 4 vs PyTorch", (float *)want.data + 4 * 144, got.data, 144, 1e-9, 1e-6);
    dlc_tensor_free(ctx, &want);
  }
  dlc_tensor_free(ctx, &got);
  snprintf(path, sizeof path, "%s/00004-gradcam.png", dir);
  unsigned char *png = NULL;
  long n = t_read_file(path, &png);
  T_CHECK(n > 8 && !memcmp(png, "\x89PNG", 4), "a PNG per input (%ld bytes)", n);
  free(png);
  T_CHECK(run(base, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), dir, "ig", " --class 3 --ig-steps 4 --first 2") == 0,
          "explain ig, class 3, the first 2 inputs");
  snprintf(path, sizeof path, "%s/00001-ig.npy", dir);
  memset(&got, 0, sizeof got);
  T_CHECK(dlc_npy_load(ctx, path, &got) == DLC_OK && got.ndim == 3 && got.shape[0] == 1, "ig writes [C, H, W]");
  dlc_tensor_free(ctx, &got);
  snprintf(path, sizeof path, "%s/00002-ig.npy", dir);
  FILE *f = fopen(path, "rb");
  T_CHECK(!f, "--first 2 explains 2 inputs");
  if (f) fclose(f);
  T_CHECK(run(base, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), dir, "lime", "") == 2 &&
              t_contains(err_text, "--method lime: use saliency, gradcam, ig"), "an unknown method: %s", err_text);
  T_CHECK(run(base, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), dir, "gradcam", " --layer dense9") == 1 &&
              t_contains(err_text, "is not a [channels, height, width] map"), "Grad-CAM on a dense layer: %s", err_text);
  T_CHECK(run(base, fx("cnn.cfg"), fx("cnn_torch.safetensors"), fx("cnn_x.npy"), "/no-such-dir", "saliency", "") == 1 &&
              t_contains(err_text, "its folder /no-such-dir"), "a missing --out folder: %s", err_text);
  T_CHECK(run(base, fx("lstm.cfg"), fx("lstm_torch.safetensors"), fx("lstm_x.npy"), dir, "saliency", "") == 1 &&
              t_contains(err_text, "needs an image classifier"), "a sequence model: %s", err_text);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_cli DLCUDA_BINARY FIXTURE_DIR\n");
    return 2;
  }
  bin = argv[1];
  fixtures = argv[2];
  snprintf(dir, sizeof dir, "%s/dlc_cli_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  dlc_ctx *ctx = t_cpu_ctx(1);
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CPU;
  o.threads = 1;
  dlc_ctx *one = NULL;
  T_OK(one, dlc_ctx_create(&one, &o)); /* the command's --threads 1, for eval's exact figures */
  train_resume(one);
  predict(ctx);
  forward(ctx);
  explain(ctx);
  dlc_ctx_destroy(one);
  dlc_ctx_destroy(ctx);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (!getenv("DLC_KEEP_TMP") && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return t_finish("test_cli");
}
