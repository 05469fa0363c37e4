/* Model files: INI sections read with libinih, one section per layer in order, [net] first
 * for the input shape and training settings, a loss section last. libinih reports keys but
 * not section boundaries, so the line reader we hand it notes each "[section]" line and its
 * number; keys are then attached to the last section opened before them. That keeps
 * repeated and key-less sections ([dense] twice, [flatten]) apart, and gives every error a
 * line number. The reader also refuses what is not text (a NUL byte), reports a line too
 * long for libinih's buffer at its own number (a comment may be any length), and marks
 * indented lines, which libinih passes as continuations of the key above: their values
 * are joined with a space, so a long list can span lines. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "nn/model_cfg.h"
#include "io/file_io.h"
#include "nn/net_internal.h"

#define CFG_MAX_SECTIONS 512
#define CFG_MAX_KEYS 4096

typedef struct cfg_key {
  char key[64];
  char *value; /* any length: continuation lines append to it */
  int line, section, used;
} cfg_key;

typedef struct cfg_section {
  char name[64];
  int line;
} cfg_section;

typedef struct cfg {
  const char *path;
  FILE *fp;
  int line;
  cfg_section sec[CFG_MAX_SECTIONS];
  int nsec;
  cfg_key keys[CFG_MAX_KEYS];
  int nkeys;
  int overflow;
  char *linebuf; /* the whole current line (getline) */
  size_t linecap;
  int indented;   /* the current line starts with white space and holds something */
  char err[512];  /* a reader or handler error, reported before libinih's */
} cfg;

static void cfg_free(cfg *c) {
  for (int i = 0; i < c->nkeys; i++) free(c->keys[i].value);
  free(c->linebuf);
  free(c);
}

/* libinih's line reader: counts lines and notes section headers as they stream by. num is
 * libinih's line buffer (its build's INI_MAX_LINE). */
static char *cfg_reader(char *str, int num, void *stream) {
  cfg *c = stream;
  if (c->err[0]) return NULL;
  ssize_t len = getline(&c->linebuf, &c->linecap, c->fp);
  if (len < 0) return NULL;
  c->line++;
  const char *line = c->linebuf;
  if ((size_t)len != strlen(line)) {
    snprintf(c->err, sizeof c->err, "%s:%d: a NUL byte: a model file is text", c->path, c->line);
    return NULL;
  }
  size_t body = (size_t)len;
  while (body > 0 && (line[body - 1] == '\n' || line[body - 1] == '\r')) body--;
  const char *p = line;
  while (isspace((unsigned char)*p)) p++;
  int comment = *p == ';' || *p == '#';
  c->indented = p != line && *p && !comment;
  if (body + 2 > (size_t)num) {
    if (comment) { /* not parsed: any length */
      snprintf(str, (size_t)num, "\n");
      return str;
    }
    snprintf(c->err, sizeof c->err,
             "%s:%d: the line is %zu characters long, more than the %d a line may hold: split a long value over "
             "indented continuation lines",
             c->path, c->line, body, num - 2);
    return NULL;
  }
  memcpy(str, line, body);
  str[body] = '\n';
  str[body + 1] = '\0';
  if (*p == '[') {
    const char *end = strchr(p, ']');
    if (end && c->nsec < CFG_MAX_SECTIONS) {
      cfg_section *s = &c->sec[c->nsec++];
      size_t n = (size_t)(end - p - 1) < sizeof s->name - 1 ? (size_t)(end - p - 1) : sizeof s->name - 1;
      memcpy(s->name, p + 1, n);
      s->name[n] = '\0';
      s->line = c->line;
    } else if (end) {
      c->overflow = 1;
    }
  }
  return str;
}

