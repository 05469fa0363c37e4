/* The names of the library's enums, one table each, checked against the enum's length at
 * compile time: model files, checkpoints, the command and messages all spell them from here. */
#include <string.h>

#include "core/names.h"

/* Sized by their initialisers, so that a value added to an enum without its name here
 * fails the length check below (and the extern declaration's size in names.h). */
const char *const dlc_optimizer_names[] = {"sgd", "adam", "adamw", NULL};
const char *const dlc_lr_schedule_names[] = {"constant", "step", "cosine", NULL};
const char *const dlc_act_names[] = {"none", "tanh", "sigmoid", "relu", "leaky_relu", NULL};
const char *const dlc_cpu_gemm_names[] = {"auto", "openblas", "onednn", NULL};
const char *const dlc_explain_method_names[] = {"saliency", "gradcam", "ig", NULL};

#define DLC_NAMES_FULL(table, count) \
  _Static_assert(sizeof(table) / sizeof(table[0]) == (count) + 1, #table " has one name per value")
DLC_NAMES_FULL(dlc_optimizer_names, DLC_OPT_COUNT);
DLC_NAMES_FULL(dlc_lr_schedule_names, DLC_LR_SCHEDULE_COUNT);
DLC_NAMES_FULL(dlc_act_names, DLC_ACT_COUNT);
DLC_NAMES_FULL(dlc_cpu_gemm_names, DLC_CPU_GEMM_COUNT);
DLC_NAMES_FULL(dlc_explain_method_names, DLC_EXPLAIN_COUNT);

int dlc_name_index(const char *const *names, const char *name) {
  if (!name) return -1;
  for (int i = 0; names[i]; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

static const char *name_of(const char *const *names, int count, int v) { return v >= 0 && v < count ? names[v] : NULL; }

const char *dlc_optimizer_name(dlc_optimizer_kind k) { return name_of(dlc_optimizer_names, DLC_OPT_COUNT, (int)k); }
const char *dlc_lr_schedule_name(dlc_lr_schedule s) {
  return name_of(dlc_lr_schedule_names, DLC_LR_SCHEDULE_COUNT, (int)s);
}
const char *dlc_act_name(dlc_act a) { return name_of(dlc_act_names, DLC_ACT_COUNT, (int)a); }
const char *dlc_cpu_gemm_name(dlc_cpu_gemm g) { return name_of(dlc_cpu_gemm_names, DLC_CPU_GEMM_COUNT, (int)g); }
const char *dlc_explain_method_name(dlc_explain_method m) {
  return name_of(dlc_explain_method_names, DLC_EXPLAIN_COUNT, (int)m);
}

/* name -> value through the table; DLC_ERR_INVALID_ARG (and *out unchanged) when unknown. */
#define DLC_FROM_NAME(fn, type, table)                \
  dlc_status fn(const char *name, type *out) {         \
    int i = dlc_name_index(table, name);               \
    if (i < 0 || !out) return DLC_ERR_INVALID_ARG;     \
    *out = (type)i;                                    \
    return DLC_OK;                                     \
  }
DLC_FROM_NAME(dlc_optimizer_from_name, dlc_optimizer_kind, dlc_optimizer_names)
DLC_FROM_NAME(dlc_lr_schedule_from_name, dlc_lr_schedule, dlc_lr_schedule_names)
DLC_FROM_NAME(dlc_act_from_name, dlc_act, dlc_act_names)
DLC_FROM_NAME(dlc_cpu_gemm_from_name, dlc_cpu_gemm, dlc_cpu_gemm_names)
DLC_FROM_NAME(dlc_explain_method_from_name, dlc_explain_method, dlc_explain_method_names)
