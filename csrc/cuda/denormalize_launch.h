// Launcher of the denormalize CUDA kernels; implemented in denormalize.cu, which includes no torch header.
#pragma once
#include <cuda_runtime_api.h>

#include "fastload/denormalize_math.h"

namespace fastload {

// Enqueues the kernel on `stream`; the caller checks the launch (C10_CUDA_KERNEL_LAUNCH_CHECK).
void launch_denormalize(const DenormalizeParams& p, cudaStream_t stream);

}  // namespace fastload
