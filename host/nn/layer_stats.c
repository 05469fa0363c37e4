/* Layer statistics during training: per layer, the output's mean and standard deviation,
 * dead ReLU units or saturated tanh/sigmoid values, and the weight and gradient norms.
 * Accumulated after every training step on the network's device (kernels/stats.h on a
 * GPU, the loops below on the CPU: both in a fixed order), read once when asked. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/stats.h"
#include "nn/net_internal.h"

/* Doubles per layer in stats_acc. */
enum { S_SUM, S_SQ, S_SAT, S_COUNT, S_GRAD, S_WEIGHT, DLC_STATS_SLOTS };

/* Whether layer i's own output is measured: not a view of its input (flatten), and not a
 * dense output the next layer's activation was fused into (measured as that activation). */
static int has_output(const dlc_net *net, int i) {
  const dlc_layer *l = &net->layers[i];
  if (l->alias_input && !l->absorbed) return 0;
  return !(i + 1 < net->nlayers && net->layers[i + 1].absorbed);
}

static int counts_dead(const dlc_layer *l) {
  return l->vt == &dlc_vt_activation && (l->act == DLC_ACT_RELU || l->act == DLC_ACT_LEAKY_RELU);
}

/* The saturation bounds of a tanh or sigmoid layer (none for others: never counted). */
static int saturation(const dlc_layer *l, float *lo, float *hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  if (l->vt != &dlc_vt_activation) return 0;
  if (l->act == DLC_ACT_TANH) {
    *lo = -0.99f;
    *hi = 0.99f;
    return 1;
  }
  if (l->act == DLC_ACT_SIGMOID) {
    *lo = 0.005f;
    *hi = 0.995f;
    return 1;
  }
  return 0;
}

static int has_params(const dlc_layer *l) {
  for (int k = 0; k < l->nparam; k++)
    if (!l->param[k].is_buffer && !l->param[k].is_counter) return 1;
  return 0;
}

void dlc_net_stats_free(dlc_net *net) {
  dlc_tensor_free(net->ctx, &net->stats_acc);
  dlc_tensor_free(net->ctx, &net->stats_alive);
  dlc_tensor_free(net->ctx, &net->stats_work);
  free(net->stats_alive_at);
  net->stats_alive_at = NULL;
  net->stats_on = 0;
}

dlc_status dlc_net_layer_stats_reset(dlc_net *net) {
  if (!net) return DLC_ERR_INVALID_ARG;
  if (!net->stats_on) return DLC_FAIL(net->ctx, DLC_ERR_INVALID_ARG, "layer statistics are not enabled");
  DLC_TRY(dlc_op_fill(net->ctx, &net->stats_acc, 0.f));
  DLC_TRY(dlc_op_fill(net->ctx, &net->stats_alive, 0.f));
  net->stats_steps = 0;
  return DLC_OK;
}

dlc_status dlc_net_layer_stats_enable(dlc_net *net, int enable) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  if (!enable) {
    dlc_net_stats_free(net);
    return DLC_OK;
  }
  if (!net->built) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layer statistics: build the network first");
  if (net->stats_on) return dlc_net_layer_stats_reset(net);
  net->stats_alive_at = malloc(sizeof(int64_t) * (size_t)net->nlayers);
  if (!net->stats_alive_at) return DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "layer statistics");
  int64_t units = 0;
  for (int i = 0; i < net->nlayers; i++) {
    const dlc_layer *l = &net->layers[i];
    net->stats_alive_at[i] = has_output(net, i) && counts_dead(l) ? units : -1;
    if (net->stats_alive_at[i] >= 0) units += l->numel;
  }
  /* Doubles in float storage (zero bits are 0.0); at least one float each. */
  int64_t acc = 2 * DLC_STATS_SLOTS * (int64_t)net->nlayers, work = 2 * DLC_STATS_WORK, alive = units ? units : 1;
  dlc_status s = dlc_tensor_alloc(ctx, &net->stats_acc, DLC_F32, 1, &acc, ctx->device);
  if (s == DLC_OK) s = dlc_tensor_alloc(ctx, &net->stats_work, DLC_F32, 1, &work, ctx->device);
  if (s == DLC_OK) s = dlc_tensor_alloc(ctx, &net->stats_alive, DLC_F32, 1, &alive, ctx->device);
  if (s == DLC_OK) {
    net->stats_on = 1;
    s = dlc_net_layer_stats_reset(net);
  }
  if (s != DLC_OK) dlc_net_stats_free(net);
  return s;
}

