// Launcher of the pad_batch CUDA kernel; implemented in pad_batch.cu, which includes no torch header.
#pragma once
#include <cuda_runtime_api.h>

#include "fastload/pad_batch_math.h"

namespace fastload {

// Enqueues the kernel on `stream` (p.images must be device memory); the caller checks the launch.
void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream);

}  // namespace fastload
