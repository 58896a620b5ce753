// Launcher of the denormalize CUDA kernels; implemented in denormalize.cu, which includes no torch header.
#pragma once
#include "cuda/stream.h"

#include "fastload/denormalize_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Enqueues the kernel on `stream`; the caller checks the launch (C10_CUDA_KERNEL_LAUNCH_CHECK).
void launch_denormalize(const DenormalizeParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
