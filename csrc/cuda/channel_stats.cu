// fastload::channel_stats CUDA kernel: exact per-channel sums and sums of squares of one uint8 image. Each thread
// accumulates integer sums over a grid-stride range of pixels in registers (templated on the channel count, so no
// runtime-indexed arrays), the block reduces them in shared memory (a tree, one barrier per level), and thread 0
// adds the block's totals atomically (exact, order-free). Torch-free (kernel.h only): nvcc builds it in seconds and
// the host compiler builds the same source for the CUDA emulation.
//
// Bytes moved: H*W*C in, 2*C int64 out: a pure read; each thread reads its pixels' C bytes in order, so a warp's
// reads are contiguous. One launch per image (a batch launches once per image), a few thousand blocks at most.
#include <stdint.h>

#include <algorithm>

#include "cuda/channel_stats_launch.h"
#include "cuda/kernel.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

struct ChannelStatsArgs {
  ImageDesc img;
  unsigned long long* totals;
};

constexpr int kLevels = 8;  // log2(kThreads)
static_assert(kThreads == 1 << kLevels, "the tree reduction assumes kThreads = 2^kLevels");

template <int C>
struct ChannelStats {
  static constexpr const char* kName = "channel_stats";
  struct Shared {
    unsigned long long sum[C][kThreads], squares[C][kThreads];
  };
  // 0: per-thread sums; 1..kLevels: tree levels; last: thread 0 publishes.
  static constexpr int kPhases = kLevels + 2;

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const ChannelStatsArgs& a) {
    const ImageDesc& img = a.img;
    if (k == 0) {
      unsigned long long sum[C] = {}, squares[C] = {};
      for (int64_t i = t.first(); i < img.h * img.w; i += t.step()) {
        const int64_t y = i / img.w, x = i - y * img.w;
        const uint8_t* px = img.data + y * img.stride_h + x * img.stride_w;
#pragma unroll
        for (int c = 0; c < C; ++c) {
          const unsigned long long v = load(px + c * img.stride_c);
          sum[c] += v;
          squares[c] += v * v;
        }
      }
#pragma unroll
      for (int c = 0; c < C; ++c) s.sum[c][t.x] = sum[c], s.squares[c][t.x] = squares[c];
    } else if (k <= kLevels) {
      const int64_t half = kThreads >> k;
      if (t.x < half) {
#pragma unroll
        for (int c = 0; c < C; ++c) {
          s.sum[c][t.x] += s.sum[c][t.x + half];
          s.squares[c][t.x] += s.squares[c][t.x + half];
        }
      }
    } else if (t.x == 0) {
#pragma unroll
      for (int c = 0; c < C; ++c) {
        atomic_add(a.totals + c, s.sum[c][0]);
        atomic_add(a.totals + C + c, s.squares[c][0]);
      }
    }
  }
};

}  // namespace

void launch_channel_stats(const ImageDesc& img, int64_t c, unsigned long long* totals, cudaStream_t stream) {
  // A few thousand blocks saturate the GPU; more only add atomics on the same totals.
  const Grid grid{std::min<int64_t>(blocks_for(img.h * img.w), 4096), 1};
  if (grid.x == 0) return;
  const ChannelStatsArgs args{img, totals};
  if (c == 1) {
    launch<ChannelStats<1>>(grid, stream, args);
  } else {
    launch<ChannelStats<3>>(grid, stream, args);
  }
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
