// fastload::warp_affine on the CPU: threads take output rows (image, row); the row's source positions come from its
// image's grid coefficients (warp_math.h: torch's fp32 grid and grid_sample's unnormalize), then each pixel's taps
// are found once, in loops the compiler vectorizes, and every channel read through the strides (nearest: one byte;
// bilinear: four, weighted; with AVX2, 8 pixels at a time by warp_rows_avx2.h's gathers). 32 images of
// 224 x 224 rotated 20 degrees with a fill, one thread, AMD EPYC (before -> after): interleaved channels nearest
// 6-10 -> 2-3 ms, bilinear 28-29 -> 8-9 ms; planes nearest 7 -> 2 ms, bilinear 27.5 -> 14 ms.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "cpu/isa.h"
#include "cpu/warp_image.h"
#include "cpu/warp_rows_avx2.h"
#include "math/warp_math.h"
#include "ops/warp_affine.h"

namespace fastload {
namespace {

// The largest offset from channel `ch`'s first byte whose 4-byte word ends at or before the image's last byte (at
// most INT32_MAX: the 32-bit offsets never pass it).
int32_t word_limit(const WarpAffineParams& p, int64_t ch) {
  const int64_t last = (p.c - 1) * p.in_stride[1] + (p.h - 1) * p.in_stride[2] + (p.w - 1) * p.in_stride[3];
  return static_cast<int32_t>(std::min<int64_t>(last - ch * p.in_stride[1] - 3, INT32_MAX));
}

// warp_bilinear's taps of pixels 0 .. w - 1 at source positions (sx, sy), each array its own restrict parameter (GCC
// does not trust restrict on pointers loaded from a struct and would not vectorize the loop).
template <typename Index>
FL_CPU_LOOP void bilinear_tap_arrays(const float* __restrict sx, const float* __restrict sy, int64_t w, float fw,
                                     float fh, Index sh, Index sw, Index* __restrict o0, Index* __restrict o1,
                                     Index* __restrict o2, Index* __restrict o3, float* __restrict w0,
                                     float* __restrict w1, float* __restrict w2, float* __restrict w3,
                                     float* __restrict mask) {
  for (int64_t x = 0; x < w; ++x) {
    const WarpTaps<Index> t = warp_bilinear<Index>(sx[x], sy[x], fw, fh, sh, sw);
    o0[x] = t.offset[0], o1[x] = t.offset[1], o2[x] = t.offset[2], o3[x] = t.offset[3];
    w0[x] = t.weight[0], w1[x] = t.weight[1], w2[x] = t.weight[2], w3[x] = t.weight[3];
    mask[x] = t.mask;
  }
}

template <typename Index>
void bilinear_taps(const WarpAffineParams& p, const float* sx, const float* sy, const TapRow<Index>& t, int64_t count) {
  bilinear_tap_arrays<Index>(sx, sy, count, static_cast<float>(p.w), static_cast<float>(p.h),
                             static_cast<Index>(p.in_stride[2]), static_cast<Index>(p.in_stride[3]), t.offset[0],
                             t.offset[1], t.offset[2], t.offset[3], t.weight[0], t.weight[1], t.weight[2], t.weight[3],
                             t.mask);
}

// Pixels x0 .. x1 - 1 of one channel of a bilinear row, a byte at a time: `plane` is the channel's first source
// byte, `out` its first output byte, pixels `ow` bytes apart.
template <typename Index>
FL_CPU_LOOP void bilinear_channel(const uint8_t* __restrict plane, uint8_t* __restrict out, int64_t ow,
                                  const TapRow<Index>& t, bool has_fill, float fill, int64_t x0, int64_t x1) {
  const Index *o0 = t.offset[0], *o1 = t.offset[1], *o2 = t.offset[2], *o3 = t.offset[3];
  const float *w0 = t.weight[0], *w1 = t.weight[1], *w2 = t.weight[2], *w3 = t.weight[3];
  for (int64_t x = x0; x < x1; ++x) {
    out[x * ow] = warp_value(plane[o0[x]], plane[o1[x]], plane[o2[x]], plane[o3[x]], w0[x], w1[x], w2[x], w3[x],
                             t.mask[x], has_fill, fill);
  }
}

// A bilinear row from its taps: with 32-bit offsets and AVX2, 8 pixels at a time (3 interleaved channels together,
// else channel by channel), every other pixel a byte at a time.
template <typename Index>
void bilinear_row(const WarpAffineParams& p, const uint8_t* in, uint8_t* out, const TapRow<Index>& t, int64_t count) {
  const int64_t sc = p.in_stride[1], oc = p.out_stride[1], ow = p.out_stride[3];
  const auto bytes = [&](int64_t x0, int64_t x1) {
    for (int64_t ch = 0; ch < p.c; ++ch) {
      bilinear_channel<Index>(in + ch * sc, out + ch * oc, ow, t, p.has_fill, warp_fill_value(p, ch), x0, x1);
    }
  };
  int64_t done = 0;  // pixels the 8-pixel loops took
#if FL_HAVE_AVX2_ROWS
  if constexpr (std::is_same_v<Index, int32_t>) {
    if (p.c == 3 && sc == 1 && cpu_has_avx2_fma()) {  // interleaved: a pixel's 3 bytes in one word
      done = count / 8 * 8;
      const int32_t limit = word_limit(p, 0);
      for (int64_t x = 0; x < done; x += 8) {
        if (!warp_avx2::bilinear_rgb8(p, in, out, oc, ow, t, x, limit)) bytes(x, x + 8);
      }
    } else if (p.in_stride[3] <= 3 && cpu_has_avx2_fma()) {  // channel by channel: a tap pair in one word
      done = count / 8 * 8;
      for (int64_t ch = 0; ch < p.c; ++ch) {
        const int32_t limit = word_limit(p, ch);
        const float fill = warp_fill_value(p, ch);
        for (int64_t x = 0; x < done; x += 8) {
          if (!warp_avx2::bilinear_plane8(in + ch * sc, out + ch * oc, ow, t, x, limit, p.has_fill, fill)) {
            bilinear_channel<Index>(in + ch * sc, out + ch * oc, ow, t, p.has_fill, fill, x, x + 8);
          }
        }
      }
    }
  }
#endif
  bytes(done, count);
}

// The source byte offsets of pixels 0 .. w - 1 at positions (sx, sy) (warp_nearest's: -1 outside).
template <typename Index>
FL_CPU_LOOP void nearest_offset_array(const float* __restrict sx, const float* __restrict sy, int64_t w, float fw,
                                      float fh, Index sh, Index sw, Index* __restrict offsets) {
  for (int64_t x = 0; x < w; ++x) offsets[x] = warp_nearest<Index>(sx[x], sy[x], fw, fh, sh, sw);
}

template <typename Index>
void nearest_offsets(const WarpAffineParams& p, const float* sx, const float* sy, Index* offsets, int64_t count) {
  nearest_offset_array<Index>(sx, sy, count, static_cast<float>(p.w), static_cast<float>(p.h),
                              static_cast<Index>(p.in_stride[2]), static_cast<Index>(p.in_stride[3]), offsets);
}

// A nearest row from its offsets, a byte at a time, the C channels together: one pass over the offsets (32 planar
// images of 224 rotated, one thread: 2 ms, where a pass per channel took 5-6; AVX2 gathers of 8 interleaved pixels
// measured no faster).
template <int C, typename Index>
void nearest_pixels(const uint8_t* in, int64_t sc, uint8_t* out, int64_t oc, int64_t ow, const Index* offsets,
                    const uint8_t* fill, int64_t count) {
  for (int64_t x = 0; x < count; ++x) {
    const int64_t o = offsets[x];
    for (int ch = 0; ch < C; ++ch) out[x * ow + ch * oc] = o >= 0 ? in[o + ch * sc] : fill[ch];
  }
}

template <typename Index>
void nearest_row(const WarpAffineParams& p, const uint8_t* in, uint8_t* out, const Index* offsets, int64_t count) {
  const int64_t sc = p.in_stride[1], oc = p.out_stride[1], ow = p.out_stride[3];
  uint8_t fill[kWarpChannels];
  for (int64_t ch = 0; ch < p.c; ++ch) fill[ch] = warp_fill(p, ch);
  if (p.c == 3) return nearest_pixels<3, Index>(in, sc, out, oc, ow, offsets, fill, count);
  nearest_pixels<1, Index>(in, sc, out, oc, ow, offsets, fill, count);
}

// One output row: its source positions, then (nearest) their byte offsets or (bilinear) their four taps' offsets
// and weights, each in a loop the compiler vectorizes, then the channels read through the strides.
template <typename Index>
FL_CPU_LOOP void warp_row(const WarpAffineParams& p, const WarpImage& d, int64_t n, int64_t y, WarpRowBuffers& b) {
  const uint8_t* in = p.in + n * p.in_stride[0];
  uint8_t* out = p.out + n * p.out_stride[0] + y * p.out_stride[2];
  const float half_w = static_cast<float>(p.w) / 2, half_h = static_cast<float>(p.h) / 2;
  const float by = p.base_y[y];
  const int64_t count = p.w;
  float* sx = b.floats.data();
  float* sy = sx + count;
  for (int64_t x = 0; x < count; ++x) {
    sx[x] = warp_source(warp_grid(p.base_x[x], by, d.a0, d.a1, d.a2), half_w);
    sy[x] = warp_source(warp_grid(p.base_x[x], by, d.b0, d.b1, d.b2), half_h);
  }
  Index* offsets = reinterpret_cast<Index*>(b.indices.data());
  if (!p.bilinear) {
    nearest_offsets<Index>(p, sx, sy, offsets, count);
    return nearest_row<Index>(p, in, out, offsets, count);
  }
  float* weights = sy + count;
  const TapRow<Index> taps{{offsets, offsets + count, offsets + 2 * count, offsets + 3 * count},
                           {weights, weights + count, weights + 2 * count, weights + 3 * count},
                           weights + 4 * count};
  bilinear_taps<Index>(p, sx, sy, taps, count);
  bilinear_row<Index>(p, in, out, taps, count);
}

// Rows y0 .. y1 - 1 of image n: 32-bit tap offsets when the image's largest byte offset fits (strides are
// non-negative).
void warp_rows(const WarpAffineParams& p, const WarpImage& d, int64_t n, int64_t y0, int64_t y1, WarpRowBuffers& b) {
  const bool narrow = (p.h - 1) * p.in_stride[2] + (p.w - 1) * p.in_stride[3] <= INT32_MAX;
  for (int64_t y = y0; y < y1; ++y) narrow ? warp_row<int32_t>(p, d, n, y, b) : warp_row<int64_t>(p, d, n, y, b);
}

}  // namespace

WarpRowBuffers::WarpRowBuffers(int64_t w) : floats(static_cast<size_t>(7 * w)), indices(static_cast<size_t>(4 * w)) {}

void warp_image(const WarpAffineParams& p, const WarpImage& d, int64_t n, WarpRowBuffers& buffers) {
  warp_rows(p, d, n, 0, p.h, buffers);
}

namespace {

void run(const at::Tensor& /*images*/, WarpAffineCall& call) {
  WarpAffineParams& p = call.params;
  if (p.n * p.h * p.w == 0) return;
  p.images = call.images.data();
  p.base_x = call.base_x.data_ptr<float>();
  p.base_y = call.base_y.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 16384 / p.w);
  at::parallel_for(0, p.n * p.h, grain, [&](int64_t begin, int64_t end) {
    WarpRowBuffers buffers(p.w);         // every value written before it is read
    for (int64_t r = begin; r < end;) {  // the range's rows image by image
      const int64_t n = r / p.h, y = r % p.h, y1 = std::min(p.h, y + end - r);
      warp_rows(p, call.images[n], n, y, y1, buffers);
      r += y1 - y;
    }
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("warp_affine", &warp_affine_op<run>);
  m.impl("warp_affine_into", &warp_affine_into_op<run>);
}

}  // namespace fastload
