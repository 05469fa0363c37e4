/* Inside the emulated device: the execution engine (exec.cpp) as the runtime (runtime.cpp)
 * calls it. */
#ifndef DLC_EMU_EXEC_H
#define DLC_EMU_EXEC_H

#include "emu_device.h"

/* The runtime and the engine speak of the device (cudaDeviceProp::warpSize), not of the
 * running thread: the kernel-side names are not theirs. */
#undef threadIdx
#undef blockIdx
#undef blockDim
#undef gridDim
#undef warpSize
#include <stdarg.h>

#include <string>

namespace dlc_emu {

/* Runs every block of one launch to completion on the calling host thread. Returns false
 * with *fault set (naming the kernel and block) when a block faults or deadlocks. */
bool run_grid(const char *name, dim3 grid, dim3 block, size_t shared, std::function<void()> *body,
              std::string *fault);

} /* namespace dlc_emu */

#endif
