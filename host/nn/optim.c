/* Optimizers: state buffers beside the parameter buffer, the learning-rate schedule on the
 * host, one fused update per step (kernels/optim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/optim.h"
#include "ops/ops.h"

struct dlc_optim {
  dlc_ctx *ctx;
  dlc_optim_options o;
  int64_t n, step;
  dlc_tensor s1, s2;      /* momentum / Adam moments (zeroed) */
  dlc_tensor norm;        /* clipping: the gradient norm, then the reduction's partials */
};

dlc_optim_options dlc_optim_options_default(void) {
  dlc_optim_options o;
  memset(&o, 0, sizeof o);
  o.kind = DLC_OPT_SGD;
  o.lr = 0.01f;
  o.beta1 = 0.9f;
  o.beta2 = 0.999f;
  o.eps = 1e-8f;
  o.gamma = 0.1f;
  return o;
}

dlc_status dlc_optim_set_schedule_steps(dlc_optim *opt, int64_t steps_per_epoch, int64_t total_steps,
                                        int64_t warmup_steps) {
  if (!opt) return DLC_ERR_INVALID_ARG;
  if (steps_per_epoch < 0 || total_steps < 0 || warmup_steps < 0)
    return DLC_FAIL(opt->ctx, DLC_ERR_INVALID_ARG, "optimizer schedule: negative length (%lld, %lld, %lld steps)",
                    (long long)steps_per_epoch, (long long)total_steps, (long long)warmup_steps);
  opt->o.steps_per_epoch = steps_per_epoch;
  opt->o.total_steps = total_steps;
  opt->o.warmup_steps = warmup_steps;
  return DLC_OK;
}

float dlc_optim_lr(const dlc_optim *opt) {
  if (!opt) return 0.f;
  const dlc_optim_options *o = &opt->o;
  int64_t t = opt->step;
  if (o->warmup_steps > 0 && t < o->warmup_steps) return o->lr * (float)(t + 1) / (float)o->warmup_steps;
  switch (o->schedule) {
    case DLC_LR_STEP: {
      int64_t epoch = o->steps_per_epoch > 0 ? t / o->steps_per_epoch : 0;
      return o->lr * powf(o->gamma, (float)(epoch / (o->step_epochs > 0 ? o->step_epochs : 1)));
    }
    case DLC_LR_COSINE: {
      int64_t span = o->total_steps - o->warmup_steps;
      double f = span > 0 ? (double)(t - o->warmup_steps) / (double)span : 1.0;
      if (f > 1) f = 1;
      return (float)(o->min_lr + 0.5 * (o->lr - o->min_lr) * (1.0 + cos(3.14159265358979323846 * f)));
    }
    default: return o->lr;
  }
}

int64_t dlc_optim_steps(const dlc_optim *o) { return o ? o->step : 0; }
dlc_optimizer_kind dlc_optim_kind(const dlc_optim *o) { return o ? o->o.kind : DLC_OPT_SGD; }

void dlc_optim_state(dlc_optim *o, int64_t **step, dlc_tensor **s1, dlc_tensor **s2) {
  if (step) *step = o ? &o->step : NULL;
  if (s1) *s1 = o && o->s1.data ? &o->s1 : NULL;
  if (s2) *s2 = o && o->s2.data ? &o->s2 : NULL;
}

void dlc_optim_destroy(dlc_optim *o) {
  if (!o) return;
  dlc_tensor_free(o->ctx, &o->s1);
  dlc_tensor_free(o->ctx, &o->s2);
  dlc_tensor_free(o->ctx, &o->norm);
  free(o);
}

static dlc_status check_options(dlc_ctx *ctx, const dlc_optim_options *o) {
  if ((int)o->kind < 0 || o->kind > DLC_OPT_ADAMW)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "optimizer kind %d is not SGD, Adam or AdamW", (int)o->kind);
  if (!(o->lr >= 0.f) || !isfinite(o->lr)) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "learning rate %g", o->lr);
  if (!(o->momentum >= 0.f) || !(o->weight_decay >= 0.f) || !(o->clip_norm >= 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "momentum, weight decay and clip norm must be >= 0");
  if (o->nesterov && (o->momentum <= 0.f || o->dampening != 0.f))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "Nesterov momentum requires a momentum and zero dampening");
  if (o->kind != DLC_OPT_SGD && (!(o->beta1 >= 0.f && o->beta1 < 1.f) || !(o->beta2 >= 0.f && o->beta2 < 1.f) || !(o->eps > 0.f)))
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "Adam betas must be in [0, 1) and eps > 0");
  if ((int)o->schedule < 0 || o->schedule > DLC_LR_COSINE)
    return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "learning-rate schedule %d", (int)o->schedule);
  return DLC_OK;
}

