// fastload::adjust_color CUDA kernels. With a sharpness step, a first launch copies the batch into out, sharpening the
// images whose first step it is (never in place), and the rest works on out in place. With a statistics step (contrast,
// autocontrast, equalize), a first launch reduces each image as it is just before that step (channel_stats' pattern:
// one grid row per image, grid columns share its pixels; per-thread grey sums and a tree in shared memory, per-block
// value counts in shared memory; one atomic per block and sum, per counted bin), and a second turns the counts into one
// 256-entry table per plane; then a thread per group of 4 pixels of a row (kernel.h's row_grid over N x H rows) reads
// its pixels, runs every step of its image (color_math.h's functions) and stores them. Bytes moved: the batch read once
// (twice with statistics; with sharpness, once more, its neighbours from cache) and written once (twice with
// sharpness); in place, each pixel is read and written by one thread. adjust_color_normalize's last launch stores
// the values normalized into a float batch (its sharpness launch writes a uint8 scratch batch the caller gives). Loads
// and stores go through the strides byte by byte; target 50% of a same-bytes copy, unmeasured (no GPU has run it).
// Torch-free (kernel.h only): the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"
#include "cuda/stores.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

constexpr int kLevels = 8;  // log2(kThreads)
static_assert(kThreads == 1 << kLevels, "the tree reduction assumes kThreads = 2^kLevels");

// Pixel x of row y of image n, channel values in r, g, b (C = 1: r).
FL_DEVICE void load_pixel(const AdjustColorParams& p, int64_t n, int64_t y, int64_t x, float& r, float& g, float& b) {
  const uint8_t* px = p.in + n * p.in_stride[0] + y * p.in_stride[2] + x * p.in_stride[3];
  r = load(px + p.rgb[0] * p.in_stride[1]);
  g = p.c == 3 ? static_cast<float>(load(px + p.rgb[1] * p.in_stride[1])) : 0.0f;
  b = p.c == 3 ? static_cast<float>(load(px + p.rgb[2] * p.in_stride[1])) : 0.0f;
}

// Image n's autocontrast / equalize table: byte v of plane j maps to luts[(n * 3 + j) * 256 + v].
struct ImageLut {
  const uint8_t* luts;  // null without statistics (then no step reads it)
  int64_t n;
  FL_DEVICE float operator()(int j, float v) const { return load(luts + (n * 3 + j) * 256 + static_cast<int32_t>(v)); }
};

struct ColorStats {
  static constexpr const char* kName = "adjust_color_stats";
  struct Shared {
    unsigned long long sum[kThreads];
    unsigned counts[3 * 256];
  };
  // 0: clear the counts; 1: per-thread sums and counts; 2..kLevels + 1: tree levels; last: publish
  static constexpr int kPhases = kLevels + 3;
  static constexpr int kMinBlocks = 4;  // the hue step's registers

  static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const AdjustColorParams& p) {
    const int64_t n = t.block_y;  // one grid row per image (describe_adjust_color keeps N under 65536)
    const ColorImage d = load(p.images + n);
    if (d.stats_at < 0) return;  // uniform across the block: every phase returns alike
    const bool grey = color_step(d, d.stats_at) == kContrast;
    const int planes = p.c == 3 ? 3 : 1;
    if (k == 0) {
      for (int64_t v = t.x; v < 3 * 256; v += t.block_dim) s.counts[v] = 0;
    } else if (k == 1) {
      unsigned long long sum = 0;
      const int64_t first = t.first(), step = t.step();
      if (first < p.h * p.w) {
        // (y, x) advances by a precomputed step: two divisions per thread, none per pixel.
        int64_t y = first / p.w, x = first - y * p.w;
        const int64_t dy = step / p.w, dx = step - dy * p.w;
        while (y < p.h) {
          float r, g, b;
          load_pixel(p, n, y, x, r, g, b);
          color_steps(d, first_pointwise_step(d), d.stats_at, p.c, 0.0f, ImageLut{p.luts, n}, r, g, b);
          if (grey) {
            sum += contrast_grey(p.c, r, g, b);
          } else {
            shared_add(s.counts + static_cast<int32_t>(r), 1u);
            if (planes == 3) shared_add(s.counts + 256 + static_cast<int32_t>(g), 1u);
            if (planes == 3) shared_add(s.counts + 512 + static_cast<int32_t>(b), 1u);
          }
          x += dx;
          y += dy;
          if (x >= p.w) x -= p.w, ++y;
        }
      }
      s.sum[t.x] = sum;
    } else if (k <= kLevels + 1) {
      const int64_t half = kThreads >> (k - 1);
      if (grey && t.x < half) s.sum[t.x] += s.sum[t.x + half];
    } else if (grey) {
      if (t.x == 0) atomic_add(p.grey_sums + n, s.sum[0]);
    } else {
      for (int64_t v = t.x; v < planes * 256; v += t.block_dim) {
        if (s.counts[v] != 0) atomic_add(p.histograms + n * 3 * 256 + v, s.counts[v]);
      }
    }
  }
};

