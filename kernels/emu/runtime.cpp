/* The emulated device's CUDA runtime: the cudaXxx entry points libdlcuda calls, defined
 * against the toolkit's own declarations (cuda_runtime_api.h), so the host code compiles
 * and links exactly as for a GPU.
 *
 * Work is queued on its stream and runs only when something waits for it
 * (cudaStreamSynchronize, cudaEventSynchronize, cudaDeviceSynchronize, a synchronous copy,
 * cudaFree, a stream waiting on an event): the latest moment CUDA allows. A host that
 * reads a result before synchronising therefore sees stale memory, and fresh device
 * memory is poisoned (all bits set: NaN), so a missing synchronisation or a read of
 * memory no kernel wrote shows up as a wrong answer instead of passing by luck. The
 * legacy default stream orders itself with the blocking streams; non-blocking streams
 * order only through events. Copies and memsets are checked against the device
 * allocations they touch. A kernel fault is sticky, as on a GPU: every later call fails. */
#include "exec.h"

#include <cuda_runtime_api.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <deque>
#include <memory>
#include <map>
#include <mutex>
#include <set>
#include <string>

struct CUstream_st {
  std::deque<std::function<void()>> queue;
  bool nonblocking = false;
  bool running = false;
};

struct CUevent_st {
  cudaStream_t stream = nullptr; /* of the last record */
  unsigned long long recorded = 0, done = 0;
  double time = 0;
  unsigned flags = 0;
};

