// fastload::channel_stats CUDA kernel: exact per-channel sums and sums of squares of a batch of uint8 images, in
// one launch. Grid rows (blockIdx.y) take images, grid columns share an image's 4-pixel groups grid-stride; each
// thread keeps integer sums in registers (templated on the channel count, so no runtime-indexed arrays), the block
// reduces them in shared memory (a tree, one barrier per level), and thread 0 adds the block's totals atomically
// (exact and order-free). The (row, group) position advances by a precomputed step: two divisions per image per
// thread, none per pixel. Torch-free (kernel.h only): nvcc builds it in seconds and the host compiler builds the same
// source for the CUDA emulation.
//
// Bytes moved: the images once (H*W*C in), 2*C int64 out: a pure read. Contiguous HWC groups are read as C aligned
// 32-bit words (4 pixels), other layouts (crops, flips, planar) byte by byte; a warp reads one contiguous span either
// way. Target: 80% of a device copy's read bandwidth; a few thousand blocks in all, so the atomics are negligible.
#include <stdint.h>

#include "cuda/launches.h"
#include "cuda/kernel.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

constexpr int kLevels = 8;  // log2(kThreads)
static_assert(kThreads == 1 << kLevels, "the tree reduction assumes kThreads = 2^kLevels");

// Per-thread sums of channel 0..C-1 and of their squares.
template <int C>
struct Sums {
  unsigned long long sum[C] = {}, squares[C] = {};

  FL_DEVICE void add(int c, unsigned long long v) {
    sum[c] += v;
    squares[c] += v * v;
  }
};

// Adds the `count` (1..4) pixels from `px` of image `img`: C word loads when the 4 pixels are whole, packed HWC and
// aligned, else one byte load per value.
template <int C>
FL_DEVICE void add_group(Sums<C>& s, const ImageDesc& img, const uint8_t* px, int count) {
  if (count == 4 && img.stride_c == 1 && img.stride_w == C && reinterpret_cast<uintptr_t>(px) % 4 == 0) {
#pragma unroll
    for (int q = 0; q < C; ++q) {
      const uint32_t word = load(reinterpret_cast<const uint32_t*>(px) + q);
#pragma unroll
      for (int b = 0; b < 4; ++b) s.add((4 * q + b) % C, (word >> (8 * b)) & 0xffu);
    }
    return;
  }
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (j >= count) break;
#pragma unroll
    for (int c = 0; c < C; ++c) s.add(c, load(px + j * img.stride_w + c * img.stride_c));
  }
}

template <int C>
struct ChannelStats {
  static constexpr const char* kName = "channel_stats";
  struct Shared {
    unsigned long long sum[C][kThreads], squares[C][kThreads];
  };
  // 0: per-thread sums; 1..kLevels: tree levels; last: thread 0 publishes.
  static constexpr int kPhases = kLevels + 2;
  // Capped at 40 registers (6 blocks per SM; 1 channel) and 48 (5 blocks; 3 channels): the 64-bit sums need them,
  // tighter caps spill to the stack.
  static constexpr int kMinBlocks = C == 1 ? 6 : 5;

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const ChannelStatsParams& p) {
    if (k == 0) {
      Sums<C> sums;
      for (int64_t n = t.block_y; n < p.n; n += t.grid_y) {
        const ImageDesc img = load(p.images + n);
        const int64_t groups = (img.w + 3) / 4;  // 4-pixel groups per row
        const int64_t first = t.first(), step = t.step();
        if (groups == 0 || first >= img.h * groups) continue;
        int64_t y = first / groups, g = first - y * groups;
        const int64_t dy = step / groups, dg = step - dy * groups;
        while (y < img.h) {
          const int64_t x0 = 4 * g;
          const int count = img.w - x0 < 4 ? static_cast<int>(img.w - x0) : 4;
          add_group<C>(sums, img, img.data + y * img.stride_h + x0 * img.stride_w, count);
          g += dg;
          y += dy;
          if (g >= groups) g -= groups, ++y;
        }
      }
#pragma unroll
      for (int c = 0; c < C; ++c) s.sum[c][t.x] = sums.sum[c], s.squares[c][t.x] = sums.squares[c];
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
        atomic_add(p.totals + c, s.sum[c][0]);
        atomic_add(p.totals + C + c, s.squares[c][0]);
      }
    }
  }
};

}  // namespace

void launch_channel_stats(const ChannelStatsParams& p, cudaStream_t stream) {
  if (p.n == 0 || p.max_pixels == 0) return;
  // About 4096 blocks saturate the GPU; more only add atomics on the same totals. Every image gets at least one.
  const int64_t images = p.n < 65535 ? p.n : 65535;
  const int64_t per_image = 4096 / images > 1 ? 4096 / images : 1;
  const int64_t needed = blocks_for((p.max_pixels + 3) / 4);
  const Grid grid{needed < per_image ? needed : per_image, images};
  if (p.c == 1) {
    launch<ChannelStats<1>>(grid, stream, p);
  } else {
    launch<ChannelStats<3>>(grid, stream, p);
  }
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
