/* What a layer file needs to read its own model-file section: the section's keys, each
 * parsed whole and in range, with errors naming the file, the line and the key (model_cfg.c),
 * and the builders of the sections listed in nn/layer_sections.def, one line per kind. */
#ifndef DLC_MODEL_CFG_H
#define DLC_MODEL_CFG_H

#include "dlcuda.h"

typedef struct sec_ctx dlc_cfg_section;
/* The value of key as written, or NULL when the section does not give it. */
const char *dlc_cfg_str(dlc_cfg_section *sc, const char *key);
/* key as an integer in [lo, hi] or a float in [lo, hi]; def when absent. */
dlc_status dlc_cfg_int(dlc_cfg_section *sc, const char *key, int64_t *v, int64_t def, int64_t lo, int64_t hi);
dlc_status dlc_cfg_float(dlc_cfg_section *sc, const char *key, float *v, float def, float lo, float hi);

/* dlc_cfg_section_KIND(sc, net): reads section [KIND] and adds its layer to net. */
#define DLC_LAYER_SECTION(kind) dlc_status dlc_cfg_section_##kind(dlc_cfg_section *sc, dlc_net *net);
#include "nn/layer_sections.def"
#undef DLC_LAYER_SECTION

#endif
