// The CPU adjust_color's per-image work (cpu/adjust_color.cpp), for the ops built on it.
#pragma once
#include <stdint.h>

#include <memory>

#include "math/color_math.h"

namespace fastload {

// Scratch for one thread's images of width w: 3 planes of a row, a 3-row window of input rows (sharpness), the
// counts and tables of 3 planes.
struct ColorScratch {
  explicit ColorScratch(int64_t w);
  std::unique_ptr<float[]> floats;  // every value written before it is read
  int32_t counts[3 * 4 * 256];      // count_row's (an image's pixels stay under 2^31 per set: H x W < 2^33)
  float range[6];
  uint8_t lut[3 * 256];
};

// Image n of `p` through its steps `d`: read from p.in (at n * in_stride[0]), written to p.out or normalized into
// p.norm_out; the image is read once (twice with a statistics step) and written once.
void adjust_color_image(const AdjustColorParams& p, const ColorImage& d, int64_t n, ColorScratch& scratch);

}  // namespace fastload