dlc_status dlc_optim_create(dlc_ctx *ctx, const dlc_optim_options *opts, int64_t nparams, dlc_optim **out) {
  if (!ctx) return DLC_ERR_INVALID_ARG;
  DLC_CHECK_NULL(ctx, out);
  *out = NULL;
  dlc_optim_options o = opts ? *opts : dlc_optim_options_default();
  DLC_TRY(check_options(ctx, &o));
  if (nparams <= 0) return DLC_FAIL(ctx, DLC_ERR_SHAPE, "optimizer over %lld parameters", (long long)nparams);
  dlc_optim *opt = calloc(1, sizeof *opt);
  if (!opt) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "optimizer");
  opt->ctx = ctx;
  opt->o = o;
  opt->n = nparams;
  dlc_status s = DLC_OK;
  int states = o.kind == DLC_OPT_SGD ? (o.momentum > 0.f) : 2;
  if (states >= 1 && (s = dlc_tensor_alloc(ctx, &opt->s1, DLC_F32, 1, &nparams, ctx->device)) == DLC_OK)
    s = dlc_op_fill(ctx, &opt->s1, 0.f);
  if (s == DLC_OK && states >= 2 && (s = dlc_tensor_alloc(ctx, &opt->s2, DLC_F32, 1, &nparams, ctx->device)) == DLC_OK)
    s = dlc_op_fill(ctx, &opt->s2, 0.f);
  if (s == DLC_OK && o.clip_norm > 0.f) {
    int64_t m = DLC_CLIP_NORM_WORK;
    s = dlc_tensor_alloc(ctx, &opt->norm, DLC_F32, 1, &m, ctx->device);
  }
  if (s != DLC_OK) {
    dlc_optim_destroy(opt);
    return s;
  }
  *out = opt;
  return DLC_OK;
}

/* Parameters [lo, hi) on the CPU. Inlined into each case of dlc_optim_step with the
 * case's switches as constants in *h (a local copy: stores to p cannot alias it). */
static inline void optim_range(const dlc_optim_hparams *h, float *restrict p, const float *restrict g,
                               float *restrict s1, float *restrict s2, float clip, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float a = s1 ? s1[i] : 0.f, b = s2 ? s2[i] : 0.f;
    dlc_optim_update(h, &p[i], g[i] * clip, &a, &b);
    if (s1) s1[i] = a;
    if (s2) s2[i] = b;
  }
}

dlc_status dlc_optim_step(dlc_optim *opt, dlc_tensor *params, const dlc_tensor *grads) {
  if (!opt) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = opt->ctx;
  DLC_TRY(dlc_check_f32(ctx, params, "params"));
  DLC_TRY(dlc_check_like(ctx, params, grads, "grads"));
  if (params->numel != opt->n)
    return DLC_FAIL(ctx, DLC_ERR_SHAPE, "optimizer built for %lld parameters, given %lld",
                    (long long)opt->n, (long long)params->numel);
  const dlc_optim_options *o = &opt->o;
  dlc_optim_hparams h;
  memset(&h, 0, sizeof h);
  h.kind = (int)o->kind;
  h.lr = dlc_optim_lr(opt);
  h.momentum = o->momentum;
  h.dampening = o->dampening;
  h.weight_decay = o->weight_decay;
  h.beta1 = o->beta1;
  h.beta2 = o->beta2;
  h.eps = o->eps;
  h.nesterov = o->nesterov;
  h.first = opt->step == 0;
  h.max_norm = o->clip_norm;
  double t = (double)(opt->step + 1);
  h.bias_corr1 = (float)(1.0 - pow(o->beta1, t));
  h.bias_corr2 = (float)(1.0 - pow(o->beta2, t));
  float *p = params->data, *s1 = opt->s1.data, *s2 = opt->s2.data;
  const float *g = grads->data;
  int64_t n = opt->n;
  const float *norm = NULL; /* on the parameters' device */
  if (o->clip_norm > 0.f) {
    dlc_tensor *list[1] = {(dlc_tensor *)grads};
    DLC_TRY(dlc_op_grad_norm(ctx, list, 1, &opt->norm));
    norm = opt->norm.data;
  }
  if (dlc_on_cuda(params)) {
    DLC_TRY(DLC_LAUNCH(ctx, "optim", dlc_launch_optim(&h, p, g, s1, s2, n, norm, ctx->stream)));
  } else {
    float clip = norm ? dlc_optim_clip(&h, *norm) : 1.f;
#pragma omp parallel if (n > DLC_OMP_MIN_WORK) num_threads(dlc_cpu_threads(ctx))
    {
      int64_t lo, hi;
      dlc_omp_range(n, &lo, &hi);
      /* The common cases with their switches as constants, so that each loop is the shared
       * body without branches (vectorised); the rest (SGD's first step) the general loop. */
      dlc_optim_hparams k = h;
      if (h.kind == 0 && !s1) {
        k.kind = 0;
        k.momentum = 0.f;
        optim_range(&k, p, g, NULL, NULL, clip, lo, hi);
      } else if (h.kind == 0 && !h.first) {
        k.kind = 0;
        k.first = 0;
        if (h.nesterov) {
          k.nesterov = 1;
          optim_range(&k, p, g, s1, NULL, clip, lo, hi);
        } else {
          k.nesterov = 0;
          optim_range(&k, p, g, s1, NULL, clip, lo, hi);
        }
      } else if (h.kind == 1) {
        k.kind = 1;
        optim_range(&k, p, g, s1, s2, clip, lo, hi);
      } else if (h.kind == 2) {
        k.kind = 2;
        optim_range(&k, p, g, s1, s2, clip, lo, hi);
      } else {
        optim_range(&k, p, g, s1, s2, clip, lo, hi);
      }
    }
  }
  opt->step++;
  return DLC_OK;
}
