// fastload::warp_affine on the CPU: threads take output rows (image, row); the row's source positions come from its
// image's grid coefficients (warp_math.h: torch's fp32 grid and grid_sample's unnormalize) in one vectorized loop,
// then each pixel's taps are found once and every channel read through the strides (nearest: one byte; bilinear:
// four, weighted).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "cpu/isa.h"
#include "math/warp_math.h"
#include "ops/warp_affine.h"

namespace fastload {
namespace {

// One output row. Source positions per pixel in a first loop (vectorized); nearest then turns them into byte
// offsets (-1: outside) in a second vectorized loop and copies the channels in a third; bilinear finds each pixel's
// taps and sums them per channel.
FL_CPU_LOOP void warp_row(const WarpAffineParams& p, const WarpImage& d, int64_t n, int64_t y, float* sx, float* sy,
                          int64_t* offsets) {
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
    const float w = static_cast<float>(p.w), h = static_cast<float>(p.h);
    for (int64_t x = 0; x < p.w; ++x) {
      const float rx = nearbyintf(sx[x]), ry = nearbyintf(sy[x]);
      const bool inside = rx >= 0.0f && rx < w && ry >= 0.0f && ry < h;
      offsets[x] = inside ? static_cast<int64_t>(ry) * sh + static_cast<int64_t>(rx) * sw : -1;
    }
    uint8_t fill[kWarpChannels];
    for (int64_t ch = 0; ch < p.c; ++ch) fill[ch] = static_cast<uint8_t>(p.has_fill ? nearbyintf(p.fill[ch]) : 0.0f);
    for (int64_t x = 0; x < p.w; ++x) {
      const int64_t o = offsets[x];
      for (int64_t ch = 0; ch < p.c; ++ch) out[x * ow + ch * oc] = o >= 0 ? in[o + ch * sc] : fill[ch];
    }
    return;
  }
  auto read = [&](int64_t ry, int64_t rx, int64_t ch) { return in[ry * sh + rx * sw + ch * sc]; };
  for (int64_t x = 0; x < p.w; ++x) {
    const WarpTaps t = warp_taps<true>(p, sx[x], sy[x]);
    for (int64_t ch = 0; ch < p.c; ++ch) out[x * ow + ch * oc] = warp_value<true>(p, t, ch, read);
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
    std::vector<int64_t> offsets(static_cast<size_t>(p.w));
    for (int64_t r = begin; r < end; ++r) {
      warp_row(p, call.images[r / p.h], r / p.h, r % p.h, positions.data(), positions.data() + p.w, offsets.data());
    }
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("warp_affine", &warp_affine_op<run>);
  m.impl("warp_affine_into", &warp_affine_into_op<run>);
}

}  // namespace fastload
