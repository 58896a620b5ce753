// fastload::channel_stats CUDA kernel: each thread accumulates integer sums over a grid-stride range of pixels, a
// warp reduces them with shuffles, and one lane per warp adds them to the totals atomically (exact, order-free).
#include <stdint.h>

#include <algorithm>

#include "cuda/channel_stats_launch.h"
#include "cuda/launch.h"

namespace fastload {
namespace {

__global__ void __launch_bounds__(kThreads) channel_stats_kernel(ImageDesc img, int64_t c, unsigned long long* totals) {
  unsigned long long sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0};
  const int64_t pixels = img.h * img.w;
  FL_GRID_STRIDE_LOOP(i, pixels) {
    const int64_t y = i / img.w, x = i - y * img.w;
    const uint8_t* px = img.data + y * img.stride_h + x * img.stride_w;
    for (int64_t k = 0; k < c; ++k) {
      const unsigned long long v = px[k * img.stride_c];
      sum[k] += v;
      squares[k] += v * v;
    }
  }
  for (int64_t k = 0; k < c; ++k) {
    for (int offset = 16; offset > 0; offset /= 2) {
      sum[k] += __shfl_down_sync(0xffffffffu, sum[k], offset);
      squares[k] += __shfl_down_sync(0xffffffffu, squares[k], offset);
    }
    if ((threadIdx.x & 31) == 0) {
      atomicAdd(totals + k, sum[k]);
      atomicAdd(totals + c + k, squares[k]);
    }
  }
}

}  // namespace

void launch_channel_stats(const ImageDesc& img, int64_t c, unsigned long long* totals, cudaStream_t stream) {
  const int64_t pixels = img.h * img.w;
  if (pixels == 0) return;
  // A few thousand blocks saturate the GPU; more only add atomics on the same totals.
  const int64_t blocks = std::min<int64_t>(blocks_for(pixels), 4096);
  channel_stats_kernel<<<blocks, kThreads, 0, stream>>>(img, c, totals);
}

}  // namespace fastload
