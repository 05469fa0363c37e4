/* Data sets and the loader: IDX (plain and gzipped), CIFAR-10, CSV, each with truncated,
 * oversized and malformed files; the real Fashion-MNIST; loader order, resume,
 * normalisation and augmentation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/augment.h"
#include "testutil.h"

static char dir[256];

static const char *path_of(const char *name) {
  return t_join(dir, name);
}

static void write_file(const char *name, const void *data, size_t n, int gz) {
  if (gz) {
    gzFile f = gzopen(path_of(name), "wb");
    gzwrite(f, data, (unsigned)n);
    gzclose(f);
  } else {
    FILE *f = fopen(path_of(name), "wb");
    fwrite(data, 1, n, f);
    fclose(f);
  }
}

/* An IDX pair of `count` images of h x w, pixel = (i + y * w + x) % 256, label = i % 7. */
static void write_idx(const char *img, const char *lab, int count, int h, int w, int gz,
                      int cut_bytes, unsigned char magic3) {
  size_t n = 16 + (size_t)count * h * w;
  unsigned char *b = malloc(n);
  unsigned char hi[16] = {0, 0, 8, magic3, 0, 0, 0, (unsigned char)count, 0, 0, 0, (unsigned char)h, 0, 0, 0, (unsigned char)w};
  memcpy(b, hi, 16);
  for (int i = 0; i < count; i++)
    for (int p = 0; p < h * w; p++) b[16 + (size_t)i * h * w + p] = (unsigned char)((i + p) % 256);
  if (cut_bytes < 0) { /* trailing garbage */
    b = realloc(b, n + (size_t)-cut_bytes);
    memset(b + n, 0, (size_t)-cut_bytes);
  }
  write_file(img, b, n - (size_t)cut_bytes, gz);
  unsigned char *l = malloc(8 + (size_t)count);
  unsigned char hl[8] = {0, 0, 8, 1, 0, 0, 0, (unsigned char)count};
  memcpy(l, hl, 8);
  for (int i = 0; i < count; i++) l[8 + i] = (unsigned char)(i % 7);
  write_file(lab, l, 8 + (size_t)count, gz);
  free(b);
  free(l);
}

static void test_idx(dlc_ctx *ctx) {
  dlc_dataset ds;
  for (int gz = 0; gz < 2; gz++) {
    write_idx("a-img", "a-lab", 20, 5, 3, gz, 0, 3);
    T_OK(ctx, dlc_dataset_load_idx(ctx, path_of("a-img"), path_of("a-lab"), &ds));
    T_CHECK(ds.count == 20 && ds.height == 5 && ds.width == 3 && ds.channels == 1 && ds.num_classes == 7,
            "idx (gz=%d) shape %lld %dx%d classes %d", gz, (long long)ds.count, ds.height, ds.width, ds.num_classes);
    T_CHECK(ds.pixels[15 * 2 + 4] == 6 && ds.labels[13] == 6, "idx contents");
    dlc_dataset_free(&ds);
  }
  write_idx("t-img", "t-lab", 20, 5, 3, 1, 7, 3);
  T_FAILS(ctx, DLC_ERR_FORMAT, "truncated", dlc_dataset_load_idx(ctx, path_of("t-img"), path_of("t-lab"), &ds));
  write_idx("m-img", "m-lab", 20, 5, 3, 0, 0, 4);
  T_FAILS(ctx, DLC_ERR_FORMAT, "wrong IDX magic", dlc_dataset_load_idx(ctx, path_of("m-img"), path_of("m-lab"), &ds));
  write_idx("c-img", "c-lab", 20, 5, 3, 0, 0, 3);
  write_idx("d-img", "d-lab", 21, 5, 3, 0, 0, 3);
  T_FAILS(ctx, DLC_ERR_FORMAT, "20 images but", dlc_dataset_load_idx(ctx, path_of("c-img"), path_of("d-lab"), &ds));
  write_idx("e-img", "e-lab", 20, 5, 3, 1, -5, 3);
  T_FAILS(ctx, DLC_ERR_FORMAT, "trailing bytes", dlc_dataset_load_idx(ctx, path_of("e-img"), path_of("e-lab"), &ds));
  T_FAILS(ctx, DLC_ERR_IO, "No such file", dlc_dataset_load_idx(ctx, path_of("nope"), path_of("c-lab"), &ds));
  write_file("short", "\0\0", 2, 0);
  T_FAILS(ctx, DLC_ERR_FORMAT, "truncated", dlc_dataset_load_idx(ctx, path_of("short"), path_of("c-lab"), &ds));
  T_CHECK(ds.pixels == NULL && ds.labels == NULL, "a failed load leaves nothing");
}

