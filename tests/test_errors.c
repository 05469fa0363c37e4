/* Bad calls return an error with a message and never crash. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

int main(void) {
  dlc_ctx *ctx = t_cpu_ctx(1);
  dlc_device cpu = {DLC_DEVICE_CPU, 0};
  dlc_tensor t, u;
  int64_t shape[3] = {2, 3, 4};

  /* Null pointers. */
  T_CHECK(dlc_tensor_alloc(NULL, &t, DLC_F32, 3, shape, cpu) == DLC_ERR_INVALID_ARG, "null ctx");
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "t is NULL", dlc_tensor_alloc(ctx, NULL, DLC_F32, 3, shape, cpu));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "shape is NULL", dlc_tensor_alloc(ctx, &t, DLC_F32, 3, NULL, cpu));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "data is NULL",
          dlc_tensor_borrow(ctx, &t, NULL, DLC_F32, 3, shape, cpu));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "y is NULL", dlc_tensor_fill(ctx, NULL, 1.f));
  T_CHECK(dlc_ctx_create(NULL, NULL) == DLC_ERR_INVALID_ARG, "null out");
  dlc_tensor_free(ctx, NULL); /* must not crash */
  dlc_ctx_destroy(NULL);

  /* Bad dtype, ndim and shapes. */
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "not a dlc_dtype",
          dlc_tensor_alloc(ctx, &t, (dlc_dtype)99, 3, shape, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "6 dimensions", dlc_tensor_alloc(ctx, &t, DLC_F32, 6, shape, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "-1 dimensions", dlc_tensor_alloc(ctx, &t, DLC_F32, -1, shape, cpu));
  int64_t neg[2] = {4, -2};
  T_FAILS(ctx, DLC_ERR_SHAPE, "dimension 1 is -2", dlc_tensor_alloc(ctx, &t, DLC_F32, 2, neg, cpu));
  int64_t zero[2] = {0, 5};
  T_FAILS(ctx, DLC_ERR_SHAPE, "dimension 0 is 0", dlc_tensor_alloc(ctx, &t, DLC_F32, 2, zero, cpu));
  int64_t big[3] = {INT64_C(1) << 40, INT64_C(1) << 30, 4};
  T_FAILS(ctx, DLC_ERR_SHAPE, "overflows", dlc_tensor_alloc(ctx, &t, DLC_F32, 3, big, cpu));
  int64_t bytes_over[1] = {INT64_C(1) << 62}; /* 2^64 bytes of float32 */
  T_FAILS(ctx, DLC_ERR_SHAPE, "exceed size_t", dlc_tensor_alloc(ctx, &t, DLC_F32, 1, bytes_over, cpu));

  /* Larger than memory: a clean out-of-memory error naming the size. */
  int64_t huge[2] = {INT64_C(1) << 24, INT64_C(1) << 24}; /* 1 PiB of floats */
  T_FAILS(ctx, DLC_ERR_OUT_OF_MEMORY, "exceeds this machine", dlc_tensor_alloc(ctx, &t, DLC_F32, 2, huge, cpu));
  T_CHECK(t.data == NULL && t.numel == 0, "a failed alloc leaves an empty tensor");
  { /* A context's own cap on one host allocation (the fuzz targets use one). */
    dlc_ctx_options lo = dlc_ctx_options_default();
    lo.device = DLC_DEVICE_CPU;
    lo.host_alloc_limit = 1024;
    dlc_ctx *c3 = NULL;
    T_OK(ctx, dlc_ctx_create(&c3, &lo));
    int64_t n256 = 256, n257 = 257;
    T_OK(c3, dlc_tensor_alloc(c3, &t, DLC_F32, 1, &n256, cpu));
    dlc_tensor_free(c3, &t);
    T_FAILS(c3, DLC_ERR_OUT_OF_MEMORY, "host_alloc_limit", dlc_tensor_alloc(c3, &t, DLC_F32, 1, &n257, cpu));
    dlc_ctx_destroy(c3);
  }

  /* Devices that do not exist. */
  dlc_device gpu7 = {DLC_DEVICE_CUDA, 7};
  T_FAILS(ctx, DLC_ERR_DEVICE, "cuda:7", dlc_tensor_alloc(ctx, &t, DLC_F32, 3, shape, gpu7));
  dlc_device weird = {(dlc_device_kind)42, 0};
  T_FAILS(ctx, DLC_ERR_DEVICE, "device kind 42", dlc_tensor_alloc(ctx, &t, DLC_F32, 3, shape, weird));
  dlc_ctx_options o = dlc_ctx_options_default();
  o.device = DLC_DEVICE_CUDA;
  o.device_index = 7;
  dlc_ctx *c2 = NULL;
  T_CHECK(dlc_ctx_create(&c2, &o) == DLC_ERR_DEVICE, "a context on cuda:7 cannot exist");
  T_CHECK(t_contains(dlc_ctx_error(c2), "cuda:7"), "message: %s", dlc_ctx_error(c2));
  dlc_ctx_destroy(c2);
  o.device = (dlc_device_kind)9;
  T_CHECK(dlc_ctx_create(&c2, &o) == DLC_ERR_INVALID_ARG, "bad device kind");
  dlc_ctx_destroy(c2);
  o = dlc_ctx_options_default();
  o.threads = -3;
  T_CHECK(dlc_ctx_create(&c2, &o) == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(c2), "threads"),
          "negative threads: %s", dlc_ctx_error(c2));
  dlc_ctx_destroy(c2);

  /* Copies between tensors of different size or dtype. */
  int64_t s12 = 12, s24 = 24;
  T_OK(ctx, dlc_tensor_alloc(ctx, &t, DLC_F32, 1, &s12, cpu));
  T_OK(ctx, dlc_tensor_alloc(ctx, &u, DLC_F32, 1, &s24, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "sizes or dtypes differ", dlc_tensor_copy(ctx, &u, &t));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "src is NULL", dlc_tensor_copy(ctx, &u, NULL));
  T_FAILS(ctx, DLC_ERR_SHAPE, "upload of 4 bytes", dlc_tensor_upload(ctx, &t, &s12, 4));
  float host[24];
  T_FAILS(ctx, DLC_ERR_SHAPE, "into 96 bytes", dlc_tensor_download(ctx, &t, host, sizeof host));
  T_FAILS(ctx, DLC_ERR_SHAPE, "reshape of [12]", dlc_tensor_reshape(ctx, &t, 1, &s24));
  dlc_tensor i32;
  T_OK(ctx, dlc_tensor_alloc(ctx, &i32, DLC_I32, 1, &s12, cpu));
  T_FAILS(ctx, DLC_ERR_SHAPE, "int32", dlc_tensor_copy(ctx, &i32, &t));
  T_FAILS(ctx, DLC_ERR_UNSUPPORTED, "is int32", dlc_tensor_fill(ctx, &i32, 0.f));
  dlc_tensor_free(ctx, &i32);
  dlc_tensor_free(ctx, &u);
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "has no data", dlc_tensor_fill(ctx, &u, 0.f));

  /* Random and GEMM argument checks. */
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "is empty", dlc_tensor_rand_uniform(ctx, &t, 1.f, 1.f));
  T_FAILS(ctx, DLC_ERR_INVALID_ARG, "std", dlc_tensor_rand_normal(ctx, &t, 0.f, -1.f));
  dlc_tensor_free(ctx, &t);

  /* Every status has a name, and unknown ones do not crash. */
  for (int s = 0; s < DLC_STATUS_COUNT; s++)
    T_CHECK(strlen(dlc_status_string((dlc_status)s)) > 0, "status %d has no name", s);
  T_CHECK(strcmp(dlc_status_string((dlc_status)1234), "unknown status") == 0, "unknown status");
  T_CHECK(strcmp(dlc_ctx_error(NULL), "no context") == 0, "error of a NULL context");

  /* The name tables: every value has a name that maps back to it; unknown names and values
   * out of range are refused. */
