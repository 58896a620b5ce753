// What the launcher declarations need: cudaStream_t and the namespace of the kernels being declared (cuda, or
// emulation when FL_EMULATION is defined). Lets a .cpp declare launchers without including the kernel layer.
#pragma once
#if defined(FL_EMULATION)
#include "cuda/emulation.h"
#define FL_KERNEL_NS emulation
#else
#include <cuda_runtime_api.h>
#define FL_KERNEL_NS cuda
#endif
