// fastload::normalize CUDA kernels. Torch-free (kernel.h only), so nvcc builds it in seconds and the host compiler
// builds the same source for the CUDA emulation.
//
// Fast path: every image is a contiguous HWC block, H*W is a multiple of 4 and the input is 4-byte aligned. Each thread
// then converts 4 pixels: C aligned 32-bit loads, 4*C values, and 16-byte (fp32) or 8-byte (fp16/bf16) stores.
// Consecutive threads touch consecutive words, so loads and stores coalesce. Anything else (odd widths, transposed,
// sliced or flipped views) runs the row kernel: a thread per 4-pixel group of a row (kernel.h's row_grid: a 64 x 224²
// batch launches 14,336 blocks of 64, 87.5% of the threads busy; an 800 x 1333 image 2,400 blocks of 128, 87%),
// vector stores where aligned.
//
// Bytes moved: N*H*W*C in (uint8) + N*C*H*W out (4 or 2 bytes each), so the output is 80% (fp32) or 67% (fp16/bf16)
// of the traffic. Both kernels store full 16/8-byte vectors along rows and read the input in order, a copy's access
// pattern; the target is 80% of a same-bytes device copy (unmeasured: no GPU has run these yet).
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

template <FloatDtype D, int C, bool Swap, bool ChannelsLast>
struct NormalizeVec4 : SinglePhase {
  static constexpr const char* kName = "normalize_vec4";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const NormalizeParams& p) {
    using S = typename FloatTraits<D>::storage;
    const int64_t plane = p.h * p.w;
    S* const out = static_cast<S*>(p.out);
    for_each_quad(t, p.n, plane, [&](int64_t n, int64_t pixel) {
      const uint32_t* src = reinterpret_cast<const uint32_t*>(p.in + n * p.in_stride_n + pixel * C);
      uint32_t words[C];
#pragma unroll
      for (int k = 0; k < C; ++k) words[k] = load(src + k);
      // v[k][j]: output channel k of pixel j.
      float v[C][4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int k = 0; k < C; ++k) {
          const int in_channel = (C == 3 && Swap) ? 2 - k : k;
          const int byte = j * C + in_channel;
          const uint8_t x = static_cast<uint8_t>(words[byte / 4] >> (8 * (byte % 4)));
          v[k][j] = normalize_value(x, p.mean[k], p.inv_std[k]);
        }
      }
      if constexpr (ChannelsLast) {
        store_pixels_last<D, C>(out + (n * plane + pixel) * C, v);
      } else {
        S* dst = out + n * C * plane + pixel;
#pragma unroll
        for (int k = 0; k < C; ++k) Vec4Store<D>::run(dst + k * plane, v[k]);
      }
    });
  }
};

// Any strides (crops, flips, transposed views, odd widths): a thread per group of 4 output pixels of every row
// (kernel.h's row_grid), one division per row. Loads are bytes through the strides (the input is a quarter
// of the traffic or less); stores are vectors wherever the 4 outputs are in the row and aligned, else scalars.
template <FloatDtype D, int C, bool ChannelsLast>
struct NormalizeRows : SinglePhase {
  static constexpr const char* kName = "normalize_rows";
  static FL_DEVICE void phase(int, const Thread& t, Shared&, const NormalizeParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    const int64_t plane = p.h * p.w;
    S* const out = static_cast<S*>(p.out);
    for_each_group(t, p.n * p.h, p.w, [&](int64_t r, int64_t x0, int count) {
      const int64_t n = r / p.h, y = r - n * p.h;
      const uint8_t* src = p.in + n * p.in_stride_n + y * p.in_stride_h + x0 * p.in_stride_w;
      float v[C][4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
#pragma unroll
        for (int k = 0; k < C; ++k) {
          const uint8_t x = j < count ? load(src + j * p.in_stride_w + channel(p.channel_map, k) * p.in_stride_c) : 0;
          v[k][j] = normalize_value(x, p.mean[k], p.inv_std[k]);
        }
      }
      S* dst = ChannelsLast ? out + (r * p.w + x0) * C : out + n * C * plane + y * p.w + x0;
      store_group<D, C, ChannelsLast>(dst, plane, v, count);
    });
  }
};

bool fast_path_applies(const NormalizeParams& p) {
  const int64_t plane = p.h * p.w;
  return classify_channels(p.channel_map, p.c) != ChannelOrder::kOther && p.in_stride_c == 1 && p.in_stride_w == p.c &&
         p.in_stride_h == p.w * p.c && (p.n == 1 || p.in_stride_n % 4 == 0) && plane % 4 == 0 &&
         reinterpret_cast<uintptr_t>(p.in) % 4 == 0 && reinterpret_cast<uintptr_t>(p.out) % 16 == 0;
}

template <FloatDtype D, int C, bool Swap>
void launch_vec4(const NormalizeParams& p, cudaStream_t stream) {
  const Grid grid = quad_grid(p.n, p.h * p.w);
  if (p.channels_last)
    launch<NormalizeVec4<D, C, Swap, true>>(grid, stream, p);
  else
    launch<NormalizeVec4<D, C, Swap, false>>(grid, stream, p);
}

}  // namespace

void launch_normalize(const NormalizeParams& p, cudaStream_t stream) {
  if (p.n * p.h * p.w == 0) return;
  dispatch_float_dtype(p.dtype, [&](auto d) {
    constexpr FloatDtype D = decltype(d)::value;
    if (!fast_path_applies(p)) {
      launch_rows<NormalizeRows, D>(row_grid(p.n * p.h, p.w), stream, p);
    } else if (p.c == 1) {
      launch_vec4<D, 1, false>(p, stream);
    } else if (classify_channels(p.channel_map, p.c) == ChannelOrder::kSwap) {
      launch_vec4<D, 3, true>(p, stream);
    } else {
      launch_vec4<D, 3, false>(p, stream);
    }
  });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