namespace dlc_emu {
namespace {

struct allocation {
  size_t size;
  bool device; /* false: page-locked host memory (cudaMallocHost) */
};

struct runtime {
  std::recursive_mutex mu;
  CUstream_st legacy;
  std::set<cudaStream_t> streams;
  std::set<cudaEvent_t> events;
  std::map<uintptr_t, allocation> allocs;
  size_t capacity = 0, used = 0;
  cudaError_t sticky = cudaSuccess;
  std::string sticky_msg;
  runtime() {
    legacy.nonblocking = false;
    const char *mib = getenv("DLC_EMU_MEMORY_MIB");
    capacity = (size_t)(mib && atol(mib) > 0 ? atol(mib) : 6144) << 20;
  }
};

runtime &rt() {
  static runtime *r = new runtime; /* never destroyed: streams may be used at exit */
  return *r;
}

thread_local cudaError_t last_error = cudaSuccess;

double now_s() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "dlcuda emulated device: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

cudaError_t fail(cudaError_t e) {
  last_error = e;
  return e;
}

void make_sticky(cudaError_t e, const std::string &msg) {
  runtime &r = rt();
  if (r.sticky != cudaSuccess) return;
  r.sticky = e;
  r.sticky_msg = msg;
  diag("%s (now sticky: every later CUDA call fails with %s)", msg.c_str(), cudaGetErrorName(e));
}

CUstream_st *stream_of(cudaStream_t s) {
  if (s == nullptr || s == cudaStreamLegacy || s == cudaStreamPerThread) return &rt().legacy;
  return rt().streams.count(s) ? s : nullptr;
}

void run_one(CUstream_st *s) {
  std::function<void()> op = std::move(s->queue.front());
  s->queue.pop_front();
  if (rt().sticky == cudaSuccess) op();
}

void flush(CUstream_st *s) {
  if (s->running) return; /* an event wait inside this stream's own queue: already in order */
  s->running = true;
  while (!s->queue.empty()) run_one(s);
  s->running = false;
}

void flush_all() {
  runtime &r = rt();
  flush(&r.legacy);
  for (cudaStream_t s : r.streams) flush(s);
}

/* Runs the work of ev's stream until ev's record number `gen` has run. */
void run_until(cudaEvent_t ev, unsigned long long gen) {
  while (ev->done < gen) {
    CUstream_st *s = stream_of(ev->stream);
    if (!s || s->queue.empty() || s->running) {
      make_sticky(cudaErrorLaunchFailure, "a stream waits for an event that can never complete "
                                          "(a cycle of cudaStreamWaitEvent calls)");
      return;
    }
    s->running = true;
    run_one(s);
    s->running = false;
  }
}

/* Queues op on s, keeping the legacy stream's implicit ordering with blocking streams: the
 * earlier work that must precede op runs now (which CUDA allows). */
void enqueue(CUstream_st *s, std::function<void()> op) {
  runtime &r = rt();
  if (s == &r.legacy) {
    for (cudaStream_t b : r.streams)
      if (!b->nonblocking) flush(b);
  } else if (!s->nonblocking) {
    flush(&r.legacy);
  }
  s->queue.push_back(std::move(op));
}

/* The device allocation holding [p, p + n), or null. */
const allocation *find_alloc(const void *p, size_t n, uintptr_t *base = nullptr) {
  runtime &r = rt();
  uintptr_t a = (uintptr_t)p;
  auto it = r.allocs.upper_bound(a);
  if (it == r.allocs.begin()) return nullptr;
  --it;
  if (a < it->first || a + n > it->first + it->second.size || a + n < a) return nullptr;
  if (base) *base = it->first;
  return &it->second;
}

bool is_device(const void *p, size_t n) {
  const allocation *al = find_alloc(p, n);
  return al && al->device;
}

/* Checks a copy as CUDA would reject it, plus what a GPU would fault on later: a device
 * side that is not (wholly) inside one device allocation. */
cudaError_t check_copy(void *dst, const void *src, size_t n, cudaMemcpyKind kind, const char *fn) {
  bool dd = is_device(dst, n), sd = is_device(src, n);
  bool want_d, want_s;
  switch (kind) {
    case cudaMemcpyHostToHost: want_d = false, want_s = false; break;
    case cudaMemcpyHostToDevice: want_d = true, want_s = false; break;
    case cudaMemcpyDeviceToHost: want_d = false, want_s = true; break;
    case cudaMemcpyDeviceToDevice: want_d = true, want_s = true; break;
    case cudaMemcpyDefault: return cudaSuccess;
    default: return cudaErrorInvalidMemcpyDirection;
  }
  if (want_d != dd || want_s != sd) {
    diag("%s of %zu bytes, kind %d: destination %p is %s device memory, source %p is %s", fn, n,
         (int)kind, dst, dd ? "in" : "not in", src, sd ? "in device memory" : "not in device memory");
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

#define ENTER()                                                                              \
  std::lock_guard<std::recursive_mutex> lock_(rt().mu);                                      \
  if (rt().sticky != cudaSuccess) return fail(rt().sticky)

} /* namespace */

void launch(const char *name, dim3 grid, dim3 block, size_t shared, cudaStream_t stream,
            std::function<void()> body) {
  std::lock_guard<std::recursive_mutex> lock(rt().mu);
  if (rt().sticky != cudaSuccess) {
    last_error = rt().sticky;
    return;
  }
  CUstream_st *s = stream_of(stream);
  if (!s) {
    diag("kernel %s launched on an unknown stream %p", name, (void *)stream);
    last_error = cudaErrorInvalidResourceHandle;
    return;
  }
  const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0 ||
      block.x > 1024 || block.y > 1024 || block.z > 64 || threads > 1024 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    diag("kernel %s: invalid launch configuration grid (%u,%u,%u) block (%u,%u,%u)", name, grid.x,
         grid.y, grid.z, block.x, block.y, block.z);
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (shared > 48 * 1024) { /* above 48 KiB a kernel must opt in (cudaFuncSetAttribute) */
    diag("kernel %s: %zu bytes of dynamic shared memory (more than 48 KiB needs an opt-in)", name,
         shared);
    last_error = cudaErrorInvalidValue;
    return;
  }
  auto fn = std::make_shared<std::function<void()>>(std::move(body));
  enqueue(s, [name, grid, block, shared, fn]() {
    std::string fault;
    if (!run_grid(name, grid, block, shared, fn.get(), &fault))
      make_sticky(cudaErrorLaunchFailure, fault);
  });
}

} /* namespace dlc_emu */

using namespace dlc_emu;

extern "C" {

cudaError_t cudaGetDeviceCount(int *count) {
  if (!count) return fail(cudaErrorInvalidValue);
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int *device) {
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int *v) {
  if (!v) return fail(cudaErrorInvalidValue);
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v) {
  if (!v) return fail(cudaErrorInvalidValue);
  *v = CUDART_VERSION;
  return cudaSuccess;
}

/* The emulated device presents itself as an sm_90 part with an H200's shape (132 SMs,
 * 48 KiB of shared memory per block without opt-in), so launch geometry chosen from the
 * properties is the one a real H200 gets. Its name says what it is. */
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int device) {
  if (!p) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "libdlcuda emulated device (CPU, not a GPU)");
  p->totalGlobalMem = rt().capacity;
  p->sharedMemPerBlock = 48 * 1024;
  p->sharedMemPerBlockOptin = 227 * 1024;
  p->sharedMemPerMultiprocessor = 228 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->totalConstMem = 65536;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->maxThreadsPerMultiProcessor = 2048;
  p->l2CacheSize = 50 << 20;
  p->memoryBusWidth = 6144;
  p->unifiedAddressing = 1;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, enum cudaDeviceAttr attr, int device) {
  if (!value) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  switch (attr) {
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrWarpSize: *value = 32; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = 1024; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    default:
      diag("cudaDeviceGetAttribute: attribute %d is not emulated", (int)attr);
      return fail(cudaErrorInvalidValue);
  }
  return cudaSuccess;
}

cudaError_t cudaGetLastError(void) {
  std::lock_guard<std::recursive_mutex> lock(rt().mu);
  if (rt().sticky != cudaSuccess) return rt().sticky;
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) {
  std::lock_guard<std::recursive_mutex> lock(rt().mu);
  return rt().sticky != cudaSuccess ? rt().sticky : last_error;
}

const char *cudaGetErrorName(cudaError_t e) {
  switch (e) {
#define N(x) case x: return #x;
    N(cudaSuccess) N(cudaErrorInvalidValue) N(cudaErrorMemoryAllocation)
    N(cudaErrorInitializationError) N(cudaErrorInvalidConfiguration) N(cudaErrorInvalidDevice)
    N(cudaErrorInvalidResourceHandle) N(cudaErrorNotReady) N(cudaErrorLaunchFailure)
    N(cudaErrorNoDevice) N(cudaErrorInsufficientDriver) N(cudaErrorIllegalAddress)
    N(cudaErrorInvalidMemcpyDirection) N(cudaErrorInvalidDevicePointer)
    N(cudaErrorLaunchOutOfResources)
#undef N
    default: return "cudaErrorUnknown";
  }
}

const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInitializationError: return "initialization error";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    default: return "unknown error";
  }
}

