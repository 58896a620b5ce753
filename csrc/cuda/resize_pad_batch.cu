// fastload::resize_pad_batch CUDA kernel: one thread per output pixel of the whole batch, in output order
// (coalesced stores per channel plane, or C consecutive values for channels_last). Inside an image's resized extent
// the thread samples its source (OpenCV INTER_LINEAR / INTER_NEAREST coordinates, shared resize_math.h), swaps
// channels and normalizes; outside it writes the pad value. Torch-free (kernel.h only): nvcc builds it in seconds and
// the host compiler builds the same source for the CUDA emulation.
//
// Bytes moved: the batch once (N*C*Hp*Wp values) + the source pixels the taps touch (each source byte read about
// once when downscaling, a few times when upscaling, mostly from cache). Not yet shaped for bandwidth: the taps are
// recomputed per channel in double, the 80-byte descriptor is loaded per thread and each pixel costs two 64-bit
// divisions; the target is 60% of a same-bytes copy once rows and precomputed taps land (issue #12).
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/resize_pad_batch_launch.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// The normalized value of output channel k at destination (y, x) of image r (inside its resized extent).
FL_DEVICE float resize_sample(const ResizePadBatchParams& p, const ResizeDesc& r, int64_t y, int64_t x, int k) {
  const ImageDesc& s = r.src;
  const int64_t c_off = p.channel_map[k] * s.stride_c;
  if (p.interpolation == Interpolation::kNearest) {
    const uint8_t v = load(s.data + nearest_index(y, r.scale_y, s.h) * s.stride_h +
                           nearest_index(x, r.scale_x, s.w) * s.stride_w + c_off);
    return normalize_value(v, p.mean[k], p.inv_std[k]);
  }
  const LinearTap ty = linear_tap(y, r.scale_y, s.h);
  const LinearTap tx = linear_tap(x, r.scale_x, s.w);
  const uint8_t* row0 = s.data + ty.i0 * s.stride_h + c_off;
  const uint8_t* row1 = s.data + ty.i1 * s.stride_h + c_off;
  const float top = blend(load(row0 + tx.i0 * s.stride_w), load(row0 + tx.i1 * s.stride_w), tx.frac);
  const float bottom = blend(load(row1 + tx.i0 * s.stride_w), load(row1 + tx.i1 * s.stride_w), tx.frac);
  return normalize_float(blend(top, bottom, ty.frac), p.mean[k], p.inv_std[k]);
}

template <FloatDtype D>
struct ResizePad : SinglePhase {
  static constexpr const char* kName = "resize_pad";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const ResizePadBatchParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    const int64_t plane = p.out_h * p.out_w;
    S* const out = static_cast<S*>(p.out);
    for (int64_t i = t.first(); i < p.n * plane; i += t.step()) {
      const int64_t n = i / plane;
      const int64_t pixel = i - n * plane;
      const int64_t y = pixel / p.out_w, x = pixel - y * p.out_w;
      const ResizeDesc img = load(p.images + n);
      const bool inside = y < img.new_h && x < img.new_w;
#pragma unroll
      for (int k = 0; k < kMaxChannels; ++k) {
        if (k >= p.c) break;
        const float v = inside ? resize_sample(p, img, y, x, k) : p.pad_value[k];
        store(out + (p.channels_last ? i * p.c + k : (n * p.c + k) * plane + pixel), T::from_float(v));
      }
    }
  }
};

}  // namespace

void launch_resize_pad_batch(const ResizePadBatchParams& p, cudaStream_t stream) {
  const Grid grid{blocks_for(p.n * p.out_h * p.out_w), 1};
  if (grid.x == 0) return;
  dispatch_float_dtype(p.dtype, [&](auto d) { launch<ResizePad<decltype(d)::value>>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