static int cfg_handler(void *user, const char *section, const char *name, const char *value) {
  cfg *c = user;
  (void)section;
  if (c->nkeys == CFG_MAX_KEYS || c->nsec == 0) {
    c->overflow = c->nkeys == CFG_MAX_KEYS;
    if (c->nsec == 0) c->keys[0].line = c->line; /* a key before any section */
    return 0;
  }
  cfg_key *last = c->nkeys ? &c->keys[c->nkeys - 1] : NULL;
  if (c->indented && last && last->section == c->nsec - 1 && strcmp(last->key, name) == 0) {
    /* A continuation line of the key above. */
    size_t a = strlen(last->value), b = strlen(value);
    char *v = realloc(last->value, a + b + 2);
    if (!v) {
      snprintf(c->err, sizeof c->err, "%s:%d: out of memory", c->path, c->line);
      return 0;
    }
    v[a] = ' ';
    memcpy(v + a + 1, value, b + 1);
    last->value = v;
    return 1;
  }
  for (int i = c->nkeys - 1; i >= 0 && c->keys[i].section == c->nsec - 1; i--)
    if (strcmp(c->keys[i].key, name) == 0) {
      snprintf(c->err, sizeof c->err, "%s:%d: [%s] sets '%.60s' twice (first at line %d)", c->path, c->line,
               c->sec[c->nsec - 1].name, name, c->keys[i].line);
      return 0;
    }
  if (strlen(name) >= sizeof c->keys[0].key) {
    snprintf(c->err, sizeof c->err, "%s:%d: key '%.60s...' is longer than %zu characters", c->path, c->line, name,
             sizeof c->keys[0].key - 1);
    return 0;
  }
  cfg_key *k = &c->keys[c->nkeys];
  snprintf(k->key, sizeof k->key, "%s", name);
  k->value = strdup(value);
  if (!k->value) {
    snprintf(c->err, sizeof c->err, "%s:%d: out of memory", c->path, c->line);
    return 0;
  }
  c->nkeys++;
  k->line = c->line;
  k->section = c->nsec - 1;
  k->used = 0;
  return 1;
}

/* Section-scoped key access for the builders. */
typedef struct sec_ctx {
  dlc_ctx *ctx;
  cfg *c;
  int s;
  dlc_train_config *t; /* settings that sections other than [net] give */
} sec_ctx;

static cfg_key *get(sec_ctx *sc, const char *key) {
  for (int i = 0; i < sc->c->nkeys; i++) {
    cfg_key *k = &sc->c->keys[i];
    if (k->section == sc->s && strcmp(k->key, key) == 0) {
      k->used = 1;
      return k;
    }
  }
  return NULL;
}

static dlc_status bad_value(sec_ctx *sc, cfg_key *k, const char *want) {
  return DLC_FAIL(sc->ctx, DLC_ERR_FORMAT, "%s:%d: [%s] %s = \"%.80s\": expected %s", sc->c->path, k->line,
                  sc->c->sec[sc->s].name, k->key, k->value, want);
}

/* A required key is absent; a key the section does not know is often its misspelling. */
static dlc_status missing(sec_ctx *sc, const char *key) {
  char also[160] = "";
  for (int i = 0; i < sc->c->nkeys; i++) {
    cfg_key *k = &sc->c->keys[i];
    if (k->section == sc->s && !k->used && strcmp(k->key, "name") != 0) {
      snprintf(also, sizeof also, "; it has '%s' (line %d), which it does not know", k->key, k->line);
      break;
    }
  }
  return DLC_FAIL(sc->ctx, DLC_ERR_FORMAT, "%s:%d: [%s] needs a '%s' key%s", sc->c->path,
                  sc->c->sec[sc->s].line, sc->c->sec[sc->s].name, key, also);
}

/* Integer list "a,b,c" of 1..max entries in [lo, hi]; *n gets the count. */
static dlc_status get_ints(sec_ctx *sc, const char *key, int64_t *v, int max, int *n, int64_t lo,
                           int64_t hi, int required) {
  cfg_key *k = get(sc, key);
  if (!k) {
    *n = 0;
    return required ? missing(sc, key) : DLC_OK;
  }
  const char *p = k->value;
  *n = 0;
  for (;;) {
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (end == p || errno || x < lo || x > hi || *n == max) {
      char want[96];
      snprintf(want, sizeof want, "%s%d integer%s in [%lld, %lld]", max > 1 ? "1 to " : "", max,
               max > 1 ? "s" : "", (long long)lo, (long long)hi);
      return bad_value(sc, k, want);
    }
    v[(*n)++] = x;
    while (isspace((unsigned char)*end)) end++;
    if (*end == '\0') return DLC_OK;
    if (*end != ',') return bad_value(sc, k, "comma-separated integers");
    p = end + 1;
  }
}