// Each image's autocontrast / equalize tables from its counts: a thread per plane walks its 256 counts.
struct ColorTables : SinglePhase {
  static constexpr const char* kName = "adjust_color_tables";
  static constexpr int kMinBlocks = 4;  // a thread per plane walks 256 counts: 32 registers spilled on sm_100

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AdjustColorParams& p) {
    const int64_t n = t.block_y, j = t.x;
    const ColorImage d = load(p.images + n);
    if (d.stats_at < 0 || j >= (p.c == 3 ? 3 : 1)) return;
    const int stat = color_step(d, d.stats_at);
    if (stat == kContrast) return;
    const unsigned long long* counts = p.histograms + (n * 3 + j) * 256;
    const auto count = [counts](int v) { return load(counts + v); };
    int lo, hi;
    count_range(count, lo, hi);
    uint8_t* lut = p.luts + (n * 3 + j) * 256;
    color_table(stat, p.h * p.w, lo, hi, count, [lut](int v, uint8_t value) { store(lut + v, value); });
  }
};

// Every image from the input into out (never in place), those whose first step is sharpness sharpened: a thread per
// group of 4 pixels, each from its 3 x 3 neighbourhood (the border copied). The later launches then work on out in
// place.
struct ColorSharpen : SinglePhase {
  static constexpr const char* kName = "adjust_color_sharpen";
  static constexpr int kMinBlocks = 4;  // nine neighbours' addresses (8: spilled)

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AdjustColorParams& p) {
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      const uint32_t ni = static_cast<uint32_t>(row) / static_cast<uint32_t>(p.h);
      const int64_t n = ni, y = static_cast<uint32_t>(row) - ni * static_cast<uint32_t>(p.h);
      const ColorImage d = load(p.images + n);
      if (d.count < 0) return;  // augment: an image this stage leaves to another launch
      const bool sharpened = first_pointwise_step(d) == 1;
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        const int64_t x = x0 + q;
        float r, g, b;
        load_pixel(p, n, y, x, r, g, b);
        if (sharpened && y > 0 && x > 0 && y < p.h - 1 && x < p.w - 1) {
          float sr = 4.0f * r, sg = 4.0f * g, sb = 4.0f * b;  // the centre's extra weight (5 in all)
          for (int64_t dy = -1; dy <= 1; ++dy) {
            for (int64_t dx = -1; dx <= 1; ++dx) {
              float nr, ng, nb;
              load_pixel(p, n, y + dy, x + dx, nr, ng, nb);
              sr += nr, sg += ng, sb += nb;  // integers under 2^24: exact in any order
            }
          }
          r = sharpen_value(r, sr, d.sharpness_rest);
          g = sharpen_value(g, sg, d.sharpness_rest), b = sharpen_value(b, sb, d.sharpness_rest);
        }
        uint8_t* px = p.out + n * p.out_stride[0] + y * p.out_stride[2] + x * p.out_stride[3];
        store(px + p.rgb[0] * p.out_stride[1], static_cast<uint8_t>(r));
        if (p.c == 3) {
          store(px + p.rgb[1] * p.out_stride[1], static_cast<uint8_t>(g));
          store(px + p.rgb[2] * p.out_stride[1], static_cast<uint8_t>(b));
        }
      }
    });
  }
};

// Row `row` of the N x H rows a row kernel walks: its image n, its y, the image's descriptor and its contrast step's
// mean grey (0 without one).
struct ImageRow {
  int64_t n, y;
  ColorImage d;
  float mean;
};

FL_DEVICE ImageRow image_row(const AdjustColorParams& p, int64_t row) {
  // 32-bit division (describe_adjust_color keeps N x H under 2^31): a 64-bit one is a call with a stack frame.
  const uint32_t ni = static_cast<uint32_t>(row) / static_cast<uint32_t>(p.h);
  const int64_t n = ni;
  const ColorImage d = load(p.images + n);
  const bool grey = d.stats_at >= 0 && color_step(d, d.stats_at) == kContrast;
  return {n, static_cast<uint32_t>(row) - ni * static_cast<uint32_t>(p.h), d,
          grey ? contrast_mean(load(p.grey_sums + n), p.h * p.w) : 0.0f};
}