static double *slot(dlc_net *net, int i) { return (double *)net->stats_acc.data + (size_t)i * DLC_STATS_SLOTS; }

/* The CPU's sums over x[0 .. n): per thread over fixed shares, added in thread order. */
static void cpu_act_stats(dlc_ctx *ctx, const float *x, int64_t n, float lo, float hi, double *acc) {
  enum { MAXT = 256 };
  double part[MAXT][3];
  int T = n > DLC_OMP_MIN_WORK ? dlc_cpu_threads(ctx) : 1;
  if (T > MAXT) T = MAXT;
#pragma omp parallel for schedule(static, 1) num_threads(T) if (T > 1)
  for (int t = 0; t < T; t++) {
    int64_t a = n * t / T, b = n * (t + 1) / T, i = a, sat = 0;
    /* LANES independent sums (added in lane order): the loop vectorises and is not bound
     * by the latency of one chain of additions. */
    enum { LANES = 8 };
    double sum[LANES] = {0}, sq[LANES] = {0};
    for (; i + LANES <= b; i += LANES)
      for (int k = 0; k < LANES; k++) {
        float v = x[i + k];
        sum[k] += v;
        sq[k] += (double)v * v;
        sat += dlc_stats_saturated(v, lo, hi);
      }
    for (int k = 0; i < b; i++, k++) {
      float v = x[i];
      sum[k] += v;
      sq[k] += (double)v * v;
      sat += dlc_stats_saturated(v, lo, hi);
    }
    double s1 = 0, s2 = 0;
    for (int k = 0; k < LANES; k++) {
      s1 += sum[k];
      s2 += sq[k];
    }
    part[t][0] = s1;
    part[t][1] = s2;
    part[t][2] = (double)sat;
  }
  for (int t = 0; t < T; t++)
    for (int k = 0; k < 3; k++) acc[k] += part[t][k];
  acc[S_COUNT] += (double)n;
}

static double cpu_sumsq(const float *x, int64_t n) {
  double sq = 0;
  for (int64_t i = 0; i < n; i++) sq += (double)x[i] * x[i];
  return sq;
}

dlc_status dlc_net_stats_forward(dlc_net *net) {
  if (!net->stats_on) return DLC_OK;
  dlc_ctx *ctx = net->ctx;
  int gpu = dlc_on_cuda(&net->stats_acc);
  double *work = net->stats_work.data;
  for (int i = 0; i < net->nlayers; i++) {
    const dlc_layer *l = &net->layers[i];
    if (!has_output(net, i)) continue;
    const float *y = l->out.data;
    int64_t n = net->n * l->numel;
    float lo, hi;
    saturation(l, &lo, &hi);
    if (gpu)
      DLC_TRY(DLC_LAUNCH(ctx, "act_stats", dlc_launch_act_stats(y, n, lo, hi, work, slot(net, i), ctx->stream)));
    else
      cpu_act_stats(ctx, y, n, lo, hi, slot(net, i));
    if (net->stats_alive_at[i] < 0) continue;
    float *alive = (float *)net->stats_alive.data + net->stats_alive_at[i];
    int64_t units = l->numel;
    if (gpu) {
      DLC_TRY(DLC_LAUNCH(ctx, "units_alive", dlc_launch_units_alive(y, net->n, units, alive, ctx->stream)));
      continue;
    }
    for (int64_t r = 0; r < net->n; r++) {
      const float *row = y + r * units;
      for (int64_t j = 0; j < units; j++) alive[j] = row[j] > 0.f ? 1.f : alive[j];
    }
  }
  return DLC_OK;
}

