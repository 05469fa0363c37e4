/* The emulated device's execution engine: runs one kernel launch, block after block, each
 * CUDA thread of a block as a fiber on the calling host thread. A fiber runs until it
 * exits or waits (at __syncthreads or a warp collective); the scheduler then runs the next
 * runnable fiber. When no fiber can run and some have not exited, the block is deadlocked:
 * a fault, as a hung GPU kernel would be a bug. */
#include "exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace dlc_emu {

enum { T_RUN, T_WAIT_BLOCK, T_WAIT_WARP, T_DONE };

struct thread_rec {
  uint3 tid;
  int state;
  int warp_op; /* the collective this lane waits at (T_WAIT_WARP) */
  unsigned mask;
  int b, width;
  unsigned long long value, result;
#if defined(__x86_64__)
  void *sp;
#else
  ucontext_t uc;
#endif
};

thread_local block_rec *tls_block;

namespace {

/* Fiber stacks: one mapping per host thread, 1024 stacks with a guard page below each. */
constexpr size_t STACK_BYTES = 128 << 10;
constexpr int MAX_THREADS = 1024;

struct engine {
  block_rec blk;
  std::vector<thread_rec> thr;
  char *stacks = nullptr;
  size_t page = 0;
  int n = 0, live = 0, at_barrier = 0;
  const char *kernel = "";
  std::string fault;
  std::vector<unsigned char> dyn;
#if defined(__x86_64__)
  void *sched_sp = nullptr;
#else
  ucontext_t sched_uc;
#endif
  std::function<void()> *body = nullptr;
  unsigned long long block_gen = 0;
  std::vector<std::pair<void *, unsigned long long>> poisoned; /* static shared: block gen */
};

thread_local engine *tls_engine;

char *stack_top(engine *e, int i) {
  return e->stacks + (size_t)(i + 1) * (STACK_BYTES + e->page);
}

bool engine_init(engine *e, std::string *err) {
  e->page = (size_t)sysconf(_SC_PAGESIZE);
  size_t total = (size_t)MAX_THREADS * (STACK_BYTES + e->page);
  void *m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (m == MAP_FAILED) {
    *err = "cannot map the fiber stacks of the emulated device";
    return false;
  }
  e->stacks = (char *)m;
  for (int i = 0; i < MAX_THREADS; i++)
    mprotect(e->stacks + (size_t)i * (STACK_BYTES + e->page), e->page, PROT_NONE);
  e->thr.resize(MAX_THREADS);
  return true;
}

std::string lanes_text(const std::vector<int> &ids) {
  std::string s;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) j++;
    char buf[48];
    if (j == i) snprintf(buf, sizeof buf, "%s%d", s.empty() ? "" : ",", ids[i]);
    else snprintf(buf, sizeof buf, "%s%d-%d", s.empty() ? "" : ",", ids[i], ids[j]);
    s += buf;
    i = j + 1;
  }
  return s;
}

} /* namespace */
} /* namespace dlc_emu */

/* ------------------------------------------------------------------ context switch */
#if defined(__x86_64__)
/* dlc_emu_switch(save, load): saves the callee-saved registers, MXCSR and the x87 control
 * word on the current stack, stores the stack pointer in *save, and resumes the stack
 * `load` (System V AMD64 ABI). */
