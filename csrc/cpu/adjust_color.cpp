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

// Row y of image n into planes (count values each; C = 1 uses plane 0 only).
void load_row(const AdjustColorParams& p, int64_t n, int64_t y, float* planes, int64_t count) {
  for (int64_t k = 0; k < p.c; ++k) {
    const uint8_t* src = p.in + n * p.in_stride[0] + p.rgb[k] * p.in_stride[1] + y * p.in_stride[2];
    float* dst = planes + k * count;
    for (int64_t x = 0; x < p.w; ++x) dst[x] = src[x * p.in_stride[3]];
  }
}

void store_row(const AdjustColorParams& p, int64_t n, int64_t y, const float* planes, int64_t count) {
  for (int64_t k = 0; k < p.c; ++k) {
    uint8_t* dst = p.out + n * p.out_stride[0] + p.rgb[k] * p.out_stride[1] + y * p.out_stride[2];
    const float* src = planes + k * count;
    for (int64_t x = 0; x < p.w; ++x) dst[x * p.out_stride[3]] = static_cast<uint8_t>(src[x]);
  }
}

// One step over a row of w pixels (planes r, g, b of w floats; C = 1: r only).
FL_CPU_CLONES void step_row(const ColorImage& d, int k, int64_t c, float mean, float* __restrict r,
                            float* __restrict g, float* __restrict b, int64_t w) {
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
        const float grey = floorf(grey_value(r[x], g[x], b[x]));
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
      for (int64_t x = 0; x < w; ++x) r[x] = g[x] = b[x] = truncf(grey_value(r[x], g[x], b[x]));
      return;
    case kSolarize:
      for (int64_t x = 0; x < w; ++x) r[x] = r[x] >= d.solarize ? 255.0f - r[x] : r[x];
      if (c == 3) {
        for (int64_t x = 0; x < w; ++x) g[x] = g[x] >= d.solarize ? 255.0f - g[x] : g[x];
        for (int64_t x = 0; x < w; ++x) b[x] = b[x] >= d.solarize ? 255.0f - b[x] : b[x];
      }
      return;
    default: return;
  }
}

FL_CPU_CLONES unsigned long long grey_sum_row(int64_t c, const float* r, const float* g, const float* b, int64_t w) {
  unsigned long long sum = 0;
  for (int64_t x = 0; x < w; ++x) sum += contrast_grey(c, r[x], g[x], c == 3 ? b[x] : 0.0f);
  return sum;
}

void adjust_image(const AdjustColorParams& p, const ColorImage& d, int64_t n, float* planes) {
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
