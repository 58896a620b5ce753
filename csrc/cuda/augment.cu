// fastload::augment CUDA launches: stage after stage over the batch, between two scratch batches (the first stage
// reads the input, the last writes the output). A stage takes one launch sequence per kind its images hold:
// adjust_color's (its statistics, sharpness and row kernels) for the colour images, which also copies the images a
// stage leaves alone; warp_affine's for the warps; a quarter-turn kernel (a thread per group of 4 pixels of a row,
// each pixel's channels read through torch.rot90's index map). Each launch skips the images of the other kinds
// (colour descriptors of count -1, warps marked skip, the turns kernel reading the kinds), so each image is written
// once a stage. Bytes moved: the batch read and written once a stage (read twice with statistics). Target: 50% of a
// same-bytes copy per stage, as adjust_color's and warp_affine's kernels; unmeasured (no GPU has run it). Torch-free
// (kernel.h only): the host compiler builds the same source for the CUDA emulation.
#include <stdint.h>

#include "cuda/kernel.h"
#include "cuda/launches.h"

namespace fastload {
namespace FL_KERNEL_NS {
namespace {

struct TurnRows : SinglePhase {
  static constexpr const char* kName = "augment_turns";
  static constexpr int kMinBlocks = 4;  // at 32 registers (8 blocks): a 40-byte stack frame (the 64-bit strides)

  static FL_DEVICE void phase(int, const Thread& t, Shared&, const AugmentParams& p) {
    const AdjustColorParams& c = p.color;  // the stage's in, out and strides
    for_each_group(t, p.n * p.h, p.w, [&](int64_t row, int64_t x0, int count) {
      // 32-bit division (describe_augment keeps N x H under 2^31).
      const uint32_t ni = static_cast<uint32_t>(row) / static_cast<uint32_t>(p.h);
      const int64_t n = ni, y = static_cast<uint32_t>(row) - ni * static_cast<uint32_t>(p.h);
      if (load(p.kinds + p.stage * p.n + n) != kAugmentTurns) return;
      const int turns = load(p.turns + p.stage * p.n + n);
      for (int q = 0; q < 4; ++q) {
        if (q >= count) break;
        int64_t sy, sx;
        turn_source(turns, y, x0 + q, p.h, p.w, sy, sx);
        const uint8_t* src = c.in + n * c.in_stride[0] + sy * c.in_stride[2] + sx * c.in_stride[3];
        uint8_t* dst = c.out + n * c.out_stride[0] + y * c.out_stride[2] + (x0 + q) * c.out_stride[3];
        for (int64_t ch = 0; ch < p.c; ++ch) store(dst + ch * c.out_stride[1], load(src + ch * c.in_stride[1]));
      }
    });
  }
};

}  // namespace

void launch_augment(const AugmentParams& p, cudaStream_t stream) {
  if (p.n == 0 || p.h * p.w == 0 || p.stages == 0) return;
  const int64_t contiguous[4] = {p.c * p.h * p.w, p.h * p.w, p.w, 1};
  const uint8_t* src = p.in;
  const int64_t* src_stride = p.in_stride;
  for (int64_t k = 0; k < p.stages; ++k) {
    uint8_t* dst = k + 1 == p.stages ? p.out : p.scratch[k % 2];
    const int64_t* dst_stride = k + 1 == p.stages ? p.out_stride : contiguous;
    AugmentParams q = p;
    q.stage = k;
    AdjustColorParams& c = q.color;
    c.images = p.colors + k * p.n;
    c.in = src, c.out = dst;
    for (int d = 0; d < 4; ++d) c.in_stride[d] = src_stride[d], c.out_stride[d] = dst_stride[d];
    const uint8_t uses = p.stage_uses[k];
    if (uses & (kUsesColor | kUsesIdentity)) {
      c.stats = (uses & kUsesStats) != 0;
      c.sharpness = (uses & kUsesSharpness) != 0;
      if (c.stats) {  // this stage's zeroed sums and counts (p.sums is null when no stage has statistics)
        c.grey_sums = p.sums + k * p.n * (1 + 3 * 256);
        c.histograms = c.grey_sums + p.n;
      }
      launch_adjust_color(c, stream);
    }
    if (uses & kUsesWarp) {
      WarpAffineParams w = p.warp;
      w.images = p.warps + k * p.n;
      w.in = src, w.out = dst;
      for (int d = 0; d < 4; ++d) w.in_stride[d] = src_stride[d], w.out_stride[d] = dst_stride[d];
      launch_warp_affine(w, stream);
    }
    if (uses & kUsesTurns) launch<TurnRows>(row_grid(p.n * p.h, p.w), stream, q);
    src = dst, src_stride = dst_stride;
  }
}

}  // namespace FL_KERNEL_NS
}  // namespace fastload
