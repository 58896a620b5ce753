// fastload::adjust_color on the CPU: threads take images. A row at a time is read into fp32 planes (R, G, B or the
// one channel; with a sharpness step, the rows above and below too, and the row sharpened), each of the image's steps
// runs over the row as a plain loop of color_math.h's per-value functions (vectorized by the compiler for each ISA
// clone), and the row is stored as bytes. A contrast, autocontrast or equalize step needs statistics of the image as
// it is just before that step: a first pass runs the steps before it and sums the floored grey values (contrast) or
// counts each plane's values (a 256-entry table per plane is then built from the counts). The image is read once
// (twice with statistics) and written once, in place or not, or normalized into a float batch
// (adjust_color_normalize).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <memory>

#include "cpu/adjust_image.h"
#include "cpu/color_stats.h"
#include "cpu/isa.h"
#include "math/color_math.h"
#include "math/normalize_math.h"
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

// One output channel of a normalized row, its values `stride` elements apart (1: planar; C: channels_last pixels).
template <FloatDtype D>
FL_CPU_CLONES void normalized_values(typename FloatTraits<D>::storage* __restrict dst, int64_t stride,
                                     const float* __restrict v, float mean, float inv_std, int64_t w) {
  if (stride == 1) {
    for (int64_t x = 0; x < w; ++x) dst[x] = FloatTraits<D>::from_float(normalize_float(v[x], mean, inv_std));
  } else {
    for (int64_t x = 0; x < w; ++x) dst[x * stride] = FloatTraits<D>::from_float(normalize_float(v[x], mean, inv_std));
  }
}

void store_row(const AdjustColorParams& p, int64_t n, int64_t y, float* planes, int64_t count) {
  if (p.norm_out != nullptr) {  // adjust_color_normalize: the bytes' values, normalized
    return dispatch_float_dtype(p.dtype, [&](auto d) {
      constexpr FloatDtype D = decltype(d)::value;
      auto* row =
          static_cast<typename FloatTraits<D>::storage*>(p.norm_out) + n * p.norm_stride[0] + y * p.norm_stride[2];
      for (int64_t k = 0; k < p.c; ++k) {
        normalized_values<D>(row + k * p.norm_stride[1], p.norm_stride[3], planes + p.norm_from[k] * count, p.mean[k],
                             p.inv_std[k], p.w);
      }
    });
  }
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
FL_COLOR_LOOP void step_row(const ColorImage& d, int k, int64_t c, float mean, const uint8_t* lut, float* __restrict r,
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
    case kPosterize:
      for (float* plane : {r, g, b}) {
        for (int64_t x = 0; x < w; ++x) plane[x] = posterize_value(plane[x], d.posterize_mask);
        if (c != 3) break;
      }
      return;
    case kAutocontrast:
    case kEqualize:
      for (int j = 0; j < (c == 3 ? 3 : 1); ++j) {
        float* plane = j == 0 ? r : (j == 1 ? g : b);
        const uint8_t* table = lut + 256 * j;
        for (int64_t x = 0; x < w; ++x) plane[x] = table[static_cast<int32_t>(plane[x])];
      }
      return;
    case kInvert:
      for (float* plane : {r, g, b}) {
        for (int64_t x = 0; x < w; ++x) plane[x] = 255.0f - plane[x];
        if (c != 3) break;
      }
      return;
    case kSolarizeAdd:
      for (float* plane : {r, g, b}) {
        for (int64_t x = 0; x < w; ++x) plane[x] = solarize_add_value(plane[x], d.solarize_add);
        if (c != 3) break;
      }
      return;
    default:  // kSharpness: load_stage_row's
      return;
  }
}

// Row y of one plane sharpened (adjust_sharpness): up, mid, down are rows y - 1, y, y + 1; the first and last
// columns are kept.
FL_COLOR_LOOP void sharpen_row(const float* __restrict up, const float* __restrict mid, const float* __restrict down,
                               float* __restrict out, float rest, int64_t w) {
  out[0] = mid[0], out[w - 1] = mid[w - 1];
  for (int64_t x = 1; x < w - 1; ++x) {
    const float sum = ((up[x - 1] + up[x] + up[x + 1]) + (down[x - 1] + down[x] + down[x + 1])) +
                      ((mid[x - 1] + mid[x + 1]) + 5.0f * mid[x]);  // integers under 2^24: exact in any order
    out[x] = sharpen_value(mid[x], sum, rest);
  }
}

// Input rows held for a sharpness step: row r in slot r % 3 (3 planes of w floats each), each row read once a pass.
struct RowWindow {
  float* rows;
  int64_t next;  // the next row to read (rows are asked for in increasing order within a pass)
  float* slot(int64_t r, int64_t w) const { return rows + 3 * w * (r % 3); }
};

