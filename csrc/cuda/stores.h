// Vector stores of 4-pixel groups, shared by the kernels that write normalized float images (normalize, pad_batch).
// Include after cuda/kernel.h; torch-free.
#pragma once
#include <stdint.h>

#include "cuda/kernel.h"
#include "math/float_convert.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Four consecutive values, rounded once to D, in one 16-byte (fp32) or 8-byte (fp16/bf16) store.
template <FloatDtype D>
struct Vec4Store;
template <>
struct Vec4Store<FloatDtype::kFloat32> {
  static FL_DEVICE void run(float* dst, const float v[4]) {
    store(reinterpret_cast<float4*>(dst), make_float4(v[0], v[1], v[2], v[3]));
  }
};
template <FloatDtype D>
struct Vec4Store {
  static FL_DEVICE void run(uint16_t* dst, const float v[4]) {
    using T = FloatTraits<D>;
    const uint32_t lo = T::from_float(v[0]) | (static_cast<uint32_t>(T::from_float(v[1])) << 16);
    const uint32_t hi = T::from_float(v[2]) | (static_cast<uint32_t>(T::from_float(v[3])) << 16);
    store(reinterpret_cast<uint2*>(dst), make_uint2(lo, hi));
  }
};

// 4 pixels x C channels (v[k][j]: channel k of pixel j) of channels_last output are 4*C consecutive values from
// `dst`: C vector stores of 4.
template <FloatDtype D, int C>
FL_DEVICE void store_pixels_last(typename FloatTraits<D>::storage* dst, const float (&v)[C][4]) {
  float flat[4 * C];
#pragma unroll
  for (int j = 0; j < 4; ++j)
#pragma unroll
    for (int k = 0; k < C; ++k) flat[j * C + k] = v[k][j];
#pragma unroll
  for (int k = 0; k < C; ++k) Vec4Store<D>::run(dst + 4 * k, flat + 4 * k);
}

// The first `count` (1..4) pixels of a group at `dst`: channels_last (C values per pixel) or planar (channel k at
// dst + k * plane). Vector stores when all 4 are there and aligned, else scalar ones; the tail loop is unrolled with
// a guard because a runtime index into v would put it in local memory.
template <FloatDtype D, int C, bool ChannelsLast>
FL_DEVICE void store_group(typename FloatTraits<D>::storage* dst, int64_t plane, const float (&v)[C][4], int count) {
  using T = FloatTraits<D>;
  constexpr uintptr_t kVectorBytes = 4 * sizeof(typename T::storage);
  auto vectors = [&](const void* at) { return count == 4 && reinterpret_cast<uintptr_t>(at) % kVectorBytes == 0; };
  if constexpr (ChannelsLast) {
    if (vectors(dst)) {
      store_pixels_last<D, C>(dst, v);
      return;
    }
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int k = 0; k < C; ++k)
        if (j < count) store(dst + j * C + k, T::from_float(v[k][j]));
  } else {
#pragma unroll
    for (int k = 0; k < C; ++k) {
      auto* row = dst + k * plane;
      if (vectors(row)) {
        Vec4Store<D>::run(row, v[k]);
        continue;
      }
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (j < count) store(row + j, T::from_float(v[k][j]));
    }
  }
}

// Launches the row kernel K<D, C, ChannelsLast> that fits p.c (1 or 3) and p.channels_last.
template <template <FloatDtype, int, bool> class K, FloatDtype D, typename P>
void launch_rows(Grid grid, cudaStream_t stream, const P& p) {
  if (p.c == 1) {
    p.channels_last ? launch<K<D, 1, true>>(grid, stream, p) : launch<K<D, 1, false>>(grid, stream, p);
  } else {
    p.channels_last ? launch<K<D, 3, true>>(grid, stream, p) : launch<K<D, 3, false>>(grid, stream, p);
  }
}

// Launches a batch op's row kernels over (N * H) rows of W pixels: Bytes<C> for a uint8 batch (no p.normalize),
// else the Normalized<D, C, ChannelsLast> that fits p.dtype, p.c and p.channels_last.
template <template <FloatDtype, int, bool> class Normalized, template <int> class Bytes, typename P>
void launch_batch_rows(const P& p, cudaStream_t stream) {
  if (p.n * p.out_h * p.out_w == 0) return;
  const Grid grid = row_grid(p.n * p.out_h, p.out_w);
  if (!p.normalize) {
    p.c == 1 ? launch<Bytes<1>>(grid, stream, p) : launch<Bytes<3>>(grid, stream, p);
    return;
  }
  dispatch_float_dtype(p.dtype, [&](auto d) { launch_rows<Normalized, decltype(d)::value>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
