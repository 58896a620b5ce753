// augment: each image of a uint8 batch through its own stages, one operation a stage: adjust_color's steps (the
// value operations; sharpness first), warp_affine's resampling (the geometric ones) or quarter turns (torch.rot90,
// torchvision's exact path for right angles). The stages' descriptors are stage-major (stage k of image i at
// k * n + i), so each stage's are the n consecutive descriptors a batch kernel reads. Torch-free.
#pragma once
#include <stdint.h>

#include "math/color_math.h"
#include "math/macros.h"
#include "math/warp_math.h"

namespace fastload {

enum AugmentKind : int32_t {
  kAugmentIdentity = 0,
  kAugmentColor = 1,  // colors[k * n + i]; a descriptor of count -1 elsewhere: adjust_color's kernels skip it
  kAugmentWarp = 2,   // warps[k * n + i]; skip set elsewhere
  kAugmentTurns = 3,  // turns[k * n + i] quarter turns counter-clockwise (1 and 3: square images only)
};

struct AugmentParams {
  const int32_t* kinds;       // stages x n AugmentKind
  const int32_t* turns;       // stages x n
  const ColorImage* colors;   // stages x n
  const WarpImage* warps;     // stages x n
  const uint8_t* stage_uses;  // stages kUses* flags in host memory: which launches a stage needs (CUDA)
  AdjustColorParams color;    // adjust_color's description of a stage (images, in, out and strides set per stage;
                              // CUDA: the turns kernel reads its in, out and strides)
  WarpAffineParams warp;      // warp_affine's likewise
  const uint8_t* in;
  uint8_t* out;
  int64_t n, c, h, w, stages;
  int64_t stage;         // CUDA: the stage a launch runs
  int64_t in_stride[4];  // n, c, h, w, in bytes
  int64_t out_stride[4];
  uint8_t* scratch[2];       // CUDA: contiguous (N, C, H, W) batches the stages before the last alternate between
  unsigned long long* sums;  // CUDA: per stage, n grey sums and n x 3 x 256 counts (zeros); null without statistics
};

constexpr uint8_t kUsesColor = 1, kUsesStats = 2, kUsesSharpness = 4, kUsesWarp = 8, kUsesTurns = 16;
constexpr uint8_t kUsesIdentity = 32;

// The source pixel (sy, sx) of output pixel (y, x) of torch.rot90(image, turns, dims=(-2, -1)) on an h x w image
// (turns 0 to 3; 0: the pixel itself).
FL_HOST_DEVICE FL_INLINE void turn_source(int turns, int64_t y, int64_t x, int64_t h, int64_t w, int64_t& sy,
                                          int64_t& sx) {
  sy = turns == 0 ? y : (turns == 1 ? x : (turns == 2 ? h - 1 - y : h - 1 - x));
  sx = turns == 0 ? x : (turns == 1 ? w - 1 - y : (turns == 2 ? w - 1 - x : y));
}

}  // namespace fastload