static dlc_status get_int(sec_ctx *sc, const char *key, int64_t *v, int64_t def, int64_t lo, int64_t hi) {
  int n;
  *v = def;
  return get_ints(sc, key, v, 1, &n, lo, hi, 0);
}

static dlc_status get_req_int(sec_ctx *sc, const char *key, int64_t *v, int64_t lo, int64_t hi) {
  int n;
  return get_ints(sc, key, v, 1, &n, lo, hi, 1);
}

/* A pair given as "k" or "kh,kw". */
static dlc_status get_pair(sec_ctx *sc, const char *key, int64_t v[2], int64_t def, int64_t lo, int64_t hi,
                           int required) {
  int n;
  DLC_TRY(get_ints(sc, key, v, 2, &n, lo, hi, required));
  if (n == 0) v[0] = v[1] = def;
  if (n == 1) v[1] = v[0];
  return DLC_OK;
}

static dlc_status get_floats(sec_ctx *sc, const char *key, float *v, int max, int *n, float lo, float hi) {
  cfg_key *k = get(sc, key);
  *n = 0;
  if (!k) return DLC_OK;
  const char *p = k->value;
  for (;;) {
    char *end;
    errno = 0;
    float x = strtof(p, &end);
    if (end == p || errno || !isfinite(x) || x < lo || x > hi || *n == max) {
      char want[96];
      snprintf(want, sizeof want, "%s%d number%s in [%g, %g]", max > 1 ? "1 to " : "", max, max > 1 ? "s" : "", lo, hi);
      return bad_value(sc, k, want);
    }
    v[(*n)++] = x;
    while (isspace((unsigned char)*end)) end++;
    if (*end == '\0') return DLC_OK;
    if (*end != ',') return bad_value(sc, k, "comma-separated numbers");
    p = end + 1;
  }
}

static dlc_status get_float(sec_ctx *sc, const char *key, float *v, float def, float lo, float hi) {
  int n;
  *v = def;
  return get_floats(sc, key, v, 1, &n, lo, hi);
}

/* One of `choices` (NULL-terminated); *v = its index, or def when absent. */
static dlc_status get_choice(sec_ctx *sc, const char *key, const char *const *choices, int *v, int def) {
  cfg_key *k = get(sc, key);
  *v = def;
  if (!k) return DLC_OK;
  char want[256] = "one of";
  for (int i = 0; choices[i]; i++) {
    if (strcmp(k->value, choices[i]) == 0) {
      *v = i;
      return DLC_OK;
    }
    strncat(want, i ? ", " : " ", sizeof want - strlen(want) - 1);
    strncat(want, choices[i], sizeof want - strlen(want) - 1);
  }
  return bad_value(sc, k, want);
}

static const char *get_str(sec_ctx *sc, const char *key) {
  cfg_key *k = get(sc, key);
  return k ? k->value : NULL;
}

/* The key readers for the layer files' section builders (nn/model_cfg.h). */
const char *dlc_cfg_str(dlc_cfg_section *sc, const char *key) { return get_str(sc, key); }
dlc_status dlc_cfg_int(dlc_cfg_section *sc, const char *key, int64_t *v, int64_t def, int64_t lo, int64_t hi) {
  return get_int(sc, key, v, def, lo, hi);
}
dlc_status dlc_cfg_float(dlc_cfg_section *sc, const char *key, float *v, float def, float lo, float hi) {
  return get_float(sc, key, v, def, lo, hi);
}

