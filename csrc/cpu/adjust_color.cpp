// fastload::adjust_color on the CPU: threads take images. A row at a time is read into fp32 planes (R, G, B or the
// one channel), each of the image's steps runs over the row as a plain loop of color_math.h's per-value functions
// (vectorized by the compiler for each ISA clone), and the row is stored as bytes. A contrast step needs the mean grey
// of the image as it is just before that step: a first pass runs the steps before it and sums the floored grey
// values. The image is read once (twice with contrast) and written once, in place or not.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <memory>

#include "cpu/isa.h"
#include "math/color_math.h"
#include "ops/adjust_color.h"

namespace fastload {
namespace {

// The per-row loops: FL_CPU_LOOP (isa.h), without which GCC keeps the clamps and truncations as branches.
#define FL_COLOR_LOOP FL_CPU_LOOP

// Interleaved 3-channel pixels (stride_w 3, stride_c 1: an NHWC batch permuted to NCHW) to and from planes, the
// channel loop unrolled so the compiler vectorizes the (de)interleaving.
FL_CPU_CLONES void load_interleaved(const uint8_t* __restrict src, float* __restrict p0, float* __restrict p1,
                                    float* __restrict p2, int64_t w) {
  for (int64_t x = 0; x < w; ++x) p0[x] = src[3 * x], p1[x] = src[3 * x + 1], p2[x] = src[3 * x + 2];
}

FL_CPU_CLONES void store_interleaved(uint8_t* __restrict dst, const float* __restrict p0, const float* __restrict p1,
                                     const float* __restrict p2, int64_t w) {
  for (int64_t x = 0; x < w; ++x) {
    dst[3 * x] = static_cast<uint8_t>(p0[x]);
    dst[3 * x + 1] = static_cast<uint8_t>(p1[x]);
    dst[3 * x + 2] = static_cast<uint8_t>(p2[x]);
  }
}

FL_CPU_CLONES void load_strided(const uint8_t* __restrict src, int64_t stride, float* __restrict dst, int64_t w) {
  if (stride == 1) {
    for (int64_t x = 0; x < w; ++x) dst[x] = src[x];
  } else {
    for (int64_t x = 0; x < w; ++x) dst[x] = src[x * stride];
  }
}

FL_CPU_CLONES void store_strided(uint8_t* __restrict dst, int64_t stride, const float* __restrict src, int64_t w) {
  if (stride == 1) {
    for (int64_t x = 0; x < w; ++x) dst[x] = static_cast<uint8_t>(src[x]);
  } else {
    for (int64_t x = 0; x < w; ++x) dst[x * stride] = static_cast<uint8_t>(src[x]);
  }
}

// Memory channel k's plane: planes are in R, G, B order (rgb[j] is the channel of plane j).
float* plane_of(const AdjustColorParams& p, float* planes, int64_t k, int64_t count) {
  for (int j = 0; j < 3; ++j) {
    if (p.rgb[j] == k) return planes + j * count;
  }
  return planes;
}

// Row y of image n into planes (count values each; C = 1 uses plane 0 only).
void load_row(const AdjustColorParams& p, int64_t n, int64_t y, float* planes, int64_t count) {
  const uint8_t* row = p.in + n * p.in_stride[0] + y * p.in_stride[2];
  if (p.c == 3 && p.in_stride[3] == 3 && p.in_stride[1] == 1) {
    return load_interleaved(row, plane_of(p, planes, 0, count), plane_of(p, planes, 1, count),
                            plane_of(p, planes, 2, count), p.w);
  }
  for (int64_t k = 0; k < p.c; ++k)
    load_strided(row + k * p.in_stride[1], p.in_stride[3], plane_of(p, planes, k, count), p.w);
}

void store_row(const AdjustColorParams& p, int64_t n, int64_t y, float* planes, int64_t count) {
  uint8_t* row = p.out + n * p.out_stride[0] + y * p.out_stride[2];
  if (p.c == 3 && p.out_stride[3] == 3 && p.out_stride[1] == 1) {
    return store_interleaved(row, plane_of(p, planes, 0, count), plane_of(p, planes, 1, count),
                             plane_of(p, planes, 2, count), p.w);
  }
  for (int64_t k = 0; k < p.c; ++k) {
    store_strided(row + k * p.out_stride[1], p.out_stride[3], plane_of(p, planes, k, count), p.w);
  }
}

// One step over a row of w pixels (planes r, g, b of w floats; C = 1: r only).
FL_COLOR_LOOP void step_row(const ColorImage& d, int k, int64_t c, float mean, float* __restrict r, float* __restrict g,
                            float* __restrict b, int64_t w) {
  switch (color_step(d, k)) {
    case kBrightness:
      for (int64_t x = 0; x < w; ++x) r[x] = brightness_value(r[x], d.brightness);
      if (c == 3) {
        for (int64_t x = 0; x < w; ++x) g[x] = brightness_value(g[x], d.brightness);
        for (int64_t x = 0; x < w; ++x) b[x] = brightness_value(b[x], d.brightness);
      }
      return;
    case kContrast:
      for (int64_t x = 0; x < w; ++x) r[x] = blend_value(r[x], mean, d.contrast, d.contrast_rest);
      if (c == 3) {
        for (int64_t x = 0; x < w; ++x) g[x] = blend_value(g[x], mean, d.contrast, d.contrast_rest);
        for (int64_t x = 0; x < w; ++x) b[x] = blend_value(b[x], mean, d.contrast, d.contrast_rest);
      }
      return;
    case kSaturation:
      if (c != 3) return;
      for (int64_t x = 0; x < w; ++x) {
        const float grey = trunc_nonnegative(grey_value(r[x], g[x], b[x]));  // floor of a value >= 0
        r[x] = blend_value(r[x], grey, d.saturation, d.saturation_rest);
        g[x] = blend_value(g[x], grey, d.saturation, d.saturation_rest);
        b[x] = blend_value(b[x], grey, d.saturation, d.saturation_rest);
      }
      return;
    case kHue:
      if (c != 3) return;
      for (int64_t x = 0; x < w; ++x) hue_pixel(r[x], g[x], b[x], d.hue);
      return;
    case kGrayscale:
      if (c != 3) return;
      for (int64_t x = 0; x < w; ++x) r[x] = g[x] = b[x] = trunc_nonnegative(grey_value(r[x], g[x], b[x]));
      return;
    case kSolarize:
      for (int64_t x = 0; x < w; ++x) r[x] = r[x] >= d.solarize ? 255.0f - r[x] : r[x];
      if (c == 3) {
        for (int64_t x = 0; x < w; ++x) g[x] = g[x] >= d.solarize ? 255.0f - g[x] : g[x];
        for (int64_t x = 0; x < w; ++x) b[x] = b[x] >= d.solarize ? 255.0f - b[x] : b[x];
      }
      return;
    default:
      return;
  }
}

FL_COLOR_LOOP unsigned long long grey_sum_row(int64_t c, const float* r, const float* g, const float* b, int64_t w) {
  unsigned long long sum = 0;
  for (int64_t x = 0; x < w; ++x) sum += contrast_grey(c, r[x], g[x], c == 3 ? b[x] : 0.0f);
  return sum;
}

void adjust_image(const AdjustColorParams& p, const ColorImage& d, int64_t n, float* planes) {
  if (d.count == 0 && p.out == p.in) return;  // nothing to do in place (an image a draw left alone)
  const int64_t w = p.w;
  float* r = planes;
  float* g = p.c == 3 ? planes + w : planes;
  float* b = p.c == 3 ? planes + 2 * w : planes;
  float mean = 0.0f;
  if (d.contrast_at >= 0) {
    unsigned long long sum = 0;
    for (int64_t y = 0; y < p.h; ++y) {
      load_row(p, n, y, planes, w);
      for (int k = 0; k < d.contrast_at; ++k) step_row(d, k, p.c, 0.0f, r, g, b, w);
      sum += grey_sum_row(p.c, r, g, b, w);
    }
    mean = contrast_mean(sum, p.h * w);
  }
  for (int64_t y = 0; y < p.h; ++y) {
    load_row(p, n, y, planes, w);
    for (int k = 0; k < d.count; ++k) step_row(d, k, p.c, mean, r, g, b, w);
    store_row(p, n, y, planes, w);
  }
}

void run(const at::Tensor& /*images*/, AdjustColorCall& call) {
  const AdjustColorParams& p = call.params;
  if (p.n * p.h * p.w == 0) return;
  const int64_t grain = std::max<int64_t>(1, 65536 / (p.h * p.w));
  at::parallel_for(0, p.n, grain, [&](int64_t begin, int64_t end) {
    const std::unique_ptr<float[]> planes(new float[static_cast<size_t>(3 * p.w)]);  // every value written first
    for (int64_t n = begin; n < end; ++n) adjust_image(p, call.images[n], n, planes.get());
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("adjust_color", &adjust_color_op<run>);
  m.impl("adjust_color_into", &adjust_color_into_op<run>);
}

}  // namespace fastload