extern "C" void dlc_emu_switch(void **save, void *load);
asm(R"(
  .text
  .globl dlc_emu_switch
  .hidden dlc_emu_switch
  .type dlc_emu_switch,@function
dlc_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size dlc_emu_switch, .-dlc_emu_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
#endif

namespace dlc_emu {
namespace {

[[noreturn]] void to_scheduler_forever(engine *e);

void yield_to_scheduler(engine *e) {
  thread_rec &t = e->thr[e->blk.cur];
#if defined(__x86_64__)
  dlc_emu_switch(&t.sp, e->sched_sp);
#else
  swapcontext(&t.uc, &e->sched_uc);
#endif
}

void release_block_barrier(engine *e) {
  for (int i = 0; i < e->n; i++)
    if (e->thr[i].state == T_WAIT_BLOCK) e->thr[i].state = T_RUN;
  e->at_barrier = 0;
}

void set_fault(engine *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void set_fault(engine *e, const char *fmt, ...) {
  if (!e->fault.empty()) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char head[256];
  const block_rec &b = e->blk;
  snprintf(head, sizeof head, "kernel %s, block (%u,%u,%u): ", e->kernel, b.block_idx.x,
           b.block_idx.y, b.block_idx.z);
  e->fault = std::string(head) + msg;
}

/* Completes the collective of the lanes of warp w named in `mask` when every one of them
 * that has not exited waits at it: computes each lane's result and makes them runnable.
 * Returns false while some lane has still to arrive. */
bool try_complete(engine *e, int w, unsigned mask) {
  const int base = w * 32;
  int op = -1;
  for (int l = 0; l < 32; l++) {
    if (!(mask >> l & 1u)) continue;
    int i = base + l;
    if (i >= e->n || e->thr[i].state == T_DONE) continue;
    const thread_rec &t = e->thr[i];
    if (t.state != T_WAIT_WARP) return false;
    if (t.mask != mask) {
      set_fault(e, "warp %d: lane %d waits at a warp intrinsic with mask 0x%08x while another lane "
                "names it in mask 0x%08x",
                w, l, t.mask, mask);
      return true;
    }
    if (op < 0) op = t.warp_op;
    if (t.warp_op != op) {
      set_fault(e, "warp %d: lanes of mask 0x%08x wait at different warp intrinsics", w, mask);
      return true;
    }
  }
  unsigned arrived = 0, ballot = 0;
  for (int l = 0; l < 32; l++) {
    int i = base + l;
    if ((mask >> l & 1u) && i < e->n && e->thr[i].state == T_WAIT_WARP) {
      arrived |= 1u << l;
      if (e->thr[i].value) ballot |= 1u << l;
    }
  }
  for (int l = 0; l < 32; l++) {
    if (!(arrived >> l & 1u)) continue;
    thread_rec &t = e->thr[base + l];
    if (op == WARP_BALLOT) {
      t.result = ballot;
    } else if (op == WARP_SYNC) {
      t.result = 0;
    } else {
      /* PTX shfl.sync: c = ((32 - width) << 8) | (up ? 0 : 31). */
      const int segmask = (32 - t.width) & 31;
      const int cval = op == WARP_SHFL_UP ? 0 : 31;
      const int max_lane = (l & segmask) | (cval & ~segmask);
      const int min_lane = l & segmask;
      int j = l;
      bool ok;
      switch (op) {
        case WARP_SHFL_UP: j = l - t.b; ok = j >= max_lane; break;
        case WARP_SHFL_DOWN: j = l + t.b; ok = j <= max_lane; break;
        case WARP_SHFL_XOR: j = l ^ (t.b & 31); ok = j <= max_lane; break;
        default: j = min_lane | (t.b & 31 & ~segmask); ok = j <= max_lane; break;
      }
      if (!ok) j = l;
      /* A lane outside the mask (or exited, or absent) gives an undefined value: poison. */
      t.result = (arrived >> j & 1u) ? e->thr[base + j].value : ~0ull;
    }
    t.state = T_RUN;
  }
  return true;
}

void thread_exit(engine *e) {
  thread_rec &t = e->thr[e->blk.cur];
  t.state = T_DONE;
  e->live--;
  if (e->at_barrier > 0 && e->at_barrier == e->live) release_block_barrier(e);
  const int w = e->blk.cur / 32;
  for (int l = 0; l < 32; l++) {
    int i = w * 32 + l;
    if (i < e->n && e->thr[i].state == T_WAIT_WARP) try_complete(e, w, e->thr[i].mask);
  }
}

extern "C" [[noreturn]] void dlc_emu_fiber_main() {
  engine *e = tls_engine;
  (*e->body)();
  thread_exit(e);
  to_scheduler_forever(e);
}

[[noreturn]] void to_scheduler_forever(engine *e) {
  yield_to_scheduler(e);
  abort(); /* a finished fiber is never resumed */
}

void start_fiber(engine *e, int i) {
#if defined(__x86_64__)
  uint64_t *sp = (uint64_t *)stack_top(e, i);
  unsigned mxcsr;
  unsigned short fcw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fcw));
  *--sp = 0;                                  /* dlc_emu_fiber_main's return address */
  *--sp = (uint64_t)(void *)dlc_emu_fiber_main; /* where dlc_emu_switch returns to */
  for (int r = 0; r < 6; r++) *--sp = 0;     /* rbp rbx r12-r15 */
  *--sp = (uint64_t)mxcsr | (uint64_t)fcw << 32;
  e->thr[i].sp = sp;
#else
  thread_rec &t = e->thr[i];
  getcontext(&t.uc);
  t.uc.uc_stack.ss_sp = stack_top(e, i) - STACK_BYTES;
  t.uc.uc_stack.ss_size = STACK_BYTES;
  t.uc.uc_link = nullptr;
  makecontext(&t.uc, (void (*)())dlc_emu_fiber_main, 0);
#endif
}

void resume(engine *e, int i) {
  e->blk.cur = i;
#if defined(__x86_64__)
  dlc_emu_switch(&e->sched_sp, e->thr[i].sp);
#else
  swapcontext(&e->sched_uc, &e->thr[i].uc);
#endif
}

std::string deadlock_text(engine *e) {
  std::vector<int> at_block, at_warp;
  for (int i = 0; i < e->n; i++) {
    if (e->thr[i].state == T_WAIT_BLOCK) at_block.push_back(i);
    if (e->thr[i].state == T_WAIT_WARP) at_warp.push_back(i);
  }
  std::string s = "deadlock:";
  if (!at_block.empty()) s += " threads " + lanes_text(at_block) + " wait at __syncthreads;";
  if (!at_warp.empty()) {
    char m[32];
    snprintf(m, sizeof m, "0x%08x", e->thr[at_warp[0]].mask);
    s += " threads " + lanes_text(at_warp) + " wait at a warp intrinsic (first mask " + m + ")";
  }
  return s;
}

} /* namespace */

void shared_poison(void *p, size_t bytes) {
  engine *e = tls_engine;
  for (auto &v : e->poisoned)
    if (v.first == p) {
      if (v.second != e->block_gen) {
        v.second = e->block_gen;
        memset(p, 0xff, bytes);
      }
      return;
    }
  e->poisoned.emplace_back(p, e->block_gen);
  memset(p, 0xff, bytes);
}

const uint3 &thread_index() {
  engine *e = tls_engine;
  return e->thr[e->blk.cur].tid;
}

void block_barrier() {
  engine *e = tls_engine;
  e->at_barrier++;
  if (e->at_barrier == e->live) {
    release_block_barrier(e);
    return;
  }
  e->thr[e->blk.cur].state = T_WAIT_BLOCK;
  yield_to_scheduler(e);
}

unsigned long long warp_collective(int op, unsigned mask, unsigned long long value, int b, int width) {
  engine *e = tls_engine;
  const int i = e->blk.cur, lane = i % 32, w = i / 32;
  thread_rec &t = e->thr[i];
  if (!(mask >> lane & 1u)) {
    set_fault(e, "thread %d (warp %d lane %d) calls a warp intrinsic with mask 0x%08x, which does "
              "not name its own lane",
              i, w, lane, mask);
    to_scheduler_forever(e);
  }
  if (width < 1 || width > 32 || (width & (width - 1))) {
    set_fault(e, "thread %d: shuffle width %d is not a power of two in [1, 32]", i, width);
    to_scheduler_forever(e);
  }
  t.state = T_WAIT_WARP;
  t.warp_op = op;
  t.mask = mask;
  t.value = value;
  t.b = b;
  t.width = width;
  try_complete(e, w, mask);
  if (!e->fault.empty()) to_scheduler_forever(e);
  if (t.state != T_RUN) yield_to_scheduler(e);
  return t.result;
}

bool run_grid(const char *name, dim3 grid, dim3 block, size_t shared, std::function<void()> *body,
              std::string *fault) {
  if (!tls_engine) {
    engine *e = new engine;
    if (!engine_init(e, fault)) {
      delete e;
      return false;
    }
    tls_engine = e;
  }
  engine *e = tls_engine;
  e->kernel = name;
  e->body = body;
  e->fault.clear();
  e->n = (int)(block.x * block.y * block.z);
  if (e->dyn.size() < shared) e->dyn.resize(shared);
  e->blk.block_dim = block;
  e->blk.grid_dim = grid;
  e->blk.threads = e->thr.data();
  e->blk.dyn_shared = shared ? e->dyn.data() : nullptr;
  block_rec *saved = tls_block;
  tls_block = &e->blk;
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        e->blk.block_idx = make_uint3(bx, by, bz);
        e->block_gen++;
        /* Shared memory starts undefined: poison (NaN) what the block did not write. */
        if (shared) memset(e->dyn.data(), 0xff, shared);
        for (int i = 0; i < e->n; i++) {
          thread_rec &t = e->thr[i];
          t.tid = make_uint3(i % block.x, i / block.x % block.y, i / (block.x * block.y));
          t.state = T_RUN;
          start_fiber(e, i);
        }
        e->live = e->n;
        e->at_barrier = 0;
        const bool descending = e->block_gen & 1;
        while (e->live > 0 && e->fault.empty()) {
          bool ran = false;
          for (int k = 0; k < e->n && e->fault.empty(); k++) {
            const int i = descending ? e->n - 1 - k : k;
            if (e->thr[i].state == T_RUN) {
              resume(e, i);
              ran = true;
            }
          }
          if (!ran && e->fault.empty()) set_fault(e, "%s", deadlock_text(e).c_str());
        }
        if (!e->fault.empty()) {
          *fault = e->fault;
          tls_block = saved;
          return false;
        }
      }
  tls_block = saved;
  return true;
}

} /* namespace dlc_emu */