/* Wraps a builder's failure with the section's place in the file. */
static dlc_status in_section(sec_ctx *sc, dlc_status s) {
  if (s == DLC_OK) return s;
  const char *e = dlc_ctx_error(sc->ctx);
  if (strstr(e, sc->c->path)) return s; /* already says where */
  char msg[DLC_MSG_LEN];
  snprintf(msg, sizeof msg, "%s", e);
  return DLC_FAIL(sc->ctx, s, "%s:%d: [%s]: %.900s", sc->c->path, sc->c->sec[sc->s].line,
                  sc->c->sec[sc->s].name, msg);
}

/* ---- [net] */

static dlc_status parse_net(sec_ctx *sc, int64_t in_shape[DLC_MAX_DIMS], int *in_ndim, dlc_train_config *t) {
  int64_t v;
  DLC_TRY(get_ints(sc, "input", in_shape, DLC_MAX_DIMS - 1, in_ndim, 1, INT64_C(1) << 31, 1));
  DLC_TRY(get_int(sc, "batch", &t->batch, 64, 1, DLC_MAX_BATCH));
  DLC_TRY(get_int(sc, "epochs", &v, 10, 1, DLC_MAX_EPOCHS));
  t->epochs = (int)v;
  dlc_optim_options *o = &t->optim;
  int k;
  DLC_TRY(get_choice(sc, "optimizer", dlc_optimizer_names, &k, 0));
  o->kind = (dlc_optimizer_kind)k;
  DLC_TRY(get_float(sc, "lr", &o->lr, 0.01f, 0.f, FLT_MAX));
  DLC_TRY(get_float(sc, "momentum", &o->momentum, 0.f, 0.f, 1.f));
  DLC_TRY(get_int(sc, "nesterov", &v, 0, 0, 1));
  o->nesterov = (int)v;
  DLC_TRY(get_float(sc, "weight_decay", &o->weight_decay, 0.f, 0.f, 1.f));
  DLC_TRY(get_float(sc, "beta1", &o->beta1, 0.9f, 0.f, 0.999999f));
  DLC_TRY(get_float(sc, "beta2", &o->beta2, 0.999f, 0.f, 0.999999f));
  DLC_TRY(get_float(sc, "eps", &o->eps, 1e-8f, 1e-12f, 1.f));
  DLC_TRY(get_float(sc, "clip_norm", &o->clip_norm, 0.f, 0.f, 1e6f));
  DLC_TRY(get_choice(sc, "schedule", dlc_lr_schedule_names, &k, 0));
  o->schedule = (dlc_lr_schedule)k;
  DLC_TRY(get_float(sc, "min_lr", &o->min_lr, 0.f, 0.f, 1e3f));
  DLC_TRY(get_int(sc, "step_epochs", &v, 10, 1, 100000));
  o->step_epochs = (int)v;
  DLC_TRY(get_float(sc, "gamma", &o->gamma, 0.1f, 0.f, 1.f));
  DLC_TRY(get_float(sc, "warmup_epochs", &t->warmup_epochs, 0.f, 0.f, 1000.f));
  dlc_loader_options *l = &t->loader;
  int nm, ns;
  DLC_TRY(get_floats(sc, "mean", l->mean, 3, &nm, -1e6f, 1e6f));
  DLC_TRY(get_floats(sc, "std", l->std, 3, &ns, 1e-12f, 1e6f));
  if (nm != ns) return DLC_FAIL(sc->ctx, DLC_ERR_FORMAT, "%s:%d: [net] mean and std need the same number of values",
                                sc->c->path, sc->c->sec[sc->s].line);
  for (int c = nm; c < 3 && nm > 0; c++) { /* one value: every channel */
    l->mean[c] = l->mean[0];
    l->std[c] = l->std[0];
  }
  l->normalize = nm > 0;
  DLC_TRY(get_int(sc, "flip", &v, 0, 0, 1));
  l->flip = (int)v;
  DLC_TRY(get_int(sc, "crop_pad", &v, 0, 0, 64));
  l->crop_pad = (int)v;
  DLC_TRY(get_float(sc, "rotate", &l->rotate, 0.f, 0.f, DLC_MAX_ROTATE));
  DLC_TRY(get_float(sc, "erase", &l->erase, 0.f, 0.f, 1.f));
  DLC_TRY(get_float(sc, "brightness", &l->brightness, 0.f, 0.f, 1.f));
  DLC_TRY(get_float(sc, "contrast", &l->contrast, 0.f, 0.f, 1.f));
  static const char *const samplers[] = {"uniform", "balanced", NULL};
  int sampler;
  DLC_TRY(get_choice(sc, "sampler", samplers, &sampler, 0));
  l->balanced = sampler == 1;
  const char *data = get_str(sc, "data");
  snprintf(t->data, sizeof t->data, "%s", data ? data : "/usr/share/datasets/fashion-mnist");
  const char *names = get_str(sc, "classes");
  if (names && strlen(names) >= sizeof t->class_names)
    return DLC_FAIL(sc->ctx, DLC_ERR_FORMAT, "%s:%d: [net] classes: longer than %zu characters", sc->c->path,
                    sc->c->sec[sc->s].line, sizeof t->class_names - 1);
  snprintf(t->class_names, sizeof t->class_names, "%s", names ? names : "");
  /* CSV columns of the targets (regression) or the label: 0-based, negative from the end. */
  int64_t cols[DLC_MAX_TARGETS];
  int nc;
  DLC_TRY(get_ints(sc, "targets", cols, DLC_MAX_TARGETS, &nc, -65536, 65535, 0));
  memset(&t->data_spec, 0, sizeof t->data_spec);
  t->data_spec.num_columns = nc > 0 ? nc : 1;
  t->data_spec.columns[0] = -1;
  for (int i = 0; i < nc; i++) t->data_spec.columns[i] = (int)cols[i];
  t->data_spec.sample_values = 1;
  for (int i = 0; i < *in_ndim; i++) t->data_spec.sample_values *= in_shape[i];
  return DLC_OK;
}