// Pixel x of row i as the image's steps leave it, in r, g, b.
FL_DEVICE void adjusted_pixel(const AdjustColorParams& p, const ImageRow& i, int64_t x, float& r, float& g, float& b) {
  load_pixel(p, i.n, i.y, x, r, g, b);
  color_steps(i.d, first_pointwise_step(i.d), i.d.count, p.c, i.mean, ImageLut{p.luts, i.n}, r, g, b);
}

struct ColorRows : SinglePhase {
  static constexpr const char* kName = "adjust_color_rows";
  static constexpr int kMinBlocks = 4;  // the hue step's registers

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AdjustColorParams& p) {
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      const ImageRow i = image_row(p, row);
      // Nothing to do in place (an image a draw left alone), or (augment) an image another launch writes.
      if (i.d.count < 0 || (i.d.count == 0 && p.out == p.in)) return;
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        float r, g, b;
        adjusted_pixel(p, i, x0 + q, r, g, b);
        uint8_t* px = p.out + i.n * p.out_stride[0] + i.y * p.out_stride[2] + (x0 + q) * p.out_stride[3];
        store(px + p.rgb[0] * p.out_stride[1], static_cast<uint8_t>(r));
        if (p.c == 3) {
          store(px + p.rgb[1] * p.out_stride[1], static_cast<uint8_t>(g));
          store(px + p.rgb[2] * p.out_stride[1], static_cast<uint8_t>(b));
        }
      }
    });
  }
};

// ColorRows into a normalized float batch (adjust_color_normalize): output channel k of each pixel from its R, G or
// B value norm_from[k], stored a 4-pixel group at a time (stores.h). The pixel loop is not unrolled (one copy of the
// steps' code); each value goes to its lane of v through an unrolled select, which keeps v in registers.
template <FloatDtype D, int C, bool ChannelsLast>
struct ColorRowsNormalized : SinglePhase {
  static constexpr const char* kName = "adjust_color_normalize_rows";
  static constexpr int kMinBlocks = 4;  // the hue step's registers

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AdjustColorParams& p) {
    using S = typename FloatTraits<D>::storage;
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      const ImageRow i = image_row(p, row);
      float v[C][4] = {};
      for (int q = 0; q < count; ++q) {
        float r, g, b;
        adjusted_pixel(p, i, x0 + q, r, g, b);
#pragma unroll
        for (int k = 0; k < C; ++k) {
          const int j = p.norm_from[k];
          const float value = normalize_float(j == 0 ? r : (j == 1 ? g : b), p.mean[k], p.inv_std[k]);
#pragma unroll
          for (int lane = 0; lane < 4; ++lane) v[k][lane] = lane == q ? value : v[k][lane];
        }
      }
      S* dst = static_cast<S*>(p.norm_out) + i.n * p.norm_stride[0] + i.y * p.norm_stride[2] + x0 * p.norm_stride[3];
      store_group<D, C, ChannelsLast>(dst, p.norm_stride[1], v, count);
    });
  }
};

}  // namespace

void launch_adjust_color(const AdjustColorParams& p, cudaStream_t stream) {
  if (p.n == 0 || p.h * p.w == 0) return;
  if (p.sharpness) {  // out is apart from images (checked): sharpen into it, then work on it in place
    launch<ColorSharpen>(row_grid(p.n * p.h, p.w), stream, p);
    AdjustColorParams q = p;
    q.in = q.out;
    for (int d = 0; d < 4; ++d) q.in_stride[d] = q.out_stride[d];
    q.sharpness = false;
    return launch_adjust_color(q, stream);
  }
  if (p.stats) {  // p.grey_sums and p.histograms: zeros
    const int64_t per_image = 4096 / p.n > 1 ? 4096 / p.n : 1;
    const int64_t needed = blocks_for(p.h * p.w);
    launch<ColorStats>(Grid{needed < per_image ? needed : per_image, p.n}, stream, p);
    launch<ColorTables>(Grid{1, p.n, 32}, stream, p);
  }
  if (p.norm_out == nullptr) return launch<ColorRows>(row_grid(p.n * p.h, p.w), stream, p);
  dispatch_float_dtype(p.dtype, [&](auto d) {
    launch_rows<ColorRowsNormalized, decltype(d)::value>(row_grid(p.n * p.h, p.w), stream, p);
  });
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