static void test_cifar(dlc_ctx *ctx) {
  unsigned char rec[3 * 3073];
  for (int r = 0; r < 3; r++) {
    rec[r * 3073] = (unsigned char)(r + 2);
    for (int p = 0; p < 3072; p++) rec[r * 3073 + 1 + p] = (unsigned char)(p + r);
  }
  write_file("cifar.bin", rec, sizeof rec, 0);
  const char *files[1] = {path_of("cifar.bin")};
  dlc_dataset ds;
  T_OK(ctx, dlc_dataset_load_cifar10(ctx, files, 1, &ds));
  T_CHECK(ds.count == 3 && ds.channels == 3 && ds.height == 32 && ds.labels[2] == 4 &&
              ds.pixels[2 * 3072 + 1024] == (unsigned char)(1024 + 2) && ds.num_classes == 5, "cifar contents");
  dlc_dataset_free(&ds);
  write_file("cifar-trunc.bin", rec, sizeof rec - 100, 0);
  files[0] = path_of("cifar-trunc.bin");
  T_FAILS(ctx, DLC_ERR_FORMAT, "whole number", dlc_dataset_load_cifar10(ctx, files, 1, &ds));
  rec[3073] = 11;
  write_file("cifar-label.bin", rec, sizeof rec, 0);
  files[0] = path_of("cifar-label.bin");
  T_FAILS(ctx, DLC_ERR_FORMAT, "outside CIFAR-10", dlc_dataset_load_cifar10(ctx, files, 1, &ds));
}

static void test_csv(dlc_ctx *ctx) {
  const char *good = "a,b,label\n1.5,2,0\n-3,4e2,2\n\n0.25,-1,1\n";
  write_file("good.csv", good, strlen(good), 0);
  dlc_dataset ds;
  T_OK(ctx, dlc_dataset_load_csv(ctx, path_of("good.csv"), -1, &ds));
  T_CHECK(ds.count == 3 && ds.width == 2 && ds.num_classes == 3 && ds.features[2] == -3.f &&
              ds.features[3] == 400.f && ds.labels[2] == 1, "csv contents");
  dlc_dataset_free(&ds);
  T_FAILS(ctx, DLC_ERR_FORMAT, "not a non-negative integer", dlc_dataset_load_csv(ctx, path_of("good.csv"), 0, &ds));
  const char *bad[][2] = {{"1,2,0\n1,x,1\n", "not a finite number"},
                          {"1,2,0\n1,2\n", "2 fields, the first row had 3"},
                          {"1,2,0.5\n", "not a non-negative integer"},
                          {"1,2,-1\n", "not a non-negative integer"},
                          {"1,nan,1\n", "not a finite number"},
                          {"a,b,c\n", "no data rows"},
                          {"7\n", "at least one feature"}};
  for (int k = 0; k < 7; k++) {
    write_file("bad.csv", bad[k][0], strlen(bad[k][0]), 0);
    T_FAILS(ctx, DLC_ERR_FORMAT, bad[k][1], dlc_dataset_load_csv(ctx, path_of("bad.csv"), -1, &ds));
  }
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "does not exist", dlc_dataset_load_csv(ctx, path_of("good.csv"), 9, &ds));
  T_FAILS(ctx, DLC_ERR_IO, "no data set found", dlc_dataset_open(ctx, dir, 1, &ds));
}

