// fastload::denormalize CUDA kernels. Torch-free (kernel.h only), so nvcc builds it in seconds and the host compiler
// builds the same source for the CUDA emulation.
//
// Fast path: planar input (each channel plane contiguous, H*W a multiple of 4, aligned) and 4 pixels per thread:
// one 16-byte (fp32) or 8-byte (fp16/bf16) load per channel, 4*C output bytes written as C 32-bit words.
// Everything else (channels_last, sliced, odd sizes): the row kernel, a thread per 4-pixel group of a row (kernel.h's
// row_grid: 64 x 224² -> 14,336 blocks of 64, 87.5% busy; 800 x 1333 -> 2,400 blocks of 128, 87%), word stores.
//
// Bytes moved: N*C*H*W in (4 or 2 bytes each) + N*H*W*C out (uint8): the reads dominate (80% / 67%). The vec4 path
// reads full vectors per plane, the row kernel C consecutive values per pixel (channels_last) or a strided plane;
// the target is 75% of a same-bytes device copy (unmeasured: no GPU has run these yet).
#include <stdint.h>

#include "cuda/launches.h"
#include "cuda/kernel.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

template <FloatDtype D>
FL_DEVICE void load4(const typename FloatTraits<D>::storage* src, float v[4]) {
  using T = FloatTraits<D>;
  if constexpr (D == FloatDtype::kFloat32) {
    const float4 q = load(reinterpret_cast<const float4*>(src));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    const uint2 q = load(reinterpret_cast<const uint2*>(src));
    v[0] = T::to_float(static_cast<uint16_t>(q.x & 0xffffu));
    v[1] = T::to_float(static_cast<uint16_t>(q.x >> 16));
    v[2] = T::to_float(static_cast<uint16_t>(q.y & 0xffffu));
    v[3] = T::to_float(static_cast<uint16_t>(q.y >> 16));
  }
}

template <FloatDtype D, int C>
struct DenormalizeVec4 : SinglePhase {
  static constexpr const char* kName = "denormalize_vec4";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const DenormalizeParams& p) {
    using S = typename FloatTraits<D>::storage;
    const int64_t plane = p.h * p.w;
    const S* in = static_cast<const S*>(p.in);
    for_each_quad(t, p.n, plane, [&](int64_t n, int64_t pixel) {
      uint8_t bytes[4 * C];
#pragma unroll
      for (int k = 0; k < C; ++k) {
        float v[4];
        load4<D>(in + n * p.in_stride_n + p.channel_map[k] * p.in_stride_c + pixel, v);
#pragma unroll
        for (int j = 0; j < 4; ++j) bytes[j * C + k] = denormalize_value(v[j], p.std[k], p.mean[k]);
      }
      uint32_t* dst = reinterpret_cast<uint32_t*>(p.out + (n * plane + pixel) * C);
#pragma unroll
      for (int q = 0; q < C; ++q) store(dst + q, pack_word(bytes + 4 * q));
    });
  }
};

// Any other strides (channels_last, crops, odd sizes): a thread per group of 4 output pixels of every row (kernel.h's
// row_grid), read through the strides (C consecutive values per pixel when channels_last, so a warp's
// reads stay within a few cache lines) and written as C 32-bit words where the 4 pixels are whole and aligned.
template <FloatDtype D, int C>
struct DenormalizeRows : SinglePhase {
  static constexpr const char* kName = "denormalize_rows";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const DenormalizeParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    const S* in = static_cast<const S*>(p.in);
    for_each_group(t, p.n * p.h, p.w, [&](int64_t r, int64_t x0, int count) {
      const int64_t n = r / p.h, y = r - n * p.h;
      const S* src = in + n * p.in_stride_n + y * p.in_stride_h + x0 * p.in_stride_w;
      uint8_t bytes[4 * C];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int k = 0; k < C; ++k) {
          const float v =
              j < count ? T::to_float(load(src + j * p.in_stride_w + p.channel_map[k] * p.in_stride_c)) : 0.0f;
          bytes[j * C + k] = denormalize_value(v, p.std[k], p.mean[k]);
        }
      }
      uint8_t* dst = p.out + (r * p.w + x0) * C;
      if (count == 4 && reinterpret_cast<uintptr_t>(dst) % 4 == 0) {
#pragma unroll
        for (int q = 0; q < C; ++q) store(reinterpret_cast<uint32_t*>(dst) + q, pack_word(bytes + 4 * q));
      } else {
#pragma unroll
        for (int i = 0; i < 4 * C; ++i)
          if (i < count * C) store(dst + i, bytes[i]);
      }
    });
  }
};

bool fast_path_applies(const DenormalizeParams& p, int64_t element_bytes) {
  const int64_t plane = p.h * p.w;
  const int64_t vector_bytes = 4 * element_bytes;
  return p.in_stride_w == 1 && p.in_stride_h == p.w && plane % 4 == 0 && p.in_stride_c % 4 == 0 &&
         (p.n == 1 || p.in_stride_n % 4 == 0) && reinterpret_cast<uintptr_t>(p.in) % vector_bytes == 0 &&
         reinterpret_cast<uintptr_t>(p.out) % 4 == 0;
}

}  // namespace

void launch_denormalize(const DenormalizeParams& p, cudaStream_t stream) {
  if (p.n * p.h * p.w == 0) return;
  dispatch_float_dtype(p.dtype, [&](auto d) {
    constexpr FloatDtype D = decltype(d)::value;
    if (!fast_path_applies(p, sizeof(typename FloatTraits<D>::storage))) {
      const Grid grid = row_grid(p.n * p.h, p.w);
      p.c == 1 ? launch<DenormalizeRows<D, 1>>(grid, stream, p) : launch<DenormalizeRows<D, 3>>(grid, stream, p);
    } else if (p.c == 1) {
      launch<DenormalizeVec4<D, 1>>(quad_grid(p.n, p.h * p.w), stream, p);
    } else {
      launch<DenormalizeVec4<D, 3>>(quad_grid(p.n, p.h * p.w), stream, p);
    }
  });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
