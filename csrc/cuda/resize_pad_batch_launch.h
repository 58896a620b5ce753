// Launcher of the resize_pad_batch CUDA kernel; implemented in resize_pad_batch.cu (no torch headers).
#pragma once
#include "cuda/stream.h"

#include "fastload/resize_math.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Enqueues the kernel on `stream` (p.images must be device memory); the caller checks the launch.
void launch_resize_pad_batch(const ResizePadBatchParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
