// fastload::resized_crop_color CUDA kernels: resized_crop_batch's tiles (crop_tiles.h: one block per image x band of
// 8 rows x tile of 32 columns, one output pixel a thread) with adjust_color's steps between the crop's rounding to
// bytes and the store. A contrast step needs the mean grey of the crop as it is before that step: when some image has
// one, a first launch crops the same tiles, runs each pixel's steps before it and sums the floored grey values (a
// tree in shared memory, one atomic per block); the second crops again and runs every step, normalizes and stores.
// Bytes moved: the batch once (float) + the source pixels the taps touch (twice with a contrast step, the second time
// mostly from L2) + the tables; no uint8 batch in between. Target: 60% of a same-bytes copy, as the crop; unmeasured
// (no GPU has run it). Torch-free (kernel.h only): the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/crop_tiles.h"
#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

constexpr int kLevels = 8;  // log2(kThreads)
static_assert(kThreads == 1 << kLevels, "the tree reduction assumes kThreads = 2^kLevels");

// Without autocontrast and equalize (refused by the op), no step reads a table.
struct NoLut {
  FL_DEVICE float operator()(int, float v) const { return v; }
};

// A crop pixel's values as the uint8 crop holds them (rounded to bytes), in R, G, B (C = 1: r).
template <int C>
FL_DEVICE void crop_rgb(const CropColorParams& p, const float (&v)[C], float& r, float& g, float& b) {
  if constexpr (C == 1) {
    r = static_cast<float>(crop_byte(v[0])), g = b = 0.0f;
  } else {
    const float bytes[3] = {static_cast<float>(crop_byte(v[0])), static_cast<float>(crop_byte(v[1])),
                            static_cast<float>(crop_byte(v[2]))};
    r = channel(bytes, p.color.rgb[0]), g = channel(bytes, p.color.rgb[1]), b = channel(bytes, p.color.rgb[2]);
  }
}

// The first launch: each image's sum of floored grey values just before its contrast step, into color.grey_sums.
template <int C>
struct CropColorStats {
  static constexpr const char* kName = "crop_color_stats";
  struct Shared {
    CropShared<C> crop;
    unsigned long long sum[kThreads];
  };
  // 0: the horizontal sums; 1: each pixel's grey value; 2..kLevels + 1: tree levels; last: publish
  static constexpr int kPhases = kLevels + 3;
  static constexpr int kMinBlocks = kCropMinBlocks;

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const CropColorParams& p) {
    const CropTile tile(p, t.block_x);
    const ColorImage d = load(p.color.images + tile.n);
    if (d.stats_at < 0) return;  // uniform across the block: every phase returns alike
    if (k == 0) return fill_sums<C>(t, s.crop, p);
    if (k == 1) {
      int64_t y = 0, x = 0;
      float v[C];
      unsigned long long grey = 0;
      if (pixel<C>(t, s.crop, p, tile, y, x, v)) {
        float r, g, b;
        crop_rgb<C>(p, v, r, g, b);
        color_steps(d, 0, d.stats_at, C, 0.0f, NoLut{}, r, g, b);
        grey = contrast_grey(C, r, g, b);
      }
      s.sum[t.x] = grey;
    } else if (k <= kLevels + 1) {
      const int64_t half = kThreads >> (k - 1);
      if (t.x < half) s.sum[t.x] += s.sum[t.x + half];
    } else if (t.x == 0) {
      atomic_add(p.color.grey_sums + tile.n, s.sum[0]);
    }
  }
};

// The second: every step, then output channel k from the R, G or B value norm_from[k], normalized and stored.
template <FloatDtype D, int C, bool ChannelsLast>
struct CropColorTiles {
  static constexpr const char* kName = "crop_color_tiles";
  using Shared = CropShared<C>;
  static constexpr int kPhases = 2;
  static constexpr int kMinBlocks = kCropMinBlocks;

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const CropColorParams& p) {
    using T = FloatTraits<D>;
    using S = typename T::storage;
    crop_tile_phase<C>(k, t, s, p, [&](const CropTile& tile, int64_t y, int64_t x, const float (&crop)[C]) {
      float v[3];
      crop_rgb<C>(p, crop, v[0], v[1], v[2]);
      const ColorImage d = load(p.color.images + tile.n);
      const bool grey = d.stats_at >= 0 && color_step(d, d.stats_at) == kContrast;
      const float mean = grey ? contrast_mean(load(p.color.grey_sums + tile.n), p.out_h * p.out_w) : 0.0f;
      color_steps(d, 0, d.count, C, mean, NoLut{}, v[0], v[1], v[2]);
      const AdjustColorParams& c = p.color;
      S* const dst =
          static_cast<S*>(c.norm_out) + tile.n * c.norm_stride[0] + y * c.norm_stride[2] + x * c.norm_stride[3];
#pragma unroll
      for (int j = 0; j < C; ++j) {
        store(dst + j * c.norm_stride[1],
              T::from_float(normalize_float(channel(v, c.norm_from[j]), c.mean[j], c.inv_std[j])));
      }
    });
  }
};

}  // namespace

void launch_resized_crop_color(const CropColorParams& p, cudaStream_t stream) {
  if (p.n * p.out_h * p.out_w == 0) return;
  const int64_t tiles = (p.out_w + kTileCols - 1) / kTileCols, bands = (p.out_h + kBandRows - 1) / kBandRows;
  const Grid grid{p.n * bands * tiles, 1};  // one block per (image, band, tile), as resized_crop_batch
  if (p.color.stats) {                      // p.color.grey_sums: zeros
    p.c == 1 ? launch<CropColorStats<1>>(grid, stream, p) : launch<CropColorStats<3>>(grid, stream, p);
  }
  dispatch_float_dtype(p.dtype, [&](auto d) { launch_rows<CropColorTiles, decltype(d)::value>(grid, stream, p); });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
