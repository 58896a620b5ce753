// The tiles of resized_crop_batch's CUDA kernels (resized_crop_batch.cu) and of the kernels that crop the same way
// (resized_crop_color.cu): a block takes kBandRows output rows x kTileCols output columns of one image, one output
// pixel a thread. Phase 0 (fill_sums) sums each source row its rows' vertical taps weight horizontally, once per (row,
// column, channel), into shared memory; phase 1 (pixel) combines those sums with the vertical taps. The sums and their
// order are crop_math.h's (as the CPU kernel's), so the bits are the same. Torch-free; in the kernel files' anonymous
// namespace.
#pragma once
#include <math.h>
#include <stdint.h>

#include "cuda/kernel.h"
#include "math/crop_math.h"

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

// Capped at 64 registers (4 blocks of 256 per SM, with 8 KB (1 channel) or 24 KB (3) of shared memory each).
constexpr int kCropMinBlocks = 4;

// The tiled kernel: a block takes kBandRows output rows x kTileCols output columns of one image (one output pixel
// a thread). Phase 0 sums each source row its rows' vertical taps weight horizontally, once per (row, column,
// channel), into shared memory; phase 1 combines those sums with the vertical taps. The sums and their order are
// crop_math.h's (as the CPU kernel's), so the bits are the same; each source byte a tap reads is loaded once per
// block instead of once per vertical tap. A band whose taps span more than kSpanRows source rows (downscales beyond
// ~7x) is computed directly, per pixel, in phase 1.
constexpr int kBandRows = 8, kTileCols = 32, kSpanRows = 64;
static_assert(kBandRows * kTileCols == kThreads, "one output pixel per thread");

template <int C>
struct CropShared {
  float sums[kSpanRows][C][kTileCols];  // sums[row - first][k][column - x0]
};

// Where block b is: image n, band rows [y0, y0 + rows), tile columns [x0, x0 + cols), and its source rows
// [first, first + span) (the vertical taps of its rows; span > kSpanRows: computed directly).
struct CropTile {
  int64_t n, y0, x0, rows, cols, first, span;
  FL_DEVICE CropTile(const ResizedCropParams& p, int64_t b) {
    const int64_t tiles = (p.out_w + kTileCols - 1) / kTileCols, bands = (p.out_h + kBandRows - 1) / kBandRows;
    const int64_t nb = b / tiles;
    n = nb / bands;
    y0 = (nb - n * bands) * kBandRows;
    x0 = (b - nb * tiles) * kTileCols;
    rows = p.out_h - y0 < kBandRows ? p.out_h - y0 : kBandRows;
    cols = p.out_w - x0 < kTileCols ? p.out_w - x0 : kTileCols;
    const int64_t* ys = p.y_starts + n * p.out_h + y0;
    int64_t lo = load(ys), hi = lo;
    for (int64_t r = 1; r < rows; ++r) {
      const int64_t y = load(ys + r);
      lo = y < lo ? y : lo;
      hi = y > hi ? y : hi;
    }
    first = lo < 0 ? 0 : lo;  // taps before row 0 or past the last row have zero weight (checked)
    const int64_t h = load(p.images + n).h, last = hi + p.ky < h ? hi + p.ky : h;
    span = last - first;
  }
};

// Horizontal sum of output column x (of image n) over source row `row` of channel plane `plane`, taps in order.
FL_DEVICE float row_sum(const ResizedCropParams& p, const ImageDesc& img, const uint8_t* plane, int64_t n, int64_t row,
                        int64_t x) {
  const int64_t xi = n * p.out_w + x;
  const uint8_t* px = plane + row * img.stride_h + load(p.x_starts + xi) * img.stride_w;
  const float* wx = p.x_weights + xi * p.kx;
  const int kx = static_cast<int>(p.kx);
  float sum = 0.0f;
#pragma unroll 1
  for (int i = 0; i < kx; ++i) {
    const float w_col = load(wx + i);
    if (w_col != 0.0f) sum = add_product(sum, w_col, static_cast<float>(load(px + i * img.stride_w)));
  }
  return p.bytes_between_passes ? round_to_byte(sum) : sum;
}

// Phase 0: the band's horizontal sums into shared memory (consecutive threads: consecutive columns of a row).
template <int C>
FL_DEVICE void fill_sums(const Thread& t, CropShared<C>& s, const ResizedCropParams& p) {
  const CropTile tile(p, t.block_x);
  if (tile.span > kSpanRows) return;  // phase 1 computes this band directly
  const ImageDesc img = load(p.images + tile.n);
  for (int64_t i = t.x; i < tile.span * C * kTileCols; i += t.block_dim) {
    const int64_t q = i % kTileCols, jk = i / kTileCols, k = jk % C, j = jk / C;
    if (q >= tile.cols) continue;
    const uint8_t* plane = img.data + channel(p.channel_map, k) * img.stride_c;
    s.sums[j][k][q] = row_sum(p, img, plane, tile.n, tile.first + j, tile.x0 + q);
  }
}

// Phase 1: this thread's output pixel (y, x) of the tile, v[k] before normalization, or false outside the batch.
template <int C>
FL_DEVICE bool pixel(const Thread& t, const CropShared<C>& s, const ResizedCropParams& p, const CropTile& tile,
                     int64_t& y, int64_t& x, float (&v)[C]) {
  const int64_t ly = t.x / kTileCols, q = t.x - ly * kTileCols;
  if (ly >= tile.rows || q >= tile.cols) return false;
  y = tile.y0 + ly;
  x = tile.x0 + q;
  const int64_t y_start = load(p.y_starts + tile.n * p.out_h + y);
  const float* wy = p.y_weights + (tile.n * p.out_h + y) * p.ky;
  const int ky = static_cast<int>(p.ky);
  const ImageDesc img = load(p.images + tile.n);
#pragma unroll
  for (int k = 0; k < C; ++k) {
    const uint8_t* plane = img.data + channel(p.channel_map, k) * img.stride_c;
    float acc = 0.0f;
#pragma unroll 1
    for (int tap = 0; tap < ky; ++tap) {
      const float w_row = load(wy + tap);
      if (w_row == 0.0f) continue;  // would add +0
      const float sum = tile.span <= kSpanRows ? s.sums[y_start + tap - tile.first][k][q]
                                               : row_sum(p, img, plane, tile.n, y_start + tap, x);
      acc = add_product(acc, w_row, sum);
    }
    v[k] = p.bytes_between_passes ? round_to_byte(acc) : acc;
  }
  return true;
}

// Phase k of a tiled crop kernel: 0 fills the band's horizontal sums; 1 computes this thread's output pixel and, if
// it lies in the batch, hands store(tile, y, x, v) its values before normalization.
template <int C, typename Params, typename Store>
FL_DEVICE void crop_tile_phase(int k, const Thread& t, CropShared<C>& s, const Params& p, Store&& store) {
  if (k == 0) return fill_sums<C>(t, s, p);
  const CropTile tile(p, t.block_x);
  int64_t y = 0, x = 0;
  float v[C];
  if (pixel<C>(t, s, p, tile, y, x, v)) store(tile, y, x, v);
}

// A crop's value as its uint8 output stores it: rounded half to even (rintf, the CPU's nearbyint) and clamped.
FL_DEVICE uint32_t crop_byte(float v) {
  const float rounded = rintf(v);
  return rounded < 0.0f ? 0u : (rounded > 255.0f ? 255u : static_cast<uint32_t>(rounded));
}

}  // namespace
}  // namespace FL_KERNEL_NS
}  // namespace fastload
