// fastload::warp_affine CUDA kernel: a thread per group of 4 output pixels of a row (kernel.h's row_grid over
// N x H rows); each pixel's source position from its image's grid coefficients and torch's linspace coordinates
// (warp_math.h), each channel gathered through the strides byte by byte and stored. Bytes moved: the output written
// once, the input read where sampled (nearest: once a pixel; bilinear: four). Unmeasured (no GPU has run it).
// Torch-free (kernel.h only): the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// One kernel per interpolation (nearest's carries no weights). Both take up to 64 registers (4 resident blocks): at
// the 32 of 8 blocks they spilled to a stack frame (40 bytes nearest, 96 bilinear: the 64-bit strides and taps).
template <bool Bilinear>
struct WarpRows : SinglePhase {
  static constexpr const char* kName = Bilinear ? "warp_affine_bilinear" : "warp_affine_nearest";
  static constexpr int kMinBlocks = 4;

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const WarpAffineParams& p) {
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      // 32-bit division (describe_warp_affine keeps N x H under 2^31).
      const uint32_t ni = static_cast<uint32_t>(row) / static_cast<uint32_t>(p.h);
      const int64_t n = ni, y = static_cast<uint32_t>(row) - ni * static_cast<uint32_t>(p.h);
      const WarpImage d = load(p.images + n);
      if (d.skip) return;  // augment: an image this stage leaves to another launch
      const float half_w = static_cast<float>(p.w) / 2, half_h = static_cast<float>(p.h) / 2;
      const float by = load(p.base_y + y);
      const uint8_t* in = p.in + n * p.in_stride[0];
      const int64_t sh = p.in_stride[2], sw = p.in_stride[3], sc = p.in_stride[1];
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        const int64_t x = x0 + q;
        const float bx = load(p.base_x + x);
        const float sx = warp_source(warp_grid(bx, by, d.a0, d.a1, d.a2), half_w);
        const float sy = warp_source(warp_grid(bx, by, d.b0, d.b1, d.b2), half_h);
        uint8_t* px = p.out + n * p.out_stride[0] + y * p.out_stride[2] + x * p.out_stride[3];
        if (Bilinear) {
          const WarpTaps<int64_t> taps =
              warp_bilinear(sx, sy, static_cast<float>(p.w), static_cast<float>(p.h), sh, sw);
          for (int64_t ch = 0; ch < p.c; ++ch) {
            const uint8_t* plane = in + ch * sc;
            store(px + ch * p.out_stride[1], warp_blend(p, taps, ch, [&](int64_t o) { return load(plane + o); }));
          }
        } else {
          const int64_t o = warp_nearest(sx, sy, static_cast<float>(p.w), static_cast<float>(p.h), sh, sw);
          for (int64_t ch = 0; ch < p.c; ++ch) {
            store(px + ch * p.out_stride[1], o >= 0 ? load(in + o + ch * sc) : warp_fill(p, ch));
          }
        }
      }
    });
  }
};

}  // namespace

void launch_warp_affine(const WarpAffineParams& p, cudaStream_t stream) {
  if (p.n == 0 || p.h * p.w == 0) return;
  if (p.bilinear) {
    launch<WarpRows<true>>(row_grid(p.n * p.h, p.w), stream, p);
  } else {
    launch<WarpRows<false>>(row_grid(p.n * p.h, p.w), stream, p);
  }
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
