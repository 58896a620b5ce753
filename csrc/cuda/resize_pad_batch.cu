// fastload::resize_pad_batch CUDA kernel: a 2-D grid of (row tiles, output rows of the whole batch), as pad_batch
// (kernel.h's row_grid: 64 x 224² -> 14,336 blocks of 64 threads, 87.5% busy; 800 x 1333 -> 2,400 blocks of 128,
// 87%). Each thread takes 4 output pixels of one row: it reads its image's descriptor and computes the row's
// vertical tap once, then for each pixel inside the image's resized extent the horizontal tap once (shared by the
// channels), samples the source (OpenCV INTER_LINEAR / INTER_NEAREST coordinates, resize_math.h), swaps channels and
// normalizes; outside the extent it takes the pad value. The 4 pixels go out with the vector stores of stores.h.
// No division per pixel: one per row for the image index.
//
// Bytes moved: the batch once (N*C*Hp*Wp values, written with vector stores) + the source pixels the taps touch:
// each source byte is read about once when downscaling and a few times, from cache, when upscaling; the byte loads
// are gathers along the source row, which the L1/L2 absorb. Target: 60% of a same-bytes copy (the stores set the
// pace; the taps cost a few double operations per pixel, not per channel). Torch-free (kernel.h only): nvcc builds
// it in seconds and the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// Pixels x0 .. x0 + inside - 1 of destination row y of image r, bilinear: v[k][j] for output channel k of pixel j.
template <int C>
FL_DEVICE void sample_linear(const ResizePadBatchParams& p, const ResizeDesc& r, int64_t y, int64_t x0, int inside,
                             float (&v)[C][4]) {
  const ImageDesc& s = r.src;
  const LinearTap ty = linear_tap(y, r.scale_y, s.h);
  const uint8_t* row0 = s.data + ty.i0 * s.stride_h;
  const uint8_t* row1 = s.data + ty.i1 * s.stride_h;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (j >= inside) break;
    const LinearTap tx = linear_tap(x0 + j, r.scale_x, s.w);
    const int64_t a = tx.i0 * s.stride_w, b = tx.i1 * s.stride_w;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      const int64_t c = channel(p.channel_map, k) * s.stride_c;
      const float top = blend(load(row0 + a + c), load(row0 + b + c), tx.frac);
      const float bottom = blend(load(row1 + a + c), load(row1 + b + c), tx.frac);
      v[k][j] = normalize_float(blend(top, bottom, ty.frac), p.mean[k], p.inv_std[k]);
    }
  }
}

// The same for INTER_NEAREST.
template <int C>
FL_DEVICE void sample_nearest(const ResizePadBatchParams& p, const ResizeDesc& r, int64_t y, int64_t x0, int inside,
                              float (&v)[C][4]) {
  const ImageDesc& s = r.src;
  const uint8_t* row = s.data + nearest_index(y, r.scale_y, s.h) * s.stride_h;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (j >= inside) break;
    const uint8_t* px = row + nearest_index(x0 + j, r.scale_x, s.w) * s.stride_w;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      v[k][j] = normalize_value(load(px + channel(p.channel_map, k) * s.stride_c), p.mean[k], p.inv_std[k]);
    }
  }
}

template <FloatDtype D, int C, bool ChannelsLast>
struct ResizePadRows : SinglePhase {
  static constexpr const char* kName = "resize_pad_rows";
  // Left free, nvcc keeps all the gathers of a group in flight: 66-77 registers for 3 channels (3 blocks per SM).
  // Capped at 64 (4 blocks; 3 channels) and 48 (5 blocks; 1 channel); tighter caps spill to the stack.
  static constexpr int kMinBlocks = C == 1 ? 5 : 4;
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const ResizePadBatchParams& p) {
    using S = typename FloatTraits<D>::storage;
    const int64_t plane = p.out_h * p.out_w;
    S* const out = static_cast<S*>(p.out);
    for_each_group(t, p.n * p.out_h, p.out_w, [&](int64_t r, int64_t x0, int count) {
      const int64_t n = r / p.out_h, y = r - n * p.out_h;
      const ResizeDesc img = load(p.images + n);
      const int64_t valid = y < img.new_h ? img.new_w - x0 : 0;  // resized pixels from x0 on, in this row
      const int inside = valid <= 0 ? 0 : (valid < count ? static_cast<int>(valid) : count);
      float v[C][4];
      if (inside > 0) {
        if (p.interpolation == Interpolation::kNearest) {
          sample_nearest<C>(p, img, y, x0, inside, v);
        } else {
          sample_linear<C>(p, img, y, x0, inside, v);
        }
      }
#pragma unroll
      for (int j = 0; j < 4; ++j)
#pragma unroll
        for (int k = 0; k < C; ++k)
          if (j >= inside) v[k][j] = p.pad_value[k];
      S* dst = ChannelsLast ? out + (r * p.out_w + x0) * C : out + n * C * plane + y * p.out_w + x0;
      store_group<D, C, ChannelsLast>(dst, plane, v, count);
    });
  }
};

}  // namespace

void launch_resize_pad_batch(const ResizePadBatchParams& p, cudaStream_t stream) {
  if (p.n * p.out_h * p.out_w == 0) return;
  const Grid grid = row_grid(p.n * p.out_h, p.out_w);
  dispatch_float_dtype(p.dtype, [&](auto d) { launch_rows<ResizePadRows, decltype(d)::value>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