static void test_fashion_mnist(dlc_ctx *ctx) {
  const char *d = "/usr/share/datasets/fashion-mnist";
  dlc_dataset tr, te;
  T_OK(ctx, dlc_dataset_open(ctx, d, 1, &tr));
  T_OK(ctx, dlc_dataset_open(ctx, d, 0, &te));
  T_CHECK(tr.count == 60000 && te.count == 10000 && tr.height == 28 && tr.width == 28 &&
              tr.num_classes == 10 && te.num_classes == 10, "Fashion-MNIST: %lld / %lld images, %d classes",
          (long long)tr.count, (long long)te.count, tr.num_classes);
  int64_t per[10] = {0};
  for (int64_t i = 0; i < tr.count; i++) per[tr.labels[i]]++;
  T_CHECK(per[0] == 6000 && per[9] == 6000, "6000 per class");
  dlc_dataset_free(&tr);
  dlc_dataset_free(&te);
}

static void test_loader(dlc_ctx *ctx) {
  write_idx("l-img", "l-lab", 50, 4, 4, 0, 0, 3);
  dlc_dataset ds;
  T_OK(ctx, dlc_dataset_load_idx(ctx, path_of("l-img"), path_of("l-lab"), &ds));
  dlc_loader_options o = dlc_loader_options_default();
  o.batch = 8;
  o.seed = 5;
  o.normalize = 1;
  o.mean[0] = 0.5f;
  o.std[0] = 0.25f;
  dlc_loader *l;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &o, &l));
  T_CHECK(dlc_loader_batches(l) == 7, "50 / 8 -> 7 batches");
  /* One epoch: every sample once; values normalised; remember the sequence of first pixels. */
  int seen[50] = {0};
  float firsts[50];
  int64_t total = 0, n, nb = 0;
  dlc_tensor x, y;
  for (;;) {
    T_OK(ctx, dlc_loader_next(l, &x, &y, &n));
    if (n == 0) break;
    T_CHECK(x.ndim == 4 && x.shape[0] == n && x.shape[1] == 1 && x.shape[2] == 4, "batch shape");
    T_CHECK(n == (nb < 6 ? 8 : 2), "batch %lld has %lld", (long long)nb, (long long)n);
    const float *xp = x.data;
    for (int64_t i = 0; i < n; i++) {
      /* Recover the sample from its first pixel: p0 = i % 256 / 255 normalised. */
      float p0 = xp[i * 16] * 0.25f + 0.5f;
      int idx = (int)lroundf(p0 * 255.f);
      T_CHECK(idx >= 0 && idx < 50 && ((int32_t *)y.data)[i] == idx % 7, "label follows its image");
      if (idx >= 0 && idx < 50) seen[idx]++;
      firsts[total + i] = xp[i * 16];
    }
    total += n;
    nb++;
  }
  int once = 1;
  for (int i = 0; i < 50; i++) once &= seen[i] == 1;
  T_CHECK(total == 50 && once, "an epoch visits every sample once");
  int in_order = 1;
  for (int i = 1; i < 50; i++) in_order &= firsts[i] > firsts[i - 1];
  T_CHECK(!in_order, "shuffled");
  /* Resume: epoch 0 from batch 3 gives what batches 3.. gave. */
  T_OK(ctx, dlc_loader_start(l, 0, 3));
  T_OK(ctx, dlc_loader_next(l, &x, &y, &n));
  T_CHECK(n == 8 && ((float *)x.data)[0] == firsts[24] && ((float *)x.data)[16] == firsts[25], "resume mid-epoch");
  /* Another epoch, another order. */
  T_OK(ctx, dlc_loader_start(l, 1, 0));
  T_OK(ctx, dlc_loader_next(l, &x, &y, &n));
  T_CHECK(((float *)x.data)[0] != firsts[0] || ((float *)x.data)[16] != firsts[1], "epoch 1 reshuffles");
  dlc_loader_destroy(l);

  /* Augmentation: each output is the image, or its mirror, shifted by at most crop_pad with
   * zeros coming in. Pixels are distinct within an image (4x4 of i + p), so check that
   * every nonzero output pixel comes from the same image. */
  o = dlc_loader_options_default();
  o.batch = 50;
  o.flip = 1;
  o.crop_pad = 1;
  o.shuffle = 0;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &o, &l));
  T_OK(ctx, dlc_loader_next(l, &x, &y, &n));
  int flipped = 0, shifted = 0, bad = 0;
  for (int i = 0; i < 50; i++) {
    const float *img = (const float *)x.data + i * 16;
    int best = -1;
    for (int f = 0; f < 2 && best < 0; f++)
      for (int oy = -1; oy <= 1 && best < 0; oy++)
        for (int ox = -1; ox <= 1 && best < 0; ox++) {
          int match = 1;
          for (int yy = 0; yy < 4; yy++)
            for (int xx = 0; xx < 4; xx++) {
              int sx = (f ? 3 - xx : xx) + ox, sy = yy + oy;
              float want = (sx >= 0 && sx < 4 && sy >= 0 && sy < 4) ? ds.pixels[i * 16 + sy * 4 + sx] / 255.f : 0.f;
              match &= fabsf(img[yy * 4 + xx] - want) < 1e-6f;
            }
          if (match) best = f * 9 + (oy + 1) * 3 + (ox + 1);
        }
    if (best < 0) bad++;
    else {
      flipped += best >= 9;
      shifted += best % 9 != 4;
    }
  }
  printf("augmentation: %d of 50 flipped, %d shifted, %d unexplained\n", flipped, shifted, bad);
  T_CHECK(bad == 0 && flipped > 10 && flipped < 40 && shifted > 25, "flip and crop");
  dlc_loader_destroy(l);
  o.batch = 0;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "must be positive", dlc_loader_create(ctx, &ds, &o, &l));
  dlc_dataset_free(&ds);
}

