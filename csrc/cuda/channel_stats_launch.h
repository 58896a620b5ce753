// Launcher of the channel_stats CUDA kernel; implemented in channel_stats.cu (no torch headers).
#pragma once
#include "cuda/stream.h"

#include "fastload/images.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Adds image `img`'s per-channel sums and sums of squares into totals[0..c) and totals[c..2c) (device memory).
void launch_channel_stats(const ImageDesc& img, int64_t c, unsigned long long* totals, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