#define ROUND_TRIP(type, count, name_of, from_name, what)                                          \
  for (int k = 0; k < (count); k++) {                                                             \
    type v = (count);                                                                             \
    const char *n = name_of((type)k);                                                             \
    T_CHECK(n && from_name(n, &v) == DLC_OK && (int)v == k, what " %d: name %s", k, n ? n : "NULL"); \
  }
  ROUND_TRIP(dlc_optimizer_kind, DLC_OPT_COUNT, dlc_optimizer_name, dlc_optimizer_from_name, "optimizer");
  ROUND_TRIP(dlc_lr_schedule, DLC_LR_SCHEDULE_COUNT, dlc_lr_schedule_name, dlc_lr_schedule_from_name, "schedule");
  ROUND_TRIP(dlc_act, DLC_ACT_COUNT, dlc_act_name, dlc_act_from_name, "activation");
  ROUND_TRIP(dlc_cpu_gemm, DLC_CPU_GEMM_COUNT, dlc_cpu_gemm_name, dlc_cpu_gemm_from_name, "CPU GEMM");
  ROUND_TRIP(dlc_explain_method, DLC_EXPLAIN_COUNT, dlc_explain_method_name, dlc_explain_method_from_name,
             "explain method");
#undef ROUND_TRIP
  T_CHECK(!dlc_explain_method_name(DLC_EXPLAIN_COUNT) && !strcmp(dlc_explain_method_name(DLC_EXPLAIN_IG), "ig"),
          "explain method names");
  /* Device names: auto, cpu, cuda, cuda:N (N in 0..1023, digits only); anything else leaves o as it was. */
  {
    static const struct { const char *name; dlc_device_kind kind; int index; } good[] = {
        {"auto", DLC_DEVICE_AUTO, 0}, {"cpu", DLC_DEVICE_CPU, 0}, {"cuda", DLC_DEVICE_CUDA, 0},
        {"cuda:3", DLC_DEVICE_CUDA, 3}, {"cuda:1023", DLC_DEVICE_CUDA, 1023}};
    static const char *const bad[] = {"", "gpu", "CPU", "cuda:", "cuda:x", "cuda:-1", "cuda:+1", "cuda: 1",
                                      "cuda:1x", "cuda:1024", "cuda:99999999999", "cuda:0:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
      dlc_ctx_options o = dlc_ctx_options_default();
      T_CHECK(dlc_ctx_options_set_device(&o, good[i].name) == DLC_OK && o.device == good[i].kind &&
                  o.device_index == good[i].index, "device %s", good[i].name);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      dlc_ctx_options o = dlc_ctx_options_default();
      o.device_index = 7;
      T_CHECK(dlc_ctx_options_set_device(&o, bad[i]) == DLC_ERR_INVALID_ARG && o.device == DLC_DEVICE_AUTO &&
                  o.device_index == 7, "device '%s' refused, o unchanged", bad[i]);
    }
    T_CHECK(dlc_ctx_options_set_device(NULL, "cpu") == DLC_ERR_INVALID_ARG, "NULL options");
  }
  /* Sessions: a bad kind or optimizer, no model, a model file that is not there. */
  {
    dlc_session_options so = dlc_session_options_default();
    dlc_session *sess = (dlc_session *)1;
    T_CHECK(dlc_session_open(ctx, &so, &sess) == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(ctx), "model is NULL"),
            "a session without a model: %s", dlc_ctx_error(ctx));
    so.model = "/no/such/model.cfg";
    so.kind = (dlc_session_kind)7;
    T_CHECK(dlc_session_open(ctx, &so, &sess) == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(ctx), "kind 7") && !sess,
            "a bad session kind: %s", dlc_ctx_error(ctx));
    so.kind = DLC_SESSION_MODEL;
    so.optimizer = DLC_OPT_COUNT;
    T_CHECK(dlc_session_open(ctx, &so, &sess) == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(ctx), "optimizer"),
            "a bad optimizer: %s", dlc_ctx_error(ctx));
    so.optimizer = -1;
    /* Settings outside the model file's ranges, NaN among them, are named before any file is
     * opened (the model path does not exist: the range is checked first). */
