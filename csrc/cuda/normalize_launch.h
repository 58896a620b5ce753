// Launcher of the normalize CUDA kernels; implemented in normalize.cu, which includes no torch header.
#pragma once
#include <cuda_runtime_api.h>

#include "fastload/normalize_math.h"

namespace fastload {

// Enqueues the kernel on `stream`; the caller checks the launch (C10_CUDA_KERNEL_LAUNCH_CHECK).
void launch_normalize(const NormalizeParams& p, cudaStream_t stream);

}  // namespace fastload
