// Launch constants and helpers shared by every kernel source and its launchers. Torch-free and CUDA-free (the
// emulation build includes it too).
#pragma once
#include <stdint.h>

#include <algorithm>

namespace fastload {

// Threads per block of every kernel (also its __launch_bounds__), and the grid size past which kernels loop
// grid-stride instead of launching more blocks.
constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 20;

// Blocks of kThreads to cover `work` items, one per thread (grid-stride beyond kMaxBlocks); 0 for no work.
inline int64_t blocks_for(int64_t work) {
  return work <= 0 ? 0 : std::min<int64_t>((work + kThreads - 1) / kThreads, kMaxBlocks);
}

}  // namespace fastload
