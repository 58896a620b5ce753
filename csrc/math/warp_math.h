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
  int32_t skip;  // augment: an image this launch leaves alone (its stage is not a warp)
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

// Nearest: the byte offset (rows `sh`, columns `sw` bytes apart) of the pixel at (nearbyint(sx), nearbyint(sy))
// (half to even, as grid_sample), or -1 outside the image of w x h pixels (a NaN or infinite position included).
// Index: int64_t, or int32_t where every byte offset of the image fits (the CPU's vector loops).
template <typename Index>
FL_HOST_DEVICE FL_INLINE Index warp_nearest(float sx, float sy, float w, float h, Index sh, Index sw) {
  const float rx = nearbyintf(sx), ry = nearbyintf(sy);
  const bool inside = rx >= 0.0f && rx < w && ry >= 0.0f && ry < h;
  return inside ? static_cast<Index>(ry) * sh + static_cast<Index>(rx) * sw : Index(-1);
}

// Channel `ch`'s fill value (0 without one).
FL_HOST_DEVICE FL_INLINE float warp_fill_value(const WarpAffineParams& p, int64_t ch) {
  return p.has_fill ? (ch == 0 ? p.fill[0] : (ch == 1 ? p.fill[1] : p.fill[2])) : 0.0f;
}

// Channel `ch` of a pixel from outside the image: the fill rounded half to even (torchvision's mask, then
// `.round_()`), or 0 without one.
FL_HOST_DEVICE FL_INLINE uint8_t warp_fill(const WarpAffineParams& p, int64_t ch) {
  return static_cast<uint8_t>(nearbyintf(warp_fill_value(p, ch)));
}

// One axis of grid_sample's bilinear taps at source position s over `size` pixels: the neighbours floor(s) and
// floor(s) + 1 with weights 1 - (s - floor(s)) and s - floor(s). A neighbour outside the image (zeros padding) gets
// weight 0, so it adds exactly nothing; both are clamped into the image (a NaN or infinite position included), so
// every read is valid.
struct WarpAxis {
  float lo, hi;    // the neighbours' pixel indices, clamped
  float wlo, whi;  // their weights, 0 outside
};

FL_HOST_DEVICE FL_INLINE float warp_clamp_index(float i, float size) {
  return i >= 0.0f ? (i <= size - 1.0f ? i : size - 1.0f) : 0.0f;  // NaN: 0
}

FL_HOST_DEVICE FL_INLINE WarpAxis warp_axis(float s, float size) {
  const float f = floorf(s), g = f + 1.0f, d = s - f;
  WarpAxis a;
  a.wlo = f >= 0.0f && f < size ? 1.0f - d : 0.0f;
  a.whi = g >= 0.0f && g < size ? d : 0.0f;
  a.lo = warp_clamp_index(f, size);
  a.hi = warp_clamp_index(g, size);
  return a;
}

// Bilinear: grid_sample's four neighbours nw, ne, sw, se of source position (sx, sy) in an image of w x h pixels, as
// byte offsets (rows `sh`, columns `sw` bytes apart), with their weights (y weight times x weight, as ATen's nw =
// (1 - dy) (1 - dx) ...; 0 outside) and `mask`, the weights summed in that order as torchvision's ones channel is.
// Index: int64_t, or int32_t where every byte offset of the image fits (the CPU's vector loops).
template <typename Index>
struct WarpTaps {
  Index offset[4];
  float weight[4];
  float mask;
};

template <typename Index>
FL_HOST_DEVICE FL_INLINE WarpTaps<Index> warp_bilinear(float sx, float sy, float w, float h, Index sh, Index sw) {
  const WarpAxis ax = warp_axis(sx, w), ay = warp_axis(sy, h);
  const Index top = static_cast<Index>(ay.lo) * sh, bottom = static_cast<Index>(ay.hi) * sh;
  const Index left = static_cast<Index>(ax.lo) * sw, right = static_cast<Index>(ax.hi) * sw;
  WarpTaps<Index> t;
  t.offset[0] = top + left, t.offset[1] = top + right, t.offset[2] = bottom + left, t.offset[3] = bottom + right;
  t.weight[0] = ay.wlo * ax.wlo, t.weight[1] = ay.wlo * ax.whi;
  t.weight[2] = ay.whi * ax.wlo, t.weight[3] = ay.whi * ax.whi;
  t.mask = t.weight[0] + t.weight[1] + t.weight[2] + t.weight[3];
  return t;
}

// The output value of channel `ch` from its four tap values and weights: summed nw, ne, sw, se with fused
// multiply-adds (ATen's nw*w + ne*w + sw*w + se*w, contracted), then with a fill the mask blend
// (v - fill) * mask + fill (three ops, as torchvision's sub_, mul_, add_); rounded half to even and converted as
// torchvision's `.round_().to(uint8)`.
FL_HOST_DEVICE FL_INLINE uint8_t warp_value(float v0, float v1, float v2, float v3, float w0, float w1, float w2,
                                            float w3, float mask, bool has_fill, float fill) {
  float value = v0 * w0;
  value = fmaf(v1, w1, value);
  value = fmaf(v2, w2, value);
  value = fmaf(v3, w3, value);
  if (has_fill) value = (value - fill) * mask + fill;
  const float r = nearbyintf(value);
  return static_cast<uint8_t>(r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r));
}

// Channel `ch` of the output pixel sampled at `t`; `read(offset)` reads that channel's source byte at a tap's offset.
template <typename Read>
FL_HOST_DEVICE FL_INLINE uint8_t warp_blend(const WarpAffineParams& p, const WarpTaps<int64_t>& t, int64_t ch,
                                            Read read) {
  return warp_value(static_cast<float>(read(t.offset[0])), static_cast<float>(read(t.offset[1])),
                    static_cast<float>(read(t.offset[2])), static_cast<float>(read(t.offset[3])), t.weight[0],
                    t.weight[1], t.weight[2], t.weight[3], t.mask, p.has_fill, warp_fill_value(p, ch));
}

}  // namespace fastload