#define SO(field, type) offsetof(dlc_session_options, field), type
    struct { size_t at; char type; double bad; const char *says; } over[] = {
      {SO(lr, 'f'), NAN, "lr = nan"}, {SO(lr, 'f'), INFINITY, "lr = inf"},
      {SO(lr, 'f'), -1, "lr = -1 is outside [0, 3.40282347e+38]"},
      {SO(epochs, 'i'), DLC_MAX_EPOCHS + 1, "epochs = 1000001"}, {SO(epochs, 'i'), -3, "epochs = -3"},
      {SO(batch, 'l'), DLC_MAX_BATCH + 1.0, "batch = 1048577"}, {SO(steps, 'l'), -1, "steps = -1"},
      {SO(sampler, 'i'), 2, "sampler = 2"}, {SO(class_weights, 'i'), -2, "class_weights = -2"},
      {SO(rotate, 'f'), 181, "rotate = 181"}, {SO(erase, 'f'), NAN, "erase = nan"},
      {SO(brightness, 'f'), 1.5, "brightness = 1.5"}, {SO(contrast, 'f'), 2, "contrast = 2"}};
#undef SO
    for (size_t k = 0; k < sizeof over / sizeof over[0]; k++) {
      dlc_session_options bad = so;
      char *p = (char *)&bad + over[k].at;
      if (over[k].type == 'f') *(float *)p = (float)over[k].bad;
      else if (over[k].type == 'i') *(int *)p = (int)over[k].bad;
      else *(int64_t *)p = (int64_t)over[k].bad;
      T_CHECK(dlc_session_open(ctx, &bad, &sess) == DLC_ERR_INVALID_ARG && !sess &&
                  t_contains(dlc_ctx_error(ctx), over[k].says),
              "session option %s: %s", over[k].says, dlc_ctx_error(ctx));
    }
    T_CHECK(dlc_session_open(ctx, &so, &sess) != DLC_OK && t_contains(dlc_ctx_error(ctx), "model: ") &&
                t_contains(dlc_ctx_error(ctx), "/no/such/model.cfg") && !sess,
            "a missing model file: %s", dlc_ctx_error(ctx));
    dlc_session_destroy(NULL);
    dlc_npy_run r = {"/no/x.npy", NULL, 0, NULL, NULL, NULL};
    T_CHECK(dlc_model_run_npy(ctx, "m.cfg", NULL, &r) == DLC_ERR_INVALID_ARG, "run_npy without an output");
    r.output = "/tmp/y.npy";
    r.input_grad = "/tmp/dx.npy";
    T_CHECK(dlc_model_run_npy(ctx, "m.cfg", NULL, &r) == DLC_ERR_INVALID_ARG &&
                t_contains(dlc_ctx_error(ctx), "need an output gradient"),
            "an input gradient without an output gradient: %s", dlc_ctx_error(ctx));
  }
  /* The CPU GEMM: AUTO resolves to a library; ONEDNN without it, or a value out of range, is an error. */
  for (int k = 0; k <= DLC_CPU_GEMM_COUNT; k++) {
    dlc_ctx_options o = dlc_ctx_options_default();
    o.device = DLC_DEVICE_CPU;
    o.cpu_gemm = (dlc_cpu_gemm)k;
    dlc_ctx *g = NULL;
    dlc_status s = dlc_ctx_create(&g, &o);
    int have_onednn = strstr(dlc_build_info(), "onednn=ON") != NULL;
    if (k == DLC_CPU_GEMM_COUNT)
      T_CHECK(s == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(g), "cpu_gemm"), "cpu_gemm out of range: %s", dlc_ctx_error(g));
    else if (k == DLC_CPU_GEMM_ONEDNN && !have_onednn)
      T_CHECK(s == DLC_ERR_INVALID_ARG && t_contains(dlc_ctx_error(g), "without oneDNN"), "onednn unbuilt: %s", dlc_ctx_error(g));
    else {
      dlc_cpu_gemm got = dlc_ctx_cpu_gemm(g);
      T_CHECK(s == DLC_OK && (k == DLC_CPU_GEMM_AUTO ? got != DLC_CPU_GEMM_AUTO : (int)got == k), "cpu_gemm %d -> %d", k, (int)got);
      T_CHECK(t_contains(dlc_ctx_cpu_gemm_info(g), got == DLC_CPU_GEMM_ONEDNN ? "oneDNN" : "OpenBLAS"), "info %s",
              dlc_ctx_cpu_gemm_info(g));
    }
    dlc_ctx_destroy(g);
  }
  T_CHECK(!strcmp(dlc_optimizer_name(DLC_OPT_ADAMW), "adamw") && !strcmp(dlc_lr_schedule_name(DLC_LR_COSINE), "cosine") &&
              !strcmp(dlc_act_name(DLC_ACT_LEAKY_RELU), "leaky_relu"),
          "names as model files spell them");
  dlc_optimizer_kind ok = DLC_OPT_ADAM;
  T_CHECK(dlc_optimizer_from_name("Adam", &ok) == DLC_ERR_INVALID_ARG && ok == DLC_OPT_ADAM, "a name is exact");
  T_CHECK(dlc_optimizer_from_name(NULL, &ok) == DLC_ERR_INVALID_ARG && dlc_optimizer_from_name("sgd", NULL) == DLC_ERR_INVALID_ARG,
          "NULL name or out");
  T_CHECK(!dlc_optimizer_name(DLC_OPT_COUNT) && !dlc_lr_schedule_name((dlc_lr_schedule)-1) && !dlc_act_name(DLC_ACT_COUNT),
          "no name out of range");

  dlc_ctx_destroy(ctx);
  return t_finish("test_errors");
}
