// Launcher of the channel_stats CUDA kernel; implemented in channel_stats.cu (no torch headers).
#pragma once
#include "cuda/stream.h"

#include "fastload/images.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Adds every image's per-channel sums and sums of squares into p.totals (device memory), in one launch.
void launch_channel_stats(const ChannelStatsParams& p, cudaStream_t stream);

}  // namespace FL_KERNEL_NS
}  // namespace fastload
