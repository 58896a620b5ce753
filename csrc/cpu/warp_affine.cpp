// fastload::warp_affine on the CPU: threads take output rows (image, row); the row's source positions come from its
// image's grid coefficients (warp_math.h: torch's fp32 grid and grid_sample's unnormalize), then each pixel's taps
// are found once and every channel read through the strides (nearest: one byte; bilinear: four, weighted).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "cpu/isa.h"
#include "math/warp_math.h"
#include "ops/warp_affine.h"

namespace fastload {
namespace {

// One output row, in vectorizable loops over its pixels: the source positions, then (nearest) their byte offsets or
// (bilinear) their four taps' offsets and weights, then the channels read through the strides.
FL_CPU_LOOP void warp_row(const WarpAffineParams& p, const WarpImage& d, int64_t n, int64_t y, float* sx, float* sy,
                          int64_t* offsets, WarpTaps* taps) {
  const uint8_t* in = p.in + n * p.in_stride[0];
  uint8_t* out = p.out + n * p.out_stride[0] + y * p.out_stride[2];
  const float half_w = static_cast<float>(p.w) / 2, half_h = static_cast<float>(p.h) / 2;
  const float by = p.base_y[y];
  for (int64_t x = 0; x < p.w; ++x) {
    sx[x] = warp_source(warp_grid(p.base_x[x], by, d.a0, d.a1, d.a2), half_w);
    sy[x] = warp_source(warp_grid(p.base_x[x], by, d.b0, d.b1, d.b2), half_h);
  }
  const int64_t sh = p.in_stride[2], sw = p.in_stride[3], sc = p.in_stride[1];
  const int64_t oc = p.out_stride[1], ow = p.out_stride[3];
  if (!p.bilinear) {
    for (int64_t x = 0; x < p.w; ++x) offsets[x] = warp_nearest(p, sx[x], sy[x], sh, sw);
    uint8_t fill[kWarpChannels];
    for (int64_t ch = 0; ch < p.c; ++ch) fill[ch] = warp_fill(p, ch);
    for (int64_t x = 0; x < p.w; ++x) {
      const int64_t o = offsets[x];
      for (int64_t ch = 0; ch < p.c; ++ch) out[x * ow + ch * oc] = o >= 0 ? in[o + ch * sc] : fill[ch];
    }
    return;
  }
  for (int64_t x = 0; x < p.w; ++x) taps[x] = warp_bilinear(p, sx[x], sy[x], sh, sw);
  for (int64_t ch = 0; ch < p.c; ++ch) {
    const uint8_t* plane = in + ch * sc;
    for (int64_t x = 0; x < p.w; ++x) {
      out[x * ow + ch * oc] = warp_blend(p, taps[x], ch, [&](int64_t o) { return plane[o]; });
    }
  }
}

void run(const at::Tensor& /*images*/, WarpAffineCall& call) {
  WarpAffineParams& p = call.params;
  if (p.n * p.h * p.w == 0) return;
  p.images = call.images.data();
  p.base_x = call.base_x.data_ptr<float>();
  p.base_y = call.base_y.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 16384 / p.w);
  at::parallel_for(0, p.n * p.h, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> positions(static_cast<size_t>(2 * p.w));  // every value written first
    std::vector<int64_t> offsets(p.bilinear ? 0 : static_cast<size_t>(p.w));
    std::vector<WarpTaps> taps(p.bilinear ? static_cast<size_t>(p.w) : 0);
    for (int64_t r = begin; r < end; ++r) {
      warp_row(p, call.images[r / p.h], r / p.h, r % p.h, positions.data(), positions.data() + p.w, offsets.data(),
               taps.data());
    }
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("warp_affine", &warp_affine_op<run>);
  m.impl("warp_affine_into", &warp_affine_into_op<run>);
}

}  // namespace fastload