/* ---- layer sections */

static dlc_status opt_name(sec_ctx *sc, const char **name) {
  *name = get_str(sc, "name");
  return DLC_OK;
}

static dlc_status sec_dense(sec_ctx *sc, dlc_net *net) {
  int64_t units, bias;
  const char *name;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_req_int(sc, "units", &units, 1, INT64_C(1) << 30));
  DLC_TRY(get_int(sc, "bias", &bias, 1, 0, 1));
  return dlc_net_add_dense(net, name, units, (int)bias);
}

static dlc_status sec_act(sec_ctx *sc, dlc_net *net, dlc_act act) {
  const char *name;
  float slope = 0.f;
  DLC_TRY(opt_name(sc, &name));
  if (act == DLC_ACT_LEAKY_RELU) DLC_TRY(get_float(sc, "slope", &slope, 0.01f, -1e3f, 1e3f));
  return dlc_net_add_activation(net, name, act, slope);
}

static dlc_status sec_dropout(sec_ctx *sc, dlc_net *net) {
  const char *name;
  float p;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_float(sc, "p", &p, 0.5f, 0.f, 0.999f));
  return dlc_net_add_dropout(net, name, p);
}

static dlc_status sec_flatten(sec_ctx *sc, dlc_net *net) {
  const char *name;
  DLC_TRY(opt_name(sc, &name));
  return dlc_net_add_flatten(net, name);
}

static dlc_status sec_batchnorm(sec_ctx *sc, dlc_net *net) {
  const char *name;
  float eps, momentum;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_float(sc, "eps", &eps, 1e-5f, 1e-12f, 1.f));
  DLC_TRY(get_float(sc, "momentum", &momentum, 0.1f, 0.f, 1.f));
  return dlc_net_add_batchnorm(net, name, eps, momentum);
}

static dlc_status sec_residual(sec_ctx *sc, dlc_net *net) {
  const char *name, *from = get_str(sc, "from");
  DLC_TRY(opt_name(sc, &name));
  if (!from) return missing(sc, "from");
  return dlc_net_add_residual(net, name, from);
}

