// fastload::pad_batch CUDA kernel: one thread per output pixel of the whole batch, in output order, so the stores
// of neighbouring threads are adjacent (planar: per channel plane; NHWC: C consecutive values). A thread reads its
// image's descriptor (cached, shared by the whole row) and its source pixel, or writes the pad values: every output
// element is written once, in one launch for the whole batch. Torch-free (cuda_runtime only) for fast builds.
#include <stdint.h>

#include "cuda/launch.h"
#include "cuda/pad_batch_launch.h"

namespace fastload {
namespace {

// Output pixel i of the batch (flat over n, y, x): which image, where in the plane, and its source pixel if inside.
struct PixelAt {
  int64_t n, pixel;
  bool inside;
  const uint8_t* src;
  int64_t stride_c;

  __device__ PixelAt(const PadBatchParams& p, int64_t i) {
    const int64_t plane = p.out_h * p.out_w;
    n = i / plane;
    pixel = i - n * plane;
    const int64_t y = pixel / p.out_w, x = pixel - y * p.out_w;
    const ImageDesc img = p.images[n];
    inside = y < img.h && x < img.w;
    src = img.data + y * img.stride_h + x * img.stride_w;  // dereferenced only when inside
    stride_c = img.stride_c;
  }
};

template <FloatDtype D>
__global__ void __launch_bounds__(kThreads) pad_normalized_kernel(PadBatchParams p) {
  using T = FloatTraits<D>;
  using S = typename T::storage;
  const int64_t plane = p.out_h * p.out_w;
  const int64_t total = p.n * plane;
  S* const out = static_cast<S*>(p.out);
  FL_GRID_STRIDE_LOOP(i, total) {
    const PixelAt at(p, i);
#pragma unroll
    for (int k = 0; k < kMaxChannels; ++k) {
      if (k >= p.c) break;
      const float v = at.inside ? normalize_value(at.src[p.channel_map[k] * at.stride_c], p.mean[k], p.inv_std[k])
                                : p.pad_value[k];
      out[p.channels_last ? i * p.c + k : (at.n * p.c + k) * plane + at.pixel] = T::from_float(v);
    }
  }
}

__global__ void __launch_bounds__(kThreads) pad_bytes_kernel(PadBatchParams p) {
  const int64_t total = p.n * p.out_h * p.out_w;
  uint8_t* const out = static_cast<uint8_t*>(p.out);
  FL_GRID_STRIDE_LOOP(i, total) {
    const PixelAt at(p, i);
    for (int k = 0; k < p.c; ++k) out[i * p.c + k] = at.inside ? at.src[p.channel_map[k] * at.stride_c] : p.pad_byte[k];
  }
}

}  // namespace

void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream) {
  const int64_t total = p.n * p.out_h * p.out_w;
  if (total == 0) return;
  const int64_t blocks = blocks_for(total);
  if (!p.normalize) {
    pad_bytes_kernel<<<blocks, kThreads, 0, stream>>>(p);
    return;
  }
  dispatch_float_dtype(p.dtype, [&](auto d) {
    pad_normalized_kernel<decltype(d)::value><<<blocks, kThreads, 0, stream>>>(p);
  });
}

}  // namespace fastload