/* A data set of n samples of 2 features (the sample's index and its label) in memory. */
static void make_labelled(dlc_dataset *ds, int64_t n, const int32_t *labels) {
  memset(ds, 0, sizeof *ds);
  ds->count = n;
  ds->channels = ds->height = 1;
  ds->width = 2;
  ds->features = malloc(sizeof(float) * (size_t)(2 * n));
  ds->labels = malloc(sizeof(int32_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) {
    ds->features[2 * i] = (float)i;
    ds->features[2 * i + 1] = (float)labels[i];
    ds->labels[i] = labels[i];
  }
  snprintf(ds->source, sizeof ds->source, "labelled");
}

/* Imbalance: subsampling by class, class counts, the balanced sampler, class metrics. */
static void test_imbalance(dlc_ctx *ctx) {
  enum { N = 3000 };
  int32_t lab[N];
  for (int i = 0; i < N; i++) lab[i] = i % 3;
  dlc_dataset ds, again;
  make_labelled(&ds, N, lab);
  make_labelled(&again, N, lab);
  const float keep[3] = {1.f, 0.05f, 0.5f};
  T_OK(ctx, dlc_dataset_subsample(ctx, &ds, keep, 3, 42));
  T_OK(ctx, dlc_dataset_subsample(ctx, &again, keep, 3, 42));
  int64_t cnt[3];
  T_OK(ctx, dlc_dataset_class_counts(&ds, cnt, 3));
  T_CHECK(cnt[0] == 1000 && cnt[1] == 50 && cnt[2] == 500, "subsample keeps 1000, 50, 500 (got %lld %lld %lld)",
          (long long)cnt[0], (long long)cnt[1], (long long)cnt[2]);
  int ordered = 1, consistent = 1;
  for (int64_t i = 0; i < ds.count; i++) {
    if (i && ds.features[2 * i] <= ds.features[2 * (i - 1)]) ordered = 0;
    if ((int32_t)ds.features[2 * i + 1] != ds.labels[i]) consistent = 0;
  }
  T_CHECK(ordered && consistent, "subsample keeps the original order and each sample's label with its features");
  T_CHECK(ds.count == again.count && memcmp(ds.features, again.features, sizeof(float) * (size_t)(2 * ds.count)) == 0,
          "the same seed keeps the same samples");
  float bad[3] = {1.f, 1.5f, 1.f};
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a fraction in [0, 1]", dlc_dataset_subsample(ctx, &again, bad, 3, 1));

  /* The balanced sampler: classes equally often (1550 draws a class: 1/3 each, within a
   * few standard deviations), the same order for the same (seed, epoch), another epoch
   * another order, and a start at batch b gives the batches from b. */
  dlc_loader_options o = dlc_loader_options_default();
  o.batch = 50;
  o.seed = 9;
  o.balanced = 1;
  dlc_loader *l, *l2;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &o, &l));
  T_OK(ctx, dlc_loader_create(ctx, &ds, &o, &l2));
  int64_t seen[3] = {0, 0, 0}, nb = 0, n;
  float first_epoch[2000];
  dlc_tensor x, y;
  int64_t k = 0;
  while (dlc_loader_next(l, &x, &y, &n) == DLC_OK && n > 0) {
    for (int64_t i = 0; i < n; i++) {
      seen[((int32_t *)y.data)[i]]++;
      if (k < 2000) first_epoch[k++] = ((float *)x.data)[2 * i];
    }
    nb++;
  }
  double expect = (double)ds.count / 3, sd = sqrt((double)ds.count * (1.0 / 3) * (2.0 / 3));
  for (int c = 0; c < 3; c++)
    T_CHECK(fabs((double)seen[c] - expect) < 5 * sd, "balanced sampler: class %d drawn %lld times, expected %.0f", c,
            (long long)seen[c], expect);
  T_OK(ctx, dlc_loader_start(l2, 0, 3));
  T_OK(ctx, dlc_loader_next(l2, &x, &y, &n));
  T_CHECK(n == 50, "resumed batch size %lld", (long long)n);
  int same = 1;
  for (int64_t i = 0; i < n && 150 + i < k; i++) same &= ((float *)x.data)[2 * i] == first_epoch[150 + i];
  T_CHECK(same, "balanced sampler: a start at batch 3 gives the epoch's batch 3");
  T_OK(ctx, dlc_loader_start(l2, 1, 0));
  T_OK(ctx, dlc_loader_next(l2, &x, &y, &n));
  int differs = 0;
  for (int64_t i = 0; i < n; i++) differs |= ((float *)x.data)[2 * i] != first_epoch[i];
  T_CHECK(differs, "balanced sampler: epoch 1 draws another order than epoch 0");
  dlc_loader_destroy(l);
  dlc_loader_destroy(l2);

  /* Class metrics of a known confusion matrix (rows: true class, columns: predicted). */
  const int64_t cm[9] = {8, 2, 0, /* class 0: recall 0.8 */
                         1, 3, 0, /* class 1: recall 0.75 */
                         0, 0, 0}; /* class 2: no samples, never predicted */
  double rec[3], prec[3], f1[3];
  dlc_class_summary sum;
  dlc_class_metrics(cm, 3, rec, prec, f1, &sum);
  T_CHECK(fabs(rec[0] - 0.8) < 1e-12 && fabs(rec[1] - 0.75) < 1e-12 && rec[2] == 0, "recall per class");
  T_CHECK(fabs(prec[0] - 8.0 / 9) < 1e-12 && fabs(prec[1] - 0.6) < 1e-12 && prec[2] == 0, "precision per class");
  T_CHECK(fabs(sum.balanced_accuracy - (0.8 + 0.75) / 2) < 1e-12 && sum.classes_present == 2 &&
              fabs(sum.accuracy - 11.0 / 14) < 1e-12,
          "balanced accuracy over the classes present: %g", sum.balanced_accuracy);
  double f0 = 2 * 0.8 * (8.0 / 9) / (0.8 + 8.0 / 9), f1b = 2 * 0.75 * 0.6 / 1.35;
  T_CHECK(fabs(f1[0] - f0) < 1e-12 && fabs(sum.macro_f1 - (f0 + f1b) / 2) < 1e-12, "F1 and macro F1");
  dlc_dataset_free(&ds);
  dlc_dataset_free(&again);
}