static dlc_status sec_xent(sec_ctx *sc, dlc_net *net) {
  dlc_xent_opts o = dlc_xent_opts_default();
  int64_t v;
  static const char *const reds[] = {"mean", "sum", NULL};
  int r;
  DLC_TRY(get_float(sc, "label_smoothing", &o.label_smoothing, 0.f, 0.f, 1.f));
  DLC_TRY(get_int(sc, "ignore_index", &v, -100, INT32_MIN, INT32_MAX));
  o.ignore_index = (int)v;
  DLC_TRY(get_choice(sc, "reduction", reds, &r, 0));
  o.reduction = (dlc_reduction)r;
  float w[4096];
  int nw = 0;
  const char *ws = get_str(sc, "weights");
  if (ws && !strcmp(ws, "balanced")) /* set from the training labels by the caller */
    sc->t->balanced_class_weights = 1;
  else
    DLC_TRY(get_floats(sc, "weights", w, 4096, &nw, 0.f, 1e6f));
  dlc_tensor wt;
  if (nw > 0) {
    int64_t n = nw;
    dlc_device cpu = {DLC_DEVICE_CPU, 0};
    DLC_TRY(dlc_tensor_borrow(sc->ctx, &wt, w, DLC_F32, 1, &n, cpu));
    o.class_weight = &wt;
  }
  return dlc_net_set_loss_xent(net, &o);
}

static dlc_status sec_mse(sec_ctx *sc, dlc_net *net) {
  static const char *const reds[] = {"mean", "sum", NULL};
  int r;
  DLC_TRY(get_choice(sc, "reduction", reds, &r, 0));
  return dlc_net_set_loss_mse(net, (dlc_reduction)r);
}

static dlc_status sec_conv2d(sec_ctx *sc, dlc_net *net) {
  const char *name;
  int64_t filters, k[2], st[2], pd[2], dl[2], groups, bias;
  static const char *const algos[] = {"auto", "im2col", "cudnn", NULL};
  int algo;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_req_int(sc, "filters", &filters, 1, INT64_C(1) << 20));
  DLC_TRY(get_pair(sc, "size", k, 1, 1, 1 << 12, 1));
  DLC_TRY(get_pair(sc, "stride", st, 1, 1, 1 << 12, 0));
  DLC_TRY(get_pair(sc, "pad", pd, 0, 0, 1 << 12, 0));
  DLC_TRY(get_pair(sc, "dilation", dl, 1, 1, 1 << 12, 0));
  DLC_TRY(get_int(sc, "groups", &groups, 1, 1, INT64_C(1) << 20));
  DLC_TRY(get_int(sc, "bias", &bias, 1, 0, 1));
  DLC_TRY(get_choice(sc, "algo", algos, &algo, 0));
  return dlc_net_add_conv2d(net, name, filters, k, st, pd, dl, groups, (int)bias, (dlc_conv_algo)algo);
}

static dlc_status sec_pool(sec_ctx *sc, dlc_net *net, dlc_pool_mode mode) {
  const char *name;
  int64_t k[2], st[2], pd[2], ceil_mode, cip = 1;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_pair(sc, "size", k, 2, 1, 1 << 12, 0));
  DLC_TRY(get_pair(sc, "stride", st, 0, 1, 1 << 12, 0));
  if (st[0] == 0) memcpy(st, k, sizeof st); /* PyTorch: the stride defaults to the kernel */
  DLC_TRY(get_pair(sc, "pad", pd, 0, 0, 1 << 12, 0));
  DLC_TRY(get_int(sc, "ceil_mode", &ceil_mode, 0, 0, 1));
  if (mode == DLC_POOL_AVG) DLC_TRY(get_int(sc, "count_include_pad", &cip, 1, 0, 1));
  return dlc_net_add_pool(net, name, mode, k, st, pd, (int)ceil_mode, (int)cip);
}

static dlc_status sec_maxpool(sec_ctx *sc, dlc_net *net) { return sec_pool(sc, net, DLC_POOL_MAX); }
static dlc_status sec_avgpool(sec_ctx *sc, dlc_net *net) { return sec_pool(sc, net, DLC_POOL_AVG); }

