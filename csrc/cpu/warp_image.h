// The CPU warp_affine's per-image work (cpu/warp_affine.cpp), for the ops built on it.
#pragma once
#include <stdint.h>

#include <vector>

#include "math/warp_math.h"

namespace fastload {

// A thread's row buffers for images of width w: source positions, then the nearest offsets or the bilinear taps.
struct WarpRowBuffers {
  explicit WarpRowBuffers(int64_t w);
  std::vector<float> floats;     // sx, sy, 4 weights, mask
  std::vector<int64_t> indices;  // nearest offsets, or 4 tap offsets (int64_t or int32_t)
};

// Every row of image n of `p` (p.base_x and p.base_y set) warped by `d`: read from p.in, written to p.out.
void warp_image(const WarpAffineParams& p, const WarpImage& d, int64_t n, WarpRowBuffers& buffers);

}  // namespace fastload
