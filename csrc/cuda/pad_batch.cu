// fastload::pad_batch CUDA kernel: one thread per output pixel of the whole batch, in output order, so the stores
// of neighbouring threads are adjacent (planar: per channel plane; NHWC: C consecutive values). A thread reads its
// image's descriptor (cached, shared by the whole row) and its source pixel, or writes the pad values: every output
// element is written once, in one launch for the whole batch. Torch-free (kernel.h only): nvcc builds it in seconds
// and the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/pad_batch_launch.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

// Output pixel i of the batch (flat over n, y, x): which image, where in the plane, and its source pixel if inside.
struct PixelAt {
  int64_t n, pixel;
  bool inside;
  const uint8_t* src;
  int64_t stride_c;

  FL_DEVICE PixelAt(const PadBatchParams& p, int64_t i) {
    const int64_t plane = p.out_h * p.out_w;
    n = i / plane;
    pixel = i - n * plane;
    const int64_t y = pixel / p.out_w, x = pixel - y * p.out_w;
    const ImageDesc img = load(p.images + n);
    inside = y < img.h && x < img.w;
    src = img.data + y * img.stride_h + x * img.stride_w;  // dereferenced only when inside
    stride_c = img.stride_c;
  }
};

template <FloatDtype D>
struct PadNormalized : SinglePhase {
  static constexpr const char* kName = "pad_normalized";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const PadBatchParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    const int64_t plane = p.out_h * p.out_w;
    S* const out = static_cast<S*>(p.out);
    for (int64_t i = t.first(); i < p.n * plane; i += t.step()) {
      const PixelAt at(p, i);
#pragma unroll
      for (int k = 0; k < kMaxChannels; ++k) {
        if (k >= p.c) break;
        const float v = at.inside ? normalize_value(load(at.src + p.channel_map[k] * at.stride_c), p.mean[k],
                                                    p.inv_std[k])
                                  : p.pad_value[k];
        store(out + (p.channels_last ? i * p.c + k : (at.n * p.c + k) * plane + at.pixel), T::from_float(v));
      }
    }
  }
};

struct PadBytes : SinglePhase {
  static constexpr const char* kName = "pad_bytes";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const PadBatchParams& p) {
    uint8_t* const out = static_cast<uint8_t*>(p.out);
    for (int64_t i = t.first(); i < p.n * p.out_h * p.out_w; i += t.step()) {
      const PixelAt at(p, i);
#pragma unroll
      for (int k = 0; k < kMaxChannels; ++k) {
        if (k >= p.c) break;
        store(out + i * p.c + k, at.inside ? load(at.src + p.channel_map[k] * at.stride_c) : p.pad_byte[k]);
      }
    }
  }
};

}  // namespace

void launch_pad_batch(const PadBatchParams& p, cudaStream_t stream) {
  const Grid grid{blocks_for(p.n * p.out_h * p.out_w), 1};
  if (grid.x == 0) return;
  if (!p.normalize) {
    launch<PadBytes>(grid, stream, p);
    return;
  }
  dispatch_float_dtype(p.dtype, [&](auto d) { launch<PadNormalized<decltype(d)::value>>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