// Row y of image n as its first pointwise step sees it, into planes: the input row, or (a sharpness step first) the
// row sharpened from the input rows around it, which `window` holds. The first and last rows and columns are kept.
void load_stage_row(const AdjustColorParams& p, const ColorImage& d, int64_t n, int64_t y, float* planes,
                    RowWindow& window) {
  const int64_t w = p.w;
  if (first_pointwise_step(d) == 0 || w <= 2 || p.h <= 2) return load_row(p, n, y, planes, w);
  for (const int64_t last = std::min(y + 1, p.h - 1); window.next <= last; ++window.next) {
    load_row(p, n, window.next, window.slot(window.next, w), w);
  }
  const float* mid = window.slot(y, w);
  if (y == 0 || y == p.h - 1) {
    std::copy(mid, mid + (p.c == 3 ? 3 : 1) * w, planes);
    return;
  }
  const float *up = window.slot(y - 1, w), *down = window.slot(y + 1, w);
  for (int64_t j = 0; j < (p.c == 3 ? 3 : 1); ++j) {
    sharpen_row(up + j * w, mid + j * w, down + j * w, planes + j * w, d.sharpness_rest, w);
  }
}

FL_COLOR_LOOP unsigned long long grey_sum_row(int64_t c, const float* r, const float* g, const float* b, int64_t w) {
  unsigned long long sum = 0;
  for (int64_t x = 0; x < w; ++x) sum += contrast_grey(c, r[x], g[x], c == 3 ? b[x] : 0.0f);
  return sum;
}

}  // namespace

ColorScratch::ColorScratch(int64_t w) : floats(new float[static_cast<size_t>(12 * w)]) {}

void adjust_color_image(const AdjustColorParams& p, const ColorImage& d, int64_t n, ColorScratch& scratch) {
  // Nothing to do in place (an image a draw left alone), or (count -1) an image another op's launch writes: the
  // descriptors mean what they mean on CUDA.
  if (d.count < 0 || (d.count == 0 && p.out == p.in)) return;
  const int64_t w = p.w;
  float* planes = scratch.floats.get();
  RowWindow window{planes + 3 * w, 0};
  float* r = planes;
  float* g = p.c == 3 ? planes + w : planes;
  float* b = p.c == 3 ? planes + 2 * w : planes;
  const int first = first_pointwise_step(d);
  float mean = 0.0f;
  if (d.stats_at >= 0) {
    const int stat = color_step(d, d.stats_at);
    unsigned long long sum = 0;
    std::fill(scratch.counts, scratch.counts + 3 * 4 * 256, 0);
    for (int j = 0; j < 3; ++j) scratch.range[2 * j] = 255.0f, scratch.range[2 * j + 1] = 0.0f;
    for (int64_t y = 0; y < p.h; ++y) {
      load_stage_row(p, d, n, y, planes, window);  // window.next: 0 at the start of each pass
      for (int k = first; k < d.stats_at; ++k) step_row(d, k, p.c, 0.0f, scratch.lut, r, g, b, w);
      if (stat == kContrast) {
        sum += grey_sum_row(p.c, r, g, b, w);
      } else if (stat == kAutocontrast) {
        range_row(p.c, planes, w, scratch.range);
      } else {
        count_row(p.c, planes, w, scratch.counts);
      }
    }
    if (stat == kContrast) {
      mean = contrast_mean(sum, p.h * w);
    } else {
      build_tables(stat, p.c, scratch.counts, scratch.range, p.h * w, scratch.lut);
    }
  }
  window.next = 0;
  for (int64_t y = 0; y < p.h; ++y) {
    load_stage_row(p, d, n, y, planes, window);
    for (int k = first; k < d.count; ++k) step_row(d, k, p.c, mean, scratch.lut, r, g, b, w);
    store_row(p, n, y, planes, w);
  }
}

namespace {

void run(const at::Tensor& /*images*/, AdjustColorCall& call) {
  const AdjustColorParams& p = call.params;
  if (p.n * p.h * p.w == 0) return;
  const int64_t grain = std::max<int64_t>(1, 65536 / (p.h * p.w));
  at::parallel_for(0, p.n, grain, [&](int64_t begin, int64_t end) {
    const std::unique_ptr<ColorScratch> scratch(new ColorScratch(p.w));
    for (int64_t n = begin; n < end; ++n) adjust_color_image(p, call.images[n], n, *scratch);
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("adjust_color", &adjust_color_op<run>);
  m.impl("adjust_color_into", &adjust_color_into_op<run>);
  m.impl("adjust_color_normalize", &adjust_color_normalize_op<run>);
  m.impl("adjust_color_normalize_into", &Into<kAdjustColorNormalizeInto, &adjust_color_normalize_op<run>>::run);
}

}  // namespace fastload
