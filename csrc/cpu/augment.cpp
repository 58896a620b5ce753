// fastload::augment on the CPU: threads take whole images, one at a time, and run each image's stages one after
// another between two planar scratch images of the thread (150 KB each at 224 x 224 x 3: in its L2), the first stage
// reading the input and the last writing the output: a colour stage is adjust_color's per-image pass
// (adjust_image.h), a warp warp_affine's (warp_image.h), quarter turns a copy through turn_source. The batch is read
// once and written once, however many stages, where a stage-by-stage pass over the batch reads and writes it each
// stage. The same per-image functions as adjust_color and warp_affine, so the same bits.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "cpu/adjust_image.h"
#include "cpu/warp_image.h"
#include "ops/augment.h"

namespace fastload {
namespace {

// An image's bytes: its first byte and its channel, row and column strides.
struct ImageView {
  const uint8_t* data;
  int64_t stride[3];
};

// Quarter turns of one image (C channels; 0 turns: a copy) from `src` into `dst` (dst's strides: c, h, w).
void turn_image(const AugmentParams& p, int turns, const ImageView& src, uint8_t* dst, const int64_t* ds) {
  for (int64_t ch = 0; ch < p.c; ++ch) {
    for (int64_t y = 0; y < p.h; ++y) {
      uint8_t* row = dst + ch * ds[0] + y * ds[1];
      for (int64_t x = 0; x < p.w; ++x) {
        int64_t sy, sx;
        turn_source(turns, y, x, p.h, p.w, sy, sx);
        row[x * ds[2]] = src.data[ch * src.stride[0] + sy * src.stride[1] + sx * src.stride[2]];
      }
    }
  }
}

// Scratch per thread: two planar images, adjust_color's and warp_affine's row buffers.
struct Scratch {
  explicit Scratch(const AugmentParams& p)
      : planes(new uint8_t[static_cast<size_t>(2 * p.c * p.h * p.w)]), color(p.w), warp(p.w) {}
  std::unique_ptr<uint8_t[]> planes;  // every byte written before it is read
  ColorScratch color;
  WarpRowBuffers warp;
};

// One stage of image n from `src` into `dst` (strides c, h, w).
void run_stage(const AugmentParams& p, int64_t k, int64_t n, const ImageView& src, uint8_t* dst, const int64_t* ds,
               Scratch& scratch) {
  const int64_t at = k * p.n + n;
  switch (p.kinds[at]) {
    case kAugmentColor: {
      AdjustColorParams c = p.color;
      c.in = src.data, c.out = dst;
      c.in_stride[0] = c.out_stride[0] = 0;  // the one image at in and out
      for (int d = 0; d < 3; ++d) c.in_stride[d + 1] = src.stride[d], c.out_stride[d + 1] = ds[d];
      return adjust_color_image(c, p.colors[at], 0, scratch.color);
    }
    case kAugmentWarp: {
      WarpAffineParams w = p.warp;
      w.in = src.data, w.out = dst;
      w.in_stride[0] = w.out_stride[0] = 0;
      for (int d = 0; d < 3; ++d) w.in_stride[d + 1] = src.stride[d], w.out_stride[d + 1] = ds[d];
      return warp_image(w, p.warps[at], 0, scratch.warp);
    }
    default:
      return turn_image(p, p.turns[at], src, dst, ds);
  }
}

void augment_image(const AugmentParams& p, int64_t n, Scratch& scratch) {
  ImageView src{p.in + n * p.in_stride[0], {p.in_stride[1], p.in_stride[2], p.in_stride[3]}};
  int64_t last = -1;  // the last stage that changes the image writes the output
  for (int64_t k = 0; k < p.stages; ++k) {
    if (p.kinds[k * p.n + n] != kAugmentIdentity) last = k;
  }
  const int64_t plane = p.h * p.w;
  const int64_t planar[3] = {plane, p.w, 1};
  uint8_t* out = p.out + n * p.out_stride[0];
  const int64_t* out_stride = p.out_stride + 1;
  if (last < 0) return turn_image(p, 0, src, out, out_stride);  // no stage changes it: a copy
  int next = 0;
  for (int64_t k = 0; k <= last; ++k) {
    if (p.kinds[k * p.n + n] == kAugmentIdentity) continue;
    uint8_t* dst = k == last ? out : scratch.planes.get() + next * p.c * plane;
    const int64_t* ds = k == last ? out_stride : planar;
    run_stage(p, k, n, src, dst, ds, scratch);
    src = ImageView{dst, {ds[0], ds[1], ds[2]}};
    next ^= 1;
  }
}

void run(const at::Tensor& /*images*/, AugmentCall& call) {
  AugmentParams& p = call.params;
  p.kinds = call.kinds.data(), p.turns = call.turns.data();
  p.colors = call.colors.data(), p.warps = call.warps.data();
  p.warp.base_x = call.base_x.data_ptr<float>();
  p.warp.base_y = call.base_y.data_ptr<float>();
  if (p.n * p.h * p.w == 0) return;
  std::atomic<int64_t> next{0};
  at::parallel_for(0, std::min<int64_t>(at::get_num_threads(), p.n), 1, [&](int64_t, int64_t) {
    Scratch scratch(p);
    for (int64_t n = next++; n < p.n; n = next++) augment_image(p, n, scratch);
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) { m.impl("augment", &augment_op<run>); }

}  // namespace fastload
