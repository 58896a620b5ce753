// fastload::resized_crop_batch CUDA kernel: one block per (image, band of 8 output rows, tile of 32 output columns),
// one output pixel a thread: 64 x 224² -> 12,544 blocks of 256, every thread busy (224 = 7 x 32 = 28 x 8). Phase 0
// sums each source row the band's vertical taps weight horizontally, once per (row, column, channel), into shared
// memory; phase 1 adds the weighted sums of each pixel's vertical taps (crop_math.h's order, fp32 without fma;
// zero-weight taps are skipped, and describe() checks that every weighted tap lies in the image), normalizes (or
// rounds to uint8) and stores. Byte loads per output pixel and channel: about kx x (ky / vertical scale) instead of
// kx x ky (the previous kernel re-summed a row for every vertical tap): for 300-pixel boxes -> 224 (ky, kx ~ 4),
// about a third. Bytes moved: the batch once + the source pixels the taps touch (each about once, from cache), plus
// the tap tables. Target: 60% of a same-bytes copy. Torch-free (kernel.h only): nvcc builds it in seconds and the
// host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/crop_tiles.h"
#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

template <FloatDtype D, int C, bool ChannelsLast>
struct CropNormalizedTiles {
  static constexpr const char* kName = "crop_normalized_tiles";
  using Shared = CropShared<C>;
  static constexpr int kPhases = 2;
  static constexpr int kMinBlocks = kCropMinBlocks;
  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const ResizedCropParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    crop_tile_phase<C>(k, t, s, p, [&](const CropTile& tile, int64_t y, int64_t x, const float (&v)[C]) {
      S* const out = static_cast<S*>(p.out);
      const int64_t plane = p.out_h * p.out_w;
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const S value = T::from_float(normalize_float(v[c], p.mean[c], p.inv_std[c]));
        store(ChannelsLast ? out + ((tile.n * p.out_h + y) * p.out_w + x) * C + c
                           : out + (tile.n * C + c) * plane + y * p.out_w + x,
              value);
      }
    });
  }
};

template <int C>
struct CropBytesTiles {
  static constexpr const char* kName = "crop_bytes_tiles";
  using Shared = CropShared<C>;
  static constexpr int kPhases = 2;
  static constexpr int kMinBlocks = kCropMinBlocks;
  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const ResizedCropParams& p) {
    crop_tile_phase<C>(k, t, s, p, [&](const CropTile& tile, int64_t y, int64_t x, const float (&v)[C]) {
      uint8_t* dst = static_cast<uint8_t*>(p.out) + ((tile.n * p.out_h + y) * p.out_w + x) * C;
#pragma unroll
      for (int c = 0; c < C; ++c) store(dst + c, static_cast<uint8_t>(crop_byte(v[c])));
    });
  }
};

}  // namespace

void launch_resized_crop_batch(const ResizedCropParams& p, cudaStream_t stream) {
  if (p.n * p.out_h * p.out_w == 0) return;
  const int64_t tiles = (p.out_w + kTileCols - 1) / kTileCols, bands = (p.out_h + kBandRows - 1) / kBandRows;
  const Grid grid{p.n * bands * tiles, 1};  // one block per (image, band, tile): 64 x 224² -> 12,544 blocks
  if (!p.normalize) {
    p.c == 1 ? launch<CropBytesTiles<1>>(grid, stream, p) : launch<CropBytesTiles<3>>(grid, stream, p);
    return;
  }
  dispatch_float_dtype(p.dtype, [&](auto d) { launch_rows<CropNormalizedTiles, decltype(d)::value>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
