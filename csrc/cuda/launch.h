// Launch constants and helpers shared by every .cu file. Torch-free (cuda_runtime only), like the kernels.
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

// A grid-stride loop: index `i` visits 0..total-1, thread by thread across the whole grid, in int64.
#define FL_GRID_STRIDE_LOOP(i, total)                                                           \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (total); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace fastload
