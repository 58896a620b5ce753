// adjust_color: torchvision v2's uint8 colour adjustments (adjust_brightness / contrast / saturation / hue,
// rgb_to_grayscale with 3 output channels, solarize, and RandAugment's adjust_sharpness, posterize, autocontrast,
// equalize, invert), per image in a per-image order, each step's result truncated
// to bytes as torchvision's `.to(uint8)` after `clamp_(0, 255)`. Every value is computed with torchvision's fp32
// operations in its order; where it adds with `alpha=` (the blends and the grey weights) ATen's CPU kernels fuse the
// multiply-add (nvcc's default contraction likely does on CUDA too), so these do too (fmaf: one rounding), and the
// reference computes those sums in float64.
// Shared by the CPU and CUDA kernels (and the emulation), so every backend gives the same bytes.
#pragma once
#include <math.h>
#include <stdint.h>

#include "math/float_convert.h"
#include "math/macros.h"

namespace fastload {

// Step codes, as fastload/functional/_color.py numbers them: ColorJitter's four (torchvision's fn_idx), then
// RandomGrayscale and RandomSolarize, then the rest of RandAugment's value operations.
enum ColorStep : int32_t {
  kBrightness = 0,
  kContrast = 1,
  kSaturation = 2,
  kHue = 3,
  kGrayscale = 4,
  kSolarize = 5,
  kSharpness = 6,  // only as an image's first step: it reads the 3 x 3 neighbourhood of the input
  kPosterize = 7,
  kAutocontrast = 8,
  kEqualize = 9,
  kInvert = 10,
  kSolarizeAdd = 11,  // timm's: values under 128 raised by the factor, capped at 255
};
constexpr int kColorSteps = 12;

// One image's adjustments: steps 0 .. count - 1 in order (each code at most once; step k in bits 4k .. 4k + 3 of
// `steps`: an array indexed at run time would put the descriptor in a CUDA thread's stack frame), with their factors.
// The blends' `rest` is torchvision's alpha = 1 - factor, computed in double from the caller's factor, then fp32.
// At most one step reduces over the image (contrast's mean grey, autocontrast's and equalize's per-channel
// histograms): `stats_at`, whose statistics are of the image as it is just before that step.
struct ColorImage {
  uint64_t steps;
  int32_t count;     // -1 (augment's stages): not this launch's image, left alone
  int32_t stats_at;  // index of the contrast / autocontrast / equalize step in steps, or -1
  float brightness, contrast, contrast_rest, saturation, saturation_rest, hue, solarize, sharpness_rest, solarize_add;
  uint32_t posterize_mask;  // the bits posterize keeps
};

struct AdjustColorParams {
  const ColorImage* images;  // n descriptors (host memory for the CPU, device memory for CUDA)
  const uint8_t* in;
  uint8_t* out;  // `in` itself when adjusting in place: each pixel is read before it is written, by one thread
  int64_t n, c, h, w;
  int64_t in_stride[4];  // n, c, h, w, in bytes (elements of uint8)
  int64_t out_stride[4];
  int rgb[3];                      // the channel index of R, G and B (3 channels), or {0, 0, 0} (1 channel)
  unsigned long long* grey_sums;   // CUDA: n sums of the floored grey values before each image's contrast step
  unsigned long long* histograms;  // CUDA: n x 3 x 256 counts of each plane's values before autocontrast / equalize
  uint8_t* luts;                   // CUDA: n x 3 x 256 tables autocontrast / equalize map each plane's values by
  bool stats;                      // some image has a stats step (CUDA: grey_sums and histograms hold zeros)
  bool sharpness;                  // some image has a sharpness step (never in place: it reads neighbours)
  // adjust_color_normalize: the adjusted bytes normalized into a float batch of `dtype` in place of `out` (null
  // then): output channel k is (value of R, G or B `norm_from[k]` (0, 1, 2: the rgb index) - mean[k]) * inv_std[k],
  // rounded once to dtype, at norm_stride (elements of n, c, h, w: contiguous or channels_last).
  void* norm_out;
  FloatDtype dtype;
  bool channels_last;
  int norm_from[3];
  float mean[3], inv_std[3];
  int64_t norm_stride[4];
};

// Step k of image d.
FL_HOST_DEVICE FL_INLINE int color_step(const ColorImage& d, int k) {
  return static_cast<int>((d.steps >> (4 * k)) & 15u);
}

// Steps after the image's sharpness step, if it has one (step 0): the loaders apply that one.
FL_HOST_DEVICE FL_INLINE int first_pointwise_step(const ColorImage& d) {
  return d.count > 0 && color_step(d, 0) == kSharpness ? 1 : 0;
}

// truncf / floorf of a value in [0, 2^31): a float -> int -> float conversion, which compilers vectorize (GCC turns
// truncf and floorf into libm calls per value under its default -ftrapping-math). Every byte value, grey value and
// h * 6 here is in that range.
FL_HOST_DEVICE FL_INLINE float trunc_nonnegative(float v) { return static_cast<float>(static_cast<int32_t>(v)); }

// x * ratio + other * rest with one rounding of the sum (ATen's add(alpha=) fma), clamped to [0, 255] and truncated
// to a byte's value: torchvision's _blend on uint8.
FL_HOST_DEVICE FL_INLINE float blend_value(float x, float other, float ratio, float rest) {
  const float v = fmaf(other, rest, x * ratio);
  return trunc_nonnegative(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
}

// torchvision's grey value r * 0.2989 + g * 0.587 + b * 0.114 (add_ with alpha: fused), in fp32, unrounded.
FL_HOST_DEVICE FL_INLINE float grey_value(float r, float g, float b) {
  return fmaf(b, 0.114f, fmaf(g, 0.587f, r * 0.2989f));
}

FL_HOST_DEVICE FL_INLINE float brightness_value(float x, float factor) {
  const float v = x * factor;  // factor >= 0: v >= 0
  return trunc_nonnegative(v > 255.0f ? 255.0f : v);
}

// adjust_sharpness of an interior pixel of byte value x whose 3 x 3 neighbourhood sums to `sum` with the centre
// counted 5 times: the smoothed value round(sum / 13) (torchvision's fp32 conv2d then round_: sum / 13 is never
// within fp32's error of a half, so the integer rounding gives the same), blended as x + rest * (smooth - x) (ATen's
// add(alpha=rest) fma), clamped and truncated.
FL_HOST_DEVICE FL_INLINE float sharpen_value(float x, float sum, float rest) {
  const float smooth = static_cast<float>((static_cast<int32_t>(sum) * 2 + 13) / 26);
  const float v = fmaf(smooth - x, rest, x);
  return trunc_nonnegative(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
}

// autocontrast of byte value v in a channel whose values span [lo, hi]: torchvision's (v - lo) / ((hi - lo) *
// (1 / 255)) in fp32, clamped and truncated; a flat channel is kept.
FL_HOST_DEVICE FL_INLINE float autocontrast_value(float v, float lo, float hi) {
  if (hi == lo) return v;
  const float scaled = (v - lo) / ((hi - lo) * (1.0f / 255.0f));
  return trunc_nonnegative(scaled < 0.0f ? 0.0f : (scaled > 255.0f ? 255.0f : scaled));
}

// equalize's value of byte v (torchvision's, PIL's): `below` pixels of the channel have values under v, `step` is
// (pixels - the count of the channel's largest value) / 255, floored; a channel with step 0 is kept.
FL_HOST_DEVICE FL_INLINE float equalize_value(int v, unsigned long long below, unsigned long long step) {
  if (step == 0 || v == 0) return static_cast<float>(step == 0 ? v : 0);
  const unsigned long long e = (below + step / 2) / step;
  return static_cast<float>(e > 255 ? 255 : e);
}

// The smallest (lo) and largest (hi) value present in a plane, from count(v), the plane's count of byte v.
template <typename Count>
FL_HOST_DEVICE FL_INLINE void count_range(const Count& count, int& lo, int& hi) {
  lo = 0, hi = 255;
  while (lo < 255 && count(lo) == 0) ++lo;
  while (hi > 0 && count(hi) == 0) --hi;
}

// The table autocontrast (`stat` kAutocontrast) or equalize maps a plane's byte values by, given to emit(v, byte):
// from the plane's range [lo, hi] and count(v), its count of byte v among its `pixels` values (equalize reads it;
// autocontrast only needs the range). Shared by the CPU and the CUDA kernels, so both build the same tables.
template <typename Count, typename Emit>
FL_HOST_DEVICE FL_INLINE void color_table(int stat, int64_t pixels, int lo, int hi, const Count& count,
                                          const Emit& emit) {
  const unsigned long long step =
      stat == kAutocontrast ? 0 : (static_cast<unsigned long long>(pixels) - count(hi)) / 255;
  unsigned long long below = 0;
  for (int v = 0; v < 256; ++v) {
    const float value = stat == kAutocontrast
                            ? autocontrast_value(static_cast<float>(v), static_cast<float>(lo), static_cast<float>(hi))
                            : equalize_value(v, below, step);
    emit(v, static_cast<uint8_t>(value));
    if (stat != kAutocontrast) below += count(v);
  }
}

// posterize: the byte's top bits (`mask`) kept.
FL_HOST_DEVICE FL_INLINE float posterize_value(float v, uint32_t mask) {
  return static_cast<float>(static_cast<uint32_t>(v) & mask);
}

// timm's solarize_add: a byte under 128 raised by `add` (an integer in [0, 255]), capped at 255.
FL_HOST_DEVICE FL_INLINE float solarize_add_value(float v, float add) {
  const float raised = v + add;
  return v < 128.0f ? (raised > 255.0f ? 255.0f : raised) : v;
}

// fmodf(v, 1) for v in [0.5, 2) (v - 1 is exact there), as selects that vectorize.
FL_HOST_DEVICE FL_INLINE float fmod_one(float v) { return v >= 1.0f ? v - 1.0f : v; }

// Python's remainder of v by 1 (ATen: fmod, then + 1 when the signs differ) for v in [-0.5, 1.5): a hue in [0, 1)
// plus a factor in [-0.5, 0.5]. Exact there, as fmod is; -0 stays -0, as in ATen.
FL_HOST_DEVICE FL_INLINE float remainder_one(float v) { return v < 0.0f ? v + 1.0f : fmod_one(v); }

FL_HOST_DEVICE FL_INLINE float unit_clamp(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

// adjust_hue on one pixel of byte values: to [0, 1] (x * (1/255)), RGB -> HSV as torchvision's _rgb_to_hsv (Pillow's
// algorithm), h shifted by `hue` modulo 1, HSV -> RGB as _hsv_to_rgb, back to bytes (x * 255.999, truncated).
FL_HOST_DEVICE FL_INLINE void hue_pixel(float& r, float& g, float& b, float hue) {
  const float scale = 1.0f / 255.0f;
  const float fr = r * scale, fg = g * scale, fb = b * scale;
  // Selects, not fmaxf/fminf (their NaN rules keep loops scalar; no value here is NaN). Bitwise & and | below too:
  // && and || are branches.
  const float max_gb = fg > fb ? fg : fb, min_gb = fg < fb ? fg : fb;
  const float maxc = fr > max_gb ? fr : max_gb, minc = fr < min_gb ? fr : min_gb;
  const bool eqc = maxc == minc;
  const float range = maxc - minc;
  const float s = range / (eqc ? 1.0f : maxc);
  const float divisor = eqc ? 1.0f : range;
  const float rc = (maxc - fr) / divisor, gc = (maxc - fg) / divisor, bc = (maxc - fb) / divisor;
  const bool max_is_r = maxc == fr, max_is_g = maxc == fg;
  // torchvision multiplies each candidate by its mask (0 or 1) and adds all three: the same sum, term by term.
  const float hg = ((rc + 2.0f) - bc) * ((max_is_g & !max_is_r) ? 1.0f : 0.0f);
  const float hr = (bc - gc) * (max_is_r ? 1.0f : 0.0f);
  const float hb = ((gc + 4.0f) - rc) * ((!max_is_r & !max_is_g) ? 1.0f : 0.0f);
  const float h = (hr + hg) + hb;  // in [-1, 5]: h / 6 + 1 in [0.83, 1.84]
  const float shifted = remainder_one(fmod_one(h * (1.0f / 6.0f) + 1.0f) + hue);
  const float v = maxc;
  const float h6 = shifted * 6.0f, i_float = trunc_nonnegative(h6), f = h6 - i_float;
  const int i = i_float == 6.0f ? 0 : static_cast<int>(i_float);  // torchvision's i % 6
  const float sxf = s * f, one_minus_s = 1.0f - s;
  const float q = unit_clamp((1.0f - sxf) * v);
  const float t = unit_clamp((sxf + one_minus_s) * v);
  const float p = unit_clamp(one_minus_s * v);
  // torchvision's table: r from (v, q, p, p, t, v), g from (t, v, v, q, p, p), b from (p, p, t, v, v, q) by i. As
  // sums of the candidates times 0/1 masks (exactly one is 1; all are in [0, 1], so the sum is that one exactly):
  // selects, which GCC merges back into a switch, keep the loop scalar.
  const float m0 = static_cast<float>(i == 0), m1 = static_cast<float>(i == 1), m2 = static_cast<float>(i == 2);
  const float m3 = static_cast<float>(i == 3), m4 = static_cast<float>(i == 4), m5 = static_cast<float>(i == 5);
  const float nr = ((v * (m0 + m5) + q * m1) + p * (m2 + m3)) + t * m4;
  const float ng = ((t * m0 + v * (m1 + m2)) + q * m3) + p * (m4 + m5);
  const float nb = ((p * (m0 + m1) + t * m2) + v * (m3 + m4)) + q * m5;
  const float up = 255.999f;  // torchvision's to_dtype(uint8, scale=True): x * (255 + 1 - 1e-3), truncated
  r = trunc_nonnegative(nr * up), g = trunc_nonnegative(ng * up), b = trunc_nonnegative(nb * up);
}

// Steps [from, to) of image d on one pixel (C = 3: r, g, b; C = 1: the value in r), `mean` the contrast step's
// grey mean, lut(plane, v) the autocontrast / equalize table's value of byte v in plane 0, 1 or 2 (R, G, B).
template <typename Lut>
FL_HOST_DEVICE FL_INLINE void color_steps(const ColorImage& d, int from, int to, int64_t c, float mean, const Lut& lut,
                                          float& r, float& g, float& b) {
  for (int k = from; k < to; ++k) {
    switch (color_step(d, k)) {
      case kBrightness:
        r = brightness_value(r, d.brightness);
        if (c == 3) g = brightness_value(g, d.brightness), b = brightness_value(b, d.brightness);
        break;
      case kContrast:
        r = blend_value(r, mean, d.contrast, d.contrast_rest);
        if (c == 3) {
          g = blend_value(g, mean, d.contrast, d.contrast_rest);
          b = blend_value(b, mean, d.contrast, d.contrast_rest);
        }
        break;
      case kSaturation:
        if (c == 3) {  // 1 channel: unchanged, as torchvision (Pillow) leaves it
          const float grey = trunc_nonnegative(grey_value(r, g, b));  // floor of a value >= 0
          r = blend_value(r, grey, d.saturation, d.saturation_rest);
          g = blend_value(g, grey, d.saturation, d.saturation_rest);
          b = blend_value(b, grey, d.saturation, d.saturation_rest);
        }
        break;
      case kHue:
        if (c == 3) hue_pixel(r, g, b, d.hue);
        break;
      case kGrayscale:
        if (c == 3) r = g = b = trunc_nonnegative(grey_value(r, g, b));  // rgb_to_grayscale(3).to(uint8)
        break;
      case kSolarize:
        r = r >= d.solarize ? 255.0f - r : r;
        if (c == 3) g = g >= d.solarize ? 255.0f - g : g, b = b >= d.solarize ? 255.0f - b : b;
        break;
      case kPosterize:
        r = posterize_value(r, d.posterize_mask);
        if (c == 3) g = posterize_value(g, d.posterize_mask), b = posterize_value(b, d.posterize_mask);
        break;
      case kAutocontrast:
      case kEqualize:
        r = lut(0, r);
        if (c == 3) g = lut(1, g), b = lut(2, b);
        break;
      case kInvert:
        r = 255.0f - r;
        if (c == 3) g = 255.0f - g, b = 255.0f - b;
        break;
      case kSolarizeAdd:
        r = solarize_add_value(r, d.solarize_add);
        if (c == 3) g = solarize_add_value(g, d.solarize_add), b = solarize_add_value(b, d.solarize_add);
        break;
      default:  // kSharpness: the loaders'
        break;
    }
  }
}

// The grey value a contrast step averages: floor of the weighted sum (3 channels), the value itself (1 channel).
FL_HOST_DEVICE FL_INLINE unsigned contrast_grey(int64_t c, float r, float g, float b) {
  return static_cast<unsigned>(c == 3 ? grey_value(r, g, b) : r);  // the conversion floors a value >= 0
}

// torch.mean of the floored grey image in fp32: the sum (exact here) over the pixel count, one fp32 division.
FL_HOST_DEVICE FL_INLINE float contrast_mean(unsigned long long sum, int64_t pixels) {
  return static_cast<float>(sum) / static_cast<float>(pixels);
}

}  // namespace fastload
