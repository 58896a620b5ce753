// fastload::resized_crop_batch CUDA kernel: a thread per group of 4 output pixels of every output row of the batch, as
// pad_batch (kernel.h's row_grid: 64 x 224² -> 14,336 blocks of 64 threads, 87.5% busy; one 800 x 1333 output ->
// 2,400 blocks of 128, 87%). Each thread takes 4 output pixels of one row and reads its image's descriptor. Per output channel and per
// weighted vertical tap, it sums each pixel's horizontal taps over that source row and adds the sum, weighted, to
// the pixel (crop_math.h's order, fp32 without fma; zero-weight taps are skipped, and describe() checks that every
// weighted tap lies in the image). Then it normalizes (or rounds to uint8), and the 4 pixels go out with vector
// stores (stores.h; uint8: C 32-bit words). Bytes moved: the batch once + the source pixels the taps touch (each about
// once when downscaling, from cache), plus the small tap tables. Target: 60% of a same-bytes copy, like
// resize_pad_batch: the gathers are byte loads served by L1/L2. Torch-free (kernel.h only): nvcc builds it in
// seconds and the host compiler builds the same source for the CUDA emulation.
#include <math.h>
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/resized_crop_batch_launch.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// acc + w * value, rounded twice (no fma) on every backend.
FL_DEVICE float add_product(float acc, float w, float value) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(acc, __fmul_rn(w, value));
#else
  return acc + w * value;
#endif
}

// The tap loops and the 4 pixels' C values do not fit 32 registers (they spill to the stack); capped at 64 (4
// blocks of 256 per SM), nvcc takes 40 (1 channel) or 56 (3).
constexpr int kCropMinBlocks = 4;

// Output pixels x0 .. x0 + count - 1 of row y of image n: v[k][j], channel k of pixel j, before normalization (v
// starts at 0). One channel at a time, then vertical taps, then pixels: a single running sum besides v keeps the
// kernel in 64 registers, and each (pixel, channel) still sums in crop_math.h's order. v is written through
// selects with constant indices, since a runtime index would put it in local memory.
template <int C>
FL_DEVICE void sample_crop(const ResizedCropParams& p, const ImageDesc& img, int64_t n, int64_t y, int64_t x0,
                           int count, float (&v)[C][4]) {
  const int64_t y_start = load(p.y_starts + n * p.out_h + y);
  const float* wy = p.y_weights + (n * p.out_h + y) * p.ky;
  const int ky = static_cast<int>(p.ky), kx = static_cast<int>(p.kx);  // a few taps: 32-bit counters
#pragma unroll
  for (int k = 0; k < C; ++k) {
    const uint8_t* plane = img.data + channel(p.channel_map, k) * img.stride_c;
#pragma unroll 1
    for (int t = 0; t < ky; ++t) {
      const float w_row = load(wy + t);
      if (w_row == 0.0f) continue;  // would add +0
      const uint8_t* row = plane + (y_start + t) * img.stride_h;  // weighted taps lie in the image (checked)
#pragma unroll 1
      for (int j = 0; j < count; ++j) {
        const int64_t x = n * p.out_w + x0 + j;
        const uint8_t* px = row + load(p.x_starts + x) * img.stride_w;
        const float* wx = p.x_weights + x * p.kx;
        float sum = 0.0f;
#pragma unroll 1
        for (int i = 0; i < kx; ++i) {
          const float w_col = load(wx + i);
          if (w_col != 0.0f) sum = add_product(sum, w_col, static_cast<float>(load(px + i * img.stride_w)));
        }
#pragma unroll
        for (int q = 0; q < 4; ++q)
          if (q == j) v[k][q] = add_product(v[k][q], w_row, sum);
      }
    }
  }
}

template <FloatDtype D, int C, bool ChannelsLast>
struct CropNormalizedRows : SinglePhase {
  static constexpr const char* kName = "crop_normalized_rows";
  static constexpr int kMinBlocks = kCropMinBlocks;
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const ResizedCropParams& p) {
    using S = typename FloatTraits<D>::storage;
    const int64_t plane = p.out_h * p.out_w;
    S* const out = static_cast<S*>(p.out);
    for_each_group(t, p.n * p.out_h, p.out_w, [&](int64_t r, int64_t x0, int count) {
      const int64_t n = r / p.out_h, y = r - n * p.out_h;
      float v[C][4] = {};
      sample_crop<C>(p, load(p.images + n), n, y, x0, count, v);
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int k = 0; k < C; ++k) v[k][j] = normalize_float(v[k][j], p.mean[k], p.inv_std[k]);
      S* dst = ChannelsLast ? out + (r * p.out_w + x0) * C : out + n * C * plane + y * p.out_w + x0;
      store_group<D, C, ChannelsLast>(dst, plane, v, count);
    });
  }
};

template <int C>
struct CropBytesRows : SinglePhase {
  static constexpr const char* kName = "crop_bytes_rows";
  static constexpr int kMinBlocks = kCropMinBlocks;
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const ResizedCropParams& p) {
    uint8_t* const out = static_cast<uint8_t*>(p.out);
    for_each_group(t, p.n * p.out_h, p.out_w, [&](int64_t r, int64_t x0, int count) {
      const int64_t n = r / p.out_h, y = r - n * p.out_h;
      float v[C][4] = {};
      sample_crop<C>(p, load(p.images + n), n, y, x0, count, v);
      // Channel k of pixel j is byte j * C + k of the group: C little-endian words, rounded half to even (rintf,
      // the CPU's nearbyint) and clamped.
      uint32_t words[C];
#pragma unroll
      for (int q = 0; q < C; ++q) {
        words[q] = 0;
#pragma unroll
        for (int b = 0; b < 4; ++b) {
          const float rounded = rintf(v[(4 * q + b) % C][(4 * q + b) / C]);
          const uint32_t byte = rounded < 0.0f ? 0u : (rounded > 255.0f ? 255u : static_cast<uint32_t>(rounded));
          words[q] |= byte << (8 * b);
        }
      }
      uint8_t* dst = out + (r * p.out_w + x0) * C;
      if (count == 4 && reinterpret_cast<uintptr_t>(dst) % 4 == 0) {
#pragma unroll
        for (int q = 0; q < C; ++q) store(reinterpret_cast<uint32_t*>(dst) + q, words[q]);
      } else {
#pragma unroll
        for (int i = 0; i < 4 * C; ++i)
          if (i < count * C) store(dst + i, static_cast<uint8_t>(words[i / 4] >> (8 * (i % 4))));
      }
    });
  }
};

}  // namespace

void launch_resized_crop_batch(const ResizedCropParams& p, cudaStream_t stream) {
  launch_batch_rows<CropNormalizedRows, CropBytesRows>(p, stream);
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
