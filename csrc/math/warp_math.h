// warp_affine: each uint8 image of a batch resampled through its own inverse affine matrix, as torchvision's
// `affine` / `rotate` on uint8 tensors do it (an fp32 sampling grid, grid_sample with zeros padding and
// align_corners=False, an optional fill through a mask, rounded). Shared by the CPU and CUDA kernels, which agree bit
// for bit (fp32 arithmetic; fused multiply-adds exactly where ATen's AVX2 / AVX-512 grid_sample kernel has them,
// found by comparing: its unnormalize and its bilinear sum).
#pragma once
#include <math.h>
#include <stdint.h>

#include "math/macros.h"

namespace fastload {

constexpr int kWarpChannels = 3;

// One image's grid: output pixel (x, y) samples normalized position (gx, gy) = (bx[x] a0 + by[y] a1 + a2,
// bx[x] b0 + by[y] b1 + b2): torchvision's `_affine_grid` (its theta over (w / 2, h / 2), applied to torch's
// linspace coordinates).
struct WarpImage {
  float a0, a1, a2, b0, b1, b2;
};

struct WarpAffineParams {
  const WarpImage* images;  // n descriptors, in memory the kernel can read
  const float* base_x;      // w: torch.linspace((1 - w) / 2, (w - 1) / 2, w)
  const float* base_y;      // h: the same over h
  const uint8_t* in;
  uint8_t* out;
  int64_t n, c, h, w;
  int64_t in_stride[4];  // n, c, h, w, in bytes
  int64_t out_stride[4];
  float fill[kWarpChannels];
  bool has_fill;  // without: zeros padding and no mask (torchvision's fill=None)
  bool bilinear;
};

// The source position of a normalized grid value over `size` pixels: grid_sample's unnormalize with
// align_corners=False, ((g + 1) * size - 1) / 2, as ATen's vectorized CPU kernel computes it: fma(g + 1, size / 2,
// -0.5).
FL_HOST_DEVICE FL_INLINE float warp_source(float g, float half_size) { return fmaf(g + 1.0f, half_size, -0.5f); }

// One grid coordinate, in the order of ATen's CPU bmm of (x, y, 1) with the rescaled theta.
FL_HOST_DEVICE FL_INLINE float warp_grid(float bx, float by, float k0, float k1, float k2) {
  return bx * k0 + by * k1 + k2;
}

FL_HOST_DEVICE FL_INLINE bool warp_inside(const WarpAffineParams& p, float x, float y) {
  return x >= 0.0f && x < static_cast<float>(p.w) && y >= 0.0f && y < static_cast<float>(p.h);
}

// Nearest: the byte offset (rows `sh`, columns `sw` bytes apart) of the pixel at (nearbyint(sx), nearbyint(sy))
// (half to even, as grid_sample), or -1 outside the image (a NaN or infinite position included).
FL_HOST_DEVICE FL_INLINE int64_t warp_nearest(const WarpAffineParams& p, float sx, float sy, int64_t sh, int64_t sw) {
  const float rx = nearbyintf(sx), ry = nearbyintf(sy);
  return warp_inside(p, rx, ry) ? static_cast<int64_t>(ry) * sh + static_cast<int64_t>(rx) * sw : -1;
}

// Channel `ch` of a pixel from outside the image: the fill rounded half to even (torchvision's mask, then
// `.round_()`), or 0 without one.
FL_HOST_DEVICE FL_INLINE uint8_t warp_fill(const WarpAffineParams& p, int64_t ch) {
  const float fill = ch == 0 ? p.fill[0] : (ch == 1 ? p.fill[1] : p.fill[2]);
  return static_cast<uint8_t>(p.has_fill ? nearbyintf(fill) : 0.0f);
}

// Bilinear: grid_sample's four neighbours nw, ne, sw, se of source position (sx, sy) as byte offsets, with their
// weights; a neighbour outside the image (zeros padding) reads offset 0 with weight 0, so it adds exactly nothing and
// a NaN or infinite position (all four outside) gives 0. `mask` is the weights inside, summed as torchvision's ones
// channel is.
struct WarpTaps {
  int64_t offset[4];
  float weight[4];
  float mask;
};

FL_HOST_DEVICE FL_INLINE WarpTaps warp_bilinear(const WarpAffineParams& p, float sx, float sy, int64_t sh, int64_t sw) {
  WarpTaps t;
  const float x0 = floorf(sx), y0 = floorf(sy);
  const float dx = sx - x0, dy = sy - y0;
  const float ex = 1.0f - dx, ey = 1.0f - dy;
  const float weights[4] = {ey * ex, ey * dx, dy * ex, dy * dx};  // nw, ne, sw, se
  for (int k = 0; k < 4; ++k) {
    const float x = k & 1 ? x0 + 1.0f : x0, y = k & 2 ? y0 + 1.0f : y0;
    const bool inside = warp_inside(p, x, y);
    t.offset[k] = inside ? static_cast<int64_t>(y) * sh + static_cast<int64_t>(x) * sw : 0;
    t.weight[k] = inside ? weights[k] : 0.0f;
    t.mask = k == 0 ? t.weight[0] : t.mask + t.weight[k];
  }
  return t;
}

// Channel `ch` of the output pixel sampled at `t`; `read(offset)` reads that channel's source byte at a tap's
// offset. The four weighted values are summed nw, ne, sw, se with fused multiply-adds (ATen's nw*w + ne*w + sw*w +
// se*w, contracted), then with a fill the mask blend (v - fill) * mask + fill (three ops, as torchvision's sub_,
// mul_, add_); rounded half to even and converted as torchvision's `.round_().to(uint8)`.
template <typename Read>
FL_HOST_DEVICE FL_INLINE uint8_t warp_blend(const WarpAffineParams& p, const WarpTaps& t, int64_t ch, Read read) {
  float value = static_cast<float>(read(t.offset[0])) * t.weight[0];
  for (int k = 1; k < 4; ++k) value = fmaf(static_cast<float>(read(t.offset[k])), t.weight[k], value);
  if (p.has_fill) {
    const float fill = ch == 0 ? p.fill[0] : (ch == 1 ? p.fill[1] : p.fill[2]);
    value = (value - fill) * t.mask + fill;
  }
  const float r = nearbyintf(value);
  return static_cast<uint8_t>(r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r));
}

}  // namespace fastload