cudaError_t cudaDeviceSynchronize(void) {
  ENTER();
  flush_all();
  return rt().sticky != cudaSuccess ? fail(rt().sticky) : cudaSuccess;
}

cudaError_t cudaMalloc(void **p, size_t size) {
  ENTER();
  if (!p) return fail(cudaErrorInvalidValue);
  *p = nullptr;
  if (size == 0) return cudaSuccess;
  runtime &r = rt();
  size_t rounded = (size + 255) / 256 * 256;
  if (rounded < size || rounded > r.capacity - r.used) return fail(cudaErrorMemoryAllocation);
  void *m = aligned_alloc(256, rounded);
  if (!m) return fail(cudaErrorMemoryAllocation);
  memset(m, 0xff, rounded); /* fresh device memory: poison (NaN) */
  r.allocs[(uintptr_t)m] = allocation{size, true};
  r.used += rounded;
  *p = m;
  return cudaSuccess;
}

cudaError_t cudaFree(void *p) {
  ENTER();
  if (!p) return cudaSuccess;
  runtime &r = rt();
  auto it = r.allocs.find((uintptr_t)p);
  if (it == r.allocs.end() || !it->second.device) {
    diag("cudaFree(%p): not a device allocation", p);
    return fail(cudaErrorInvalidValue);
  }
  flush_all(); /* cudaFree synchronises the device */
  r.used -= (it->second.size + 255) / 256 * 256;
  r.allocs.erase(it);
  free(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void **p, size_t size) {
  ENTER();
  if (!p) return fail(cudaErrorInvalidValue);
  void *m = aligned_alloc(256, (size + 255) / 256 * 256 + 256);
  if (!m) return fail(cudaErrorMemoryAllocation);
  memset(m, 0xff, size);
  rt().allocs[(uintptr_t)m] = allocation{size, false};
  *p = m;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *p) {
  ENTER();
  if (!p) return cudaSuccess;
  runtime &r = rt();
  auto it = r.allocs.find((uintptr_t)p);
  if (it == r.allocs.end() || it->second.device) {
    diag("cudaFreeHost(%p): not a cudaMallocHost allocation", p);
    return fail(cudaErrorInvalidValue);
  }
  flush_all();
  r.allocs.erase(it);
  free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total) {
  ENTER();
  if (free_b) *free_b = rt().capacity - rt().used;
  if (total) *total = rt().capacity;
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
                            cudaStream_t stream) {
  ENTER();
  CUstream_st *s = stream_of(stream);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (n == 0) return cudaSuccess;
  cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpyAsync");
  if (e != cudaSuccess) return fail(e);
  enqueue(s, [dst, src, n]() { memmove(dst, src, n); });
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind) {
  ENTER();
  if (n == 0) return cudaSuccess;
  cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpy");
  if (e != cudaSuccess) return fail(e);
  /* On the legacy stream, after earlier legacy and blocking-stream work (non-blocking
   * streams are not waited for). CUDA's synchronisation rules for cudaMemcpy: a copy to
   * the host returns when it is done; a copy from pageable host memory returns once the
   * source is staged, "but the DMA to final destination may not have completed"; a copy
   * between device buffers does not synchronise with the host at all. So only a copy to
   * the host runs now: the others land when the legacy stream next runs, and a
   * non-blocking stream that reads the destination without waiting sees the old data. */
  const bool to_host = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyHostToHost ||
                       (kind == cudaMemcpyDefault && !is_device(dst, n));
  const bool from_host = kind == cudaMemcpyHostToDevice || (kind == cudaMemcpyDefault && !is_device(src, n));
  if (to_host) {
    enqueue(&rt().legacy, [dst, src, n]() { memmove(dst, src, n); });
    flush(&rt().legacy);
  } else if (from_host) {
    auto staged = std::make_shared<std::string>((const char *)src, n);
    enqueue(&rt().legacy, [dst, staged, n]() { memcpy(dst, staged->data(), n); });
  } else {
    enqueue(&rt().legacy, [dst, src, n]() { memmove(dst, src, n); });
  }
  return rt().sticky != cudaSuccess ? fail(rt().sticky) : cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int value, size_t n, cudaStream_t stream) {
  ENTER();
  CUstream_st *s = stream_of(stream);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (n == 0) return cudaSuccess;
  if (!is_device(p, n)) {
    diag("cudaMemset of %zu bytes at %p: not inside one device allocation", n, p);
    return fail(cudaErrorInvalidValue);
  }
  enqueue(s, [p, value, n]() { memset(p, value, n); });
  return cudaSuccess;
}

cudaError_t cudaMemset(void *p, int value, size_t n) {
  return cudaMemsetAsync(p, value, n, nullptr); /* asynchronous on the legacy stream */
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
  ENTER();
  if (!s || (flags & ~cudaStreamNonBlocking)) return fail(cudaErrorInvalidValue);
  CUstream_st *n = new CUstream_st;
  n->nonblocking = (flags & cudaStreamNonBlocking) != 0;
  rt().streams.insert(n);
  *s = n;
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t s) {
  ENTER();
  if (!s || !rt().streams.count(s)) return fail(cudaErrorInvalidResourceHandle);
  flush(s); /* its pending work still completes */
  rt().streams.erase(s);
  delete s;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  ENTER();
  CUstream_st *s = stream_of(stream);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  flush(s);
  return rt().sticky != cudaSuccess ? fail(rt().sticky) : cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  ENTER();
  CUstream_st *s = stream_of(stream);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->queue.empty()) return cudaSuccess;
  flush(s); /* not ready now; a later query finds it done */
  return cudaErrorNotReady;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *ev, unsigned flags) {
  ENTER();
  if (!ev) return fail(cudaErrorInvalidValue);
  CUevent_st *e = new CUevent_st;
  e->flags = flags;
  rt().events.insert(e);
  *ev = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *ev) { return cudaEventCreateWithFlags(ev, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t ev) {
  ENTER();
  if (!ev || !rt().events.count(ev)) return fail(cudaErrorInvalidResourceHandle);
  flush_all(); /* queued records and waits refer to it */
  rt().events.erase(ev);
  delete ev;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t stream) {
  ENTER();
  if (!ev || !rt().events.count(ev)) return fail(cudaErrorInvalidResourceHandle);
  CUstream_st *s = stream_of(stream);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  unsigned long long gen = ++ev->recorded;
  ev->stream = s;
  enqueue(s, [ev, gen]() {
    ev->done = gen;
    ev->time = now_s();
  });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
  ENTER();
  if (!ev || !rt().events.count(ev)) return fail(cudaErrorInvalidResourceHandle);
  run_until(ev, ev->recorded);
  return rt().sticky != cudaSuccess ? fail(rt().sticky) : cudaSuccess;
}

cudaError_t cudaEventQuery(cudaEvent_t ev) {
  ENTER();
  if (!ev || !rt().events.count(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (ev->done >= ev->recorded) return cudaSuccess;
  run_until(ev, ev->recorded); /* not ready now; a later query finds it done */
  return cudaErrorNotReady;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t ev, unsigned flags) {
  ENTER();
  CUstream_st *s = stream_of(stream);
  if (!s || !ev || !rt().events.count(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (flags != 0) return fail(cudaErrorInvalidValue);
  unsigned long long gen = ev->recorded; /* the record made before this call */
  if (gen > ev->done) enqueue(s, [ev, gen]() { run_until(ev, gen); });
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
  ENTER();
  if (!ms) return fail(cudaErrorInvalidValue);
  if (!start || !end || !rt().events.count(start) || !rt().events.count(end) ||
      (start->flags & cudaEventDisableTiming) || (end->flags & cudaEventDisableTiming))
    return fail(cudaErrorInvalidResourceHandle);
  if (start->done < start->recorded || end->done < end->recorded || !start->recorded || !end->recorded)
    return fail(cudaErrorNotReady);
  *ms = (float)((end->time - start->time) * 1e3);
  return cudaSuccess;
}

} /* extern "C" */

namespace dlc_emu {
/* For the cuBLAS stand-in (cublas.cpp). */
void enqueue_on(cudaStream_t stream, std::function<void()> op) { enqueue(stream_of(stream), std::move(op)); }
bool stream_valid(cudaStream_t stream) { return stream_of(stream) != nullptr; }
bool device_range(const void *p, size_t n) { return is_device(p, n); }
void fault(const std::string &msg) { make_sticky(cudaErrorIllegalAddress, msg); }
std::recursive_mutex &runtime_mutex() { return rt().mu; }
bool faulted() { return rt().sticky != cudaSuccess; }
} /* namespace dlc_emu */
