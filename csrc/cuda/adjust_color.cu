// fastload::adjust_color CUDA kernels. With a contrast step, a first launch sums each image's floored grey values
// as they are just before that step (channel_stats' pattern: one grid row per image, grid columns share its pixels,
// per-thread sums, a tree in shared memory, one atomic per block); then a thread per group of 4 pixels of a row
// (kernel.h's row_grid over N x H rows) reads its pixels, runs every step of its image (color_math.h's functions)
// and stores them. Bytes moved: the batch read once (twice with contrast) and written once; in place, each pixel is
// read and written by one thread. Loads and stores go through the strides byte by byte; target 50% of a same-bytes
// copy, unmeasured (no GPU has run it). Torch-free (kernel.h only): the host compiler builds the same source for the
// CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

constexpr int kLevels = 8;  // log2(kThreads)
static_assert(kThreads == 1 << kLevels, "the tree reduction assumes kThreads = 2^kLevels");

// Pixel x of row y of image n, channel values in r, g, b (C = 1: r).
FL_DEVICE void load_pixel(const AdjustColorParams& p, int64_t n, int64_t y, int64_t x, float& r, float& g, float& b) {
  const uint8_t* px = p.in + n * p.in_stride[0] + y * p.in_stride[2] + x * p.in_stride[3];
  r = load(px + p.rgb[0] * p.in_stride[1]);
  g = p.c == 3 ? static_cast<float>(load(px + p.rgb[1] * p.in_stride[1])) : 0.0f;
  b = p.c == 3 ? static_cast<float>(load(px + p.rgb[2] * p.in_stride[1])) : 0.0f;
}

struct ColorGreySums {
  static constexpr const char* kName = "adjust_color_grey_sums";
  struct Shared {
    unsigned long long sum[kThreads];
  };
  static constexpr int kPhases = kLevels + 2;  // 0: per-thread sums; 1..kLevels: tree levels; last: publish
  static constexpr int kMinBlocks = 4;         // the hue step's registers

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const AdjustColorParams& p) {
    const int64_t n = t.block_y;  // one grid row per image (describe_adjust_color keeps N under 65536)
    const ColorImage d = load(p.images + n);
    if (d.contrast_at < 0) return;  // uniform across the block: every phase returns alike
    if (k == 0) {
      unsigned long long sum = 0;
      const int64_t first = t.first(), step = t.step();
      if (first < p.h * p.w) {
        // (y, x) advances by a precomputed step: two divisions per thread, none per pixel.
        int64_t y = first / p.w, x = first - y * p.w;
        const int64_t dy = step / p.w, dx = step - dy * p.w;
        while (y < p.h) {
          float r, g, b;
          load_pixel(p, n, y, x, r, g, b);
          color_steps(d, 0, d.contrast_at, p.c, 0.0f, r, g, b);
          sum += contrast_grey(p.c, r, g, b);
          x += dx;
          y += dy;
          if (x >= p.w) x -= p.w, ++y;
        }
      }
      s.sum[t.x] = sum;
    } else if (k <= kLevels) {
      const int64_t half = kThreads >> k;
      if (t.x < half) s.sum[t.x] += s.sum[t.x + half];
    } else if (t.x == 0) {
      atomic_add(p.grey_sums + n, s.sum[0]);
    }
  }
};

struct ColorRows : SinglePhase {
  static constexpr const char* kName = "adjust_color_rows";
  static constexpr int kMinBlocks = 4;  // the hue step's registers

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AdjustColorParams& p) {
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      // 32-bit division (describe_adjust_color keeps N x H under 2^31): a 64-bit one is a call with a stack frame.
      const uint32_t ni = static_cast<uint32_t>(row) / static_cast<uint32_t>(p.h);
      const int64_t n = ni, y = static_cast<uint32_t>(row) - ni * static_cast<uint32_t>(p.h);
      const ColorImage d = load(p.images + n);
      if (d.count == 0 && p.out == p.in) return;  // nothing to do in place (an image a draw left alone)
      const float mean = d.contrast_at >= 0 ? contrast_mean(load(p.grey_sums + n), p.h * p.w) : 0.0f;
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        float r, g, b;
        load_pixel(p, n, y, x0 + q, r, g, b);
        color_steps(d, 0, d.count, p.c, mean, r, g, b);
        uint8_t* px = p.out + n * p.out_stride[0] + y * p.out_stride[2] + (x0 + q) * p.out_stride[3];
        store(px + p.rgb[0] * p.out_stride[1], static_cast<uint8_t>(r));
        if (p.c == 3) {
          store(px + p.rgb[1] * p.out_stride[1], static_cast<uint8_t>(g));
          store(px + p.rgb[2] * p.out_stride[1], static_cast<uint8_t>(b));
        }
      }
    });
  }
};

}  // namespace

void launch_adjust_color(const AdjustColorParams& p, cudaStream_t stream) {
  if (p.n == 0 || p.h * p.w == 0) return;
  if (p.contrast) {  // p.grey_sums: n zeros
    const int64_t per_image = 4096 / p.n > 1 ? 4096 / p.n : 1;
    const int64_t needed = blocks_for(p.h * p.w);
    launch<ColorGreySums>(Grid{needed < per_image ? needed : per_image, p.n}, stream, p);
  }
  launch<ColorRows>(row_grid(p.n * p.h, p.w), stream, p);
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