static dlc_status sec_globalavgpool(sec_ctx *sc, dlc_net *net) {
  const char *name;
  DLC_TRY(opt_name(sc, &name));
  return dlc_net_add_pool(net, name, DLC_POOL_GLOBAL_AVG, NULL, NULL, NULL, 0, 1);
}

static dlc_status sec_recurrent(sec_ctx *sc, dlc_net *net, dlc_rnn_mode mode) {
  const char *name;
  int64_t hidden, layers, last_only, bias;
  DLC_TRY(opt_name(sc, &name));
  DLC_TRY(get_req_int(sc, "hidden", &hidden, 1, INT64_C(1) << 20));
  DLC_TRY(get_int(sc, "layers", &layers, 1, 1, 4));
  DLC_TRY(get_int(sc, "last_only", &last_only, 0, 0, 1));
  DLC_TRY(get_int(sc, "bias", &bias, 1, 0, 1));
  if (mode == DLC_RNN_TANH) {
    static const char *const nl[] = {"tanh", "relu", NULL};
    int k;
    DLC_TRY(get_choice(sc, "nonlinearity", nl, &k, 0));
    if (k == 1) mode = DLC_RNN_RELU;
  }
  return dlc_net_add_rnn(net, name, mode, hidden, (int)layers, (int)last_only, (int)bias);
}

static dlc_status sec_rnn(sec_ctx *sc, dlc_net *net) { return sec_recurrent(sc, net, DLC_RNN_TANH); }
static dlc_status sec_lstm(sec_ctx *sc, dlc_net *net) { return sec_recurrent(sc, net, DLC_RNN_LSTM); }
static dlc_status sec_gru(sec_ctx *sc, dlc_net *net) { return sec_recurrent(sc, net, DLC_RNN_GRU); }

typedef dlc_status (*sec_builder)(sec_ctx *sc, dlc_net *net);

static const struct {
  const char *name;
  sec_builder build;
  int is_loss;
} sections[] = { /* and an activation section for each activation's name but "none" (names.c) */
    {"dense", sec_dense, 0},       {"dropout", sec_dropout, 0},
    {"flatten", sec_flatten, 0},   {"batchnorm", sec_batchnorm, 0}, {"residual", sec_residual, 0},
    {"conv2d", sec_conv2d, 0},     {"maxpool", sec_maxpool, 0},   {"avgpool", sec_avgpool, 0},
    {"globalavgpool", sec_globalavgpool, 0},
    {"rnn", sec_rnn, 0},           {"lstm", sec_lstm, 0},         {"gru", sec_gru, 0},
    {"softmax_xent", sec_xent, 1}, {"mse", sec_mse, 1},
#define DLC_LAYER_SECTION(kind) {#kind, dlc_cfg_section_##kind, 0},
#include "nn/layer_sections.def"
#undef DLC_LAYER_SECTION
};

static dlc_status unused_keys(sec_ctx *sc) {
  for (int i = 0; i < sc->c->nkeys; i++) {
    cfg_key *k = &sc->c->keys[i];
    if (k->section == sc->s && !k->used)
      return DLC_FAIL(sc->ctx, DLC_ERR_FORMAT, "%s:%d: [%s] has no key '%s'", sc->c->path, k->line,
                      sc->c->sec[sc->s].name, k->key);
  }
  return DLC_OK;
}