/* acc (+)= the L2 norm of layer l's trainable parameters (grad = 1: of their gradients). */
static dlc_status layer_norm_into(dlc_net *net, const dlc_layer *l, int grad, double *acc, int add) {
  dlc_ctx *ctx = net->ctx;
  int first = 1;
  double sq = 0;
  for (int k = 0; k < l->nparam; k++) {
    const dlc_param *p = &l->param[k];
    if (p->is_buffer || p->is_counter) continue;
    const dlc_tensor *t = grad ? &p->grad : &p->value;
    if (dlc_on_cuda(&net->stats_acc))
      DLC_TRY(DLC_LAUNCH(ctx, "stats_sumsq",
                         dlc_launch_stats_sumsq(t->data, t->numel, net->stats_work.data, !first, ctx->stream)));
    else
      sq += cpu_sumsq(t->data, t->numel);
    first = 0;
  }
  if (dlc_on_cuda(&net->stats_acc))
    return DLC_LAUNCH(ctx, "stats_norm", dlc_launch_stats_norm(net->stats_work.data, acc, add, ctx->stream));
  *acc = (add ? *acc : 0) + sqrt(sq);
  return DLC_OK;
}

dlc_status dlc_net_stats_backward(dlc_net *net) {
  if (!net->stats_on) return DLC_OK;
  for (int i = 0; i < net->nlayers; i++)
    if (has_params(&net->layers[i])) DLC_TRY(layer_norm_into(net, &net->layers[i], 1, slot(net, i) + S_GRAD, 1));
  net->stats_steps++;
  return DLC_OK;
}

dlc_status dlc_net_layer_stats_read(dlc_net *net, dlc_layer_stats *out, int cap, int *count, int64_t *steps) {
  if (!net) return DLC_ERR_INVALID_ARG;
  dlc_ctx *ctx = net->ctx;
  if (!net->stats_on) return DLC_FAIL(ctx, DLC_ERR_INVALID_ARG, "layer statistics are not enabled");
  if (cap > 0) DLC_CHECK_NULL(ctx, out);
  if (count) *count = net->nlayers;
  if (steps) *steps = net->stats_steps;
  for (int i = 0; i < net->nlayers; i++)
    if (has_params(&net->layers[i])) DLC_TRY(layer_norm_into(net, &net->layers[i], 0, slot(net, i) + S_WEIGHT, 0));
  size_t nacc = (size_t)net->nlayers * DLC_STATS_SLOTS, nalive = (size_t)net->stats_alive.numel;
  double *acc = malloc(sizeof(double) * nacc);
  float *alive = malloc(sizeof(float) * nalive);
  dlc_status s = acc && alive ? DLC_OK : DLC_FAIL(ctx, DLC_ERR_OUT_OF_MEMORY, "layer statistics");
  if (s == DLC_OK) s = dlc_tensor_download(ctx, &net->stats_acc, acc, sizeof(double) * nacc);
  if (s == DLC_OK) s = dlc_tensor_download(ctx, &net->stats_alive, alive, sizeof(float) * nalive);
  for (int i = 0; s == DLC_OK && i < net->nlayers && i < cap; i++) {
    const dlc_layer *l = &net->layers[i];
    const double *a = acc + (size_t)i * DLC_STATS_SLOTS;
    dlc_layer_stats *o = &out[i];
    memset(o, 0, sizeof *o);
    o->layer = i;
    memcpy(o->name, l->name, sizeof o->name);
    o->kind = l->vt->kind;
    o->mean = o->std = o->dead = o->saturated = o->weight_norm = o->grad_norm = NAN;
    float lo, hi;
    o->has_output = has_output(net, i);
    o->has_dead = o->has_output && net->stats_alive_at[i] >= 0;
    o->has_saturated = o->has_output && saturation(l, &lo, &hi);
    const double n = a[S_COUNT];
    if (o->has_output && n > 0) {
      double mean = a[S_SUM] / n, var = a[S_SQ] / n - mean * mean;
      o->mean = mean;
      o->std = sqrt(var > 0 ? var : 0);
      if (o->has_saturated) o->saturated = a[S_SAT] / n;
    }
    if (o->has_dead && n > 0) {
      int64_t dead = 0;
      for (int64_t j = 0; j < l->numel; j++) dead += alive[net->stats_alive_at[i] + j] == 0.f;
      o->dead = (double)dead / (double)l->numel;
    }
    o->has_params = has_params(l);
    if (o->has_params) {
      o->weight_norm = a[S_WEIGHT];
      o->grad_norm = net->stats_steps ? a[S_GRAD] / (double)net->stats_steps : NAN;
    }
  }
  free(acc);
  free(alive);
  return s;
}
