// warp_affine: each uint8 image of a batch resampled through its own inverse affine matrix, as torchvision's
// `affine` / `rotate` on uint8 tensors do it (an fp32 sampling grid, grid_sample with zeros padding and
// align_corners=False, an optional fill through a mask, rounded). Shared by the CPU and CUDA kernels, which agree bit
// for bit (fp32 arithmetic, no fma: the builds use -ffp-contract=off and --fmad=false).
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
// align_corners=False, ((g + 1) * size - 1) / 2, as ATen's CPU kernel computes it: (g + 1) * (size / 2) - 0.5.
FL_HOST_DEVICE FL_INLINE float warp_source(float g, float half_size) { return (g + 1.0f) * half_size - 0.5f; }

// One grid coordinate, in the order of ATen's CPU bmm of (x, y, 1) with the rescaled theta.
FL_HOST_DEVICE FL_INLINE float warp_grid(float bx, float by, float k0, float k1, float k2) {
  return bx * k0 + by * k1 + k2;
}

// Value of channel `c` of output pixel at source position (sx, sy): `read(y, x, c)` reads a source byte. Nearest:
// the pixel at (nearbyint(sx), nearbyint(sy)) (half to even, as grid_sample), or outside the image the fill (0
// without one). Bilinear: grid_sample's four weights over the pixels inside, then with a fill the mask blend
// (v - fill) * mask + fill; rounded half to even and converted as torchvision's `.round_().to(uint8)`.
template <typename Read>
FL_HOST_DEVICE FL_INLINE uint8_t warp_value(const WarpAffineParams& p, float sx, float sy, int64_t ch, Read read) {
  const float fill = ch == 0 ? p.fill[0] : (ch == 1 ? p.fill[1] : p.fill[2]);
  if (!p.bilinear) {
    const float rx = nearbyintf(sx), ry = nearbyintf(sy);
    const bool inside = rx >= 0.0f && rx < static_cast<float>(p.w) && ry >= 0.0f && ry < static_cast<float>(p.h);
    if (!inside) return static_cast<uint8_t>(p.has_fill ? nearbyintf(fill) : 0.0f);
    return read(static_cast<int64_t>(ry), static_cast<int64_t>(rx), ch);
  }
  const float x0 = floorf(sx), y0 = floorf(sy);
  const float dx = sx - x0, dy = sy - y0;
  const float ex = 1.0f - dx, ey = 1.0f - dy;
  const float weights[4] = {ey * ex, ey * dx, dy * ex, dy * dx};  // nw, ne, sw, se
  const float xs[4] = {x0, x0 + 1.0f, x0, x0 + 1.0f}, ys[4] = {y0, y0, y0 + 1.0f, y0 + 1.0f};
  float value = 0.0f, mask = 0.0f;
  for (int k = 0; k < 4; ++k) {
    const bool inside = xs[k] >= 0.0f && xs[k] < static_cast<float>(p.w) && ys[k] >= 0.0f &&
                        ys[k] < static_cast<float>(p.h);
    const float v = inside ? static_cast<float>(read(static_cast<int64_t>(ys[k]), static_cast<int64_t>(xs[k]), ch))
                           : 0.0f;
    value = value + v * weights[k];
    mask = mask + (inside ? weights[k] : 0.0f);
  }
  if (p.has_fill) value = (value - fill) * mask + fill;
  const float r = nearbyintf(value);
  return static_cast<uint8_t>(r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r));
}

}  // namespace fastload