/* Augmentation: each transform on a known image, the draws' ranges, and a loader that
 * augments giving the same batches for the same seed and epoch (exact on resume). */
static void test_augment(dlc_ctx *ctx) {
  dlc_loader_options o = dlc_loader_options_default();
  o.normalize = 0;
  uint8_t img[9];
  for (int i = 0; i < 9; i++) img[i] = (uint8_t)(20 * i + 10);
  float out[9];
  dlc_aug a;
  memset(&a, 0, sizeof a);
  a.brightness = a.contrast = 1.f;
  a.angle = 3.14159265358979323846 / 2; /* output (y, x) shows input (2 - x, y) */
  dlc_aug_image(img, 1, 3, 3, &a, &o, out);
  double worst = 0;
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++) worst = fmax(worst, fabs(out[y * 3 + x] - img[(2 - x) * 3 + y] / 255.0));
  T_CHECK(worst < 1e-5, "a quarter turn moves pixel (2 - x, y) to (y, x): worst %g", worst);
  a.angle = 3.14159265358979323846 / 4;
  dlc_aug_image(img, 1, 3, 3, &a, &o, out);
  /* An eighth turn keeps the centre; corner (0, 0) shows the point (1 - sqrt 2, 1) of the
   * input: between the zero outside and pixel (1, 0), weights sqrt 2 - 1 and 2 - sqrt 2. */
  double corner = (2 - sqrt(2.0)) * img[3] / 255.0;
  T_CHECK(fabs(out[4] - img[4] / 255.0) < 1e-6 && fabs(out[0] - corner) < 1e-5, "an eighth turn: centre %g, corner %g (want %g)",
          out[4], out[0], corner);
  a.angle = 0;
  a.brightness = 2.f;
  dlc_aug_image(img, 1, 3, 3, &a, &o, out);
  int ok = 1;
  for (int i = 0; i < 9; i++) ok &= fabsf(out[i] - fminf(2.f * img[i] / 255.f, 1.f)) < 1e-6f;
  T_CHECK(ok, "brightness 2 doubles and clamps");
  a.brightness = 1.f;
  a.contrast = 0.5f;
  dlc_aug_image(img, 1, 3, 3, &a, &o, out);
  float m = 0;
  for (int i = 0; i < 9; i++) m += img[i] / 255.f / 9;
  ok = 1;
  for (int i = 0; i < 9; i++) ok &= fabsf(out[i] - ((img[i] / 255.f - m) * 0.5f + m)) < 1e-6f;
  T_CHECK(ok, "contrast 0.5 halves the distance to the mean");
  a.contrast = 1.f;
  a.erase = 1;
  a.ex = 1;
  a.ey = 0;
  a.ew = 2;
  a.eh = 2;
  o.normalize = 1;
  o.mean[0] = 0.5f;
  o.std[0] = 0.25f;
  dlc_aug_image(img, 1, 3, 3, &a, &o, out);
  ok = 1;
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++) {
      int in = y < 2 && x >= 1;
      ok &= in ? out[y * 3 + x] == 0.f : fabsf(out[y * 3 + x] - (img[y * 3 + x] / 255.f - 0.5f) / 0.25f) < 1e-6f;
    }
  T_CHECK(ok, "erasing sets its rectangle to 0 after normalising, and nothing else");

  /* Shifts and mirrors, against the definition: output (y, x) shows input (y + oy, sx) of
   * the zero-padded image, sx = x + ox, or W - 1 - x + ox mirrored; on a 5 x 7 image. */
  uint8_t rect[35];
  float shifted[35];
  for (int i = 0; i < 35; i++) rect[i] = (uint8_t)(7 * i + 3);
  a.erase = 0;
  ok = 1;
  for (int flip = 0; flip < 2; flip++)
    for (int oy = -6; oy <= 6; oy++)
      for (int ox = -8; ox <= 8; ox++) {
        a.flip = flip;
        a.ox = ox;
        a.oy = oy;
        dlc_aug_image(rect, 1, 5, 7, &a, &o, shifted);
        for (int y = 0; y < 5; y++)
          for (int x = 0; x < 7; x++) {
            int sy = y + oy, sx = (flip ? 6 - x : x) + ox;
            float v = sy >= 0 && sy < 5 && sx >= 0 && sx < 7 ? rect[sy * 7 + sx] / 255.f : 0.f;
            ok &= shifted[y * 7 + x] == (v - 0.5f) / 0.25f;
          }
      }
  T_CHECK(ok, "shifts by -8..8 columns and -6..6 rows, mirrored or not, on a 5 x 7 image");
  a.flip = a.ox = a.oy = 0;

  /* The draws: within their ranges, and spread over them. */
  dlc_loader_options d = dlc_loader_options_default();
  d.rotate = 10;
  d.erase = 0.5f;
  d.brightness = 0.2f;
  d.contrast = 0.3f;
  int erased = 0, inrange = 1, wide = 0, areas = 1;
  for (uint64_t i = 0; i < 2000; i++) {
    dlc_aug_draw(&d, 28, 28, 77, i, &a);
    double deg = a.angle * 180 / 3.14159265358979323846;
    inrange &= fabs(deg) <= 10 && a.brightness >= 0.8f && a.brightness <= 1.2f && a.contrast >= 0.7f && a.contrast <= 1.3f;
    wide += fabs(deg) > 7;
    if (a.erase) {
      erased++;
      double f = (double)a.ew * a.eh / (28 * 28);
      areas &= f >= 0.01 && f <= 0.36 && a.ex + a.ew <= 28 && a.ey + a.eh <= 28;
    }
  }
  T_CHECK(inrange && wide > 400, "angles within 10 degrees (%d of 2000 beyond 7), jitter within its range", wide);
  T_CHECK(erased > 900 && erased < 1100 && areas, "erasing half the images (%d of 2000), rectangles of 2-33 %% inside", erased);

  /* A loader that augments: the same batches from the same seed and epoch, also from a
   * start mid-epoch; and images that differ from the unaugmented ones. */
  write_idx("a-img", "a-lab", 40, 8, 8, 0, 0, 3);
  dlc_dataset ds;
  T_OK(ctx, dlc_dataset_load_idx(ctx, path_of("a-img"), path_of("a-lab"), &ds));
  d.batch = 10;
  d.seed = 3;
  dlc_loader *l1, *l2, *plain;
  dlc_loader_options p = d;
  p.rotate = p.erase = p.brightness = p.contrast = 0;
  T_OK(ctx, dlc_loader_create(ctx, &ds, &d, &l1));
  T_OK(ctx, dlc_loader_create(ctx, &ds, &d, &l2));
  T_OK(ctx, dlc_loader_create(ctx, &ds, &p, &plain));
  float keep[3][640];
  dlc_tensor x, y;
  int64_t n;
  for (int b = 0; b < 3; b++) {
    T_OK(ctx, dlc_loader_next(l1, &x, &y, &n));
    memcpy(keep[b], x.data, sizeof keep[b]);
  }
  T_OK(ctx, dlc_loader_next(plain, &x, &y, &n));
  T_CHECK(memcmp(keep[0], x.data, sizeof keep[0]) != 0, "augmented images differ from plain ones");
  T_OK(ctx, dlc_loader_start(l2, 0, 2));
  T_OK(ctx, dlc_loader_next(l2, &x, &y, &n));
  T_CHECK(memcmp(keep[2], x.data, sizeof keep[2]) == 0, "a start at batch 2 augments batch 2 the same way");
  dlc_loader_destroy(l1);
  dlc_loader_destroy(l2);
  dlc_loader_destroy(plain);
  dlc_loader_options bad = d;
  bad.rotate = 200;
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "rotate 200", dlc_loader_create(ctx, &ds, &bad, &l1));
  dlc_dataset_free(&ds);
}

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  test_imbalance(ctx);
  snprintf(dir, sizeof dir, "/tmp/dlc_data_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  test_idx(ctx);
  test_cifar(ctx);
  test_csv(ctx);
  test_fashion_mnist(ctx);
  test_loader(ctx);
  test_augment(ctx);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  dlc_ctx_destroy(ctx);
  return t_finish("test_data");
}
