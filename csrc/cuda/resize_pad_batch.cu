// fastload::resize_pad_batch CUDA kernel: one thread per output pixel of the whole batch, in output order
// (coalesced stores per channel plane, or C consecutive values for channels_last). Inside an image's resized extent
// the thread samples its source (OpenCV INTER_LINEAR / INTER_NEAREST coordinates, shared resize_math.h), swaps
// channels and normalizes; outside it writes the pad value. Torch-free for fast builds.
#include <stdint.h>

#include "cuda/launch.h"
#include "cuda/resize_pad_batch_launch.h"

namespace fastload {
namespace {

template <FloatDtype D>
__global__ void __launch_bounds__(kThreads) resize_pad_kernel(ResizePadBatchParams p) {
  using T = FloatTraits<D>;
  using S = typename T::storage;
  const int64_t plane = p.out_h * p.out_w;
  const int64_t total = p.n * plane;
  S* const out = static_cast<S*>(p.out);
  FL_GRID_STRIDE_LOOP(i, total) {
    const int64_t n = i / plane;
    const int64_t pixel = i - n * plane;
    const int64_t y = pixel / p.out_w, x = pixel - y * p.out_w;
    const ResizeDesc img = p.images[n];
    const bool inside = y < img.new_h && x < img.new_w;
    for (int k = 0; k < p.c; ++k) {
      const float v = inside ? resize_sample(p, img, y, x, k) : p.pad_value[k];
      out[p.channels_last ? i * p.c + k : (n * p.c + k) * plane + pixel] = T::from_float(v);
    }
  }
}

}  // namespace

void launch_resize_pad_batch(const ResizePadBatchParams& p, cudaStream_t stream) {
  const int64_t total = p.n * p.out_h * p.out_w;
  if (total == 0) return;
  const int64_t blocks = blocks_for(total);
  dispatch_float_dtype(p.dtype, [&](auto d) {
    resize_pad_kernel<decltype(d)::value><<<blocks, kThreads, 0, stream>>>(p);
  });
}

}  // namespace fastload
