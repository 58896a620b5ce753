// Launcher of the pad_batch CUDA kernel; implemented in pad_batch.cu, which includes no torch header.
#pragma once
#include "cuda/stream.h"

#include "fastload/pad_batch_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Enqueues the kernel on `stream` (p.images must be device memory); the caller checks the launch.
void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
