/* The enums' name tables (names.c), NULL-terminated, for parsers that list the choices. */
#ifndef DLC_NAMES_H
#define DLC_NAMES_H

#include "dlcuda.h"

extern const char *const dlc_optimizer_names[DLC_OPT_COUNT + 1];
extern const char *const dlc_lr_schedule_names[DLC_LR_SCHEDULE_COUNT + 1];
extern const char *const dlc_act_names[DLC_ACT_COUNT + 1];
extern const char *const dlc_cpu_gemm_names[DLC_CPU_GEMM_COUNT + 1];
extern const char *const dlc_explain_method_names[DLC_EXPLAIN_COUNT + 1];
/* The index of name in a NULL-terminated table, or -1. */
int dlc_name_index(const char *const *names, const char *name);

#endif