static dlc_status build_from(dlc_ctx *ctx, cfg *c, int64_t batch, dlc_net **out, dlc_train_config *t) {
  sec_ctx sc = {ctx, c, 0, t};
  if (c->nsec == 0 || strcmp(c->sec[0].name, "net") != 0)
    return DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: the first section must be [net]", c->path,
                    c->nsec ? c->sec[0].line : 1);
  int64_t in_shape[DLC_MAX_DIMS];
  int in_ndim;
  DLC_TRY(parse_net(&sc, in_shape, &in_ndim, t));
  DLC_TRY(unused_keys(&sc));
  if (batch > 0) t->batch = batch;
  dlc_net *net;
  DLC_TRY(in_section(&sc, dlc_net_create(ctx, in_ndim, in_shape, t->batch, &net)));
  dlc_status s = DLC_OK;
  int have_loss = 0;
  for (int i = 1; i < c->nsec && s == DLC_OK; i++) {
    sc.s = i;
    if (strcmp(c->sec[i].name, "net") == 0) {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: a second [net] section (the first is at line %d): [net] comes once, first",
                   c->path, c->sec[i].line, c->sec[0].line);
      break;
    }
    int found = -1;
    for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++)
      if (strcmp(c->sec[i].name, sections[k].name) == 0) found = (int)k;
    dlc_act act = DLC_ACT_NONE;
    int is_act = found < 0 && dlc_act_from_name(c->sec[i].name, &act) == DLC_OK && act != DLC_ACT_NONE;
    if (found < 0 && !is_act) {
      char known[512] = "";
      for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
        strncat(known, k ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, sections[k].name, sizeof known - strlen(known) - 1);
      }
      for (int a = DLC_ACT_NONE + 1; a < DLC_ACT_COUNT; a++) {
        strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, dlc_act_name((dlc_act)a), sizeof known - strlen(known) - 1);
      }
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: unknown section [%s] (known: net, %s)", c->path, c->sec[i].line,
                   c->sec[i].name, known);
      break;
    }
    if (have_loss) {
      s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: [%s] after the loss section: the loss comes last", c->path,
                   c->sec[i].line, c->sec[i].name);
      break;
    }
    s = in_section(&sc, is_act ? sec_act(&sc, net, act) : sections[found].build(&sc, net));
    if (s == DLC_OK) s = unused_keys(&sc);
    if (is_act) continue;
    have_loss |= sections[found].is_loss;
    if (!strcmp(sections[found].name, "mse")) t->data_spec.regression = 1;
  }
  if (s == DLC_OK && !t->data_spec.regression && t->data_spec.num_columns != 1)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: [net] targets names %d columns, but a classifier takes one label column "
                 "(several targets need an [mse] head)", c->path, t->data_spec.num_columns);
  if (s == DLC_OK && net->nlayers == 0)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: the model has no layers", c->path);
  if (s == DLC_OK) s = dlc_net_build(net);
  if (s != DLC_OK) {
    dlc_net_destroy(net);
    return s;
  }
  *out = net;
  return DLC_OK;
}

dlc_status dlc_model_load(dlc_ctx *ctx, const char *path, int64_t batch, dlc_net **out,
                          dlc_train_config *cfg_out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, path);
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  cfg *c = calloc(1, sizeof *c);
  if (!c) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "model file parser");
  c->path = path;
  dlc_status so = dlc_fopen_input(ctx, path, "model file", "r", &c->fp);
  if (so != DLC_OK) {
    cfg_free(c);
    return so;
  }
  int err = ini_parse_stream(cfg_reader, c, cfg_handler, c);
  fclose(c->fp);
  dlc_status s = DLC_OK;
  if (c->err[0])
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s", c->err);
  else if (c->overflow)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s: more than %d sections or %d keys", path, CFG_MAX_SECTIONS, CFG_MAX_KEYS);
  else if (err > 0 && (c->nsec == 0 || err < c->sec[0].line))
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: a key before the first section", path, err);
  else if (err > 0)
    s = DLC_FAIL(ctx, DLC_ERR_FORMAT, "%s:%d: not a [section] or key = value line (or longer than %d characters)",
                 path, err, INI_MAX_LINE);
  else if (err < 0)
    s = DLC_FAIL(ctx, DLC_ERR_IO, "%s: could not be read", path);
  dlc_train_config t;
  memset(&t, 0, sizeof t);
  t.optim = dlc_optim_options_default();
  t.loader = dlc_loader_options_default();
  if (s == DLC_OK) s = build_from(ctx, c, batch, out, &t);
  if (s == DLC_OK && cfg_out) *cfg_out = t;
  cfg_free(c);
  return s;
}
