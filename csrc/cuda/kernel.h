// The kernel portability layer: one kernel source compiles with nvcc (a real __global__ launch on a stream) and with
// the host compiler when FL_EMULATION is defined (blocks and threads run one after another on the CPU, block phases
// separated by a barrier run phase by phase, and every global access is checked against the launch's buffers).
//
// A kernel is a struct K with `kName`, `Shared` (its block-shared memory), `kPhases` (phases separated by
// __syncthreads), `kMinBlocks` and `static FL_DEVICE void phase(int k, const Thread& t, Shared& s, const Params& p)`;
// it reads and writes global memory only through load/store/atomic_add below (shared memory directly, or with
// shared_add where threads add to one place). Torch-free.
#pragma once
#include <stdint.h>
#include <string.h>

#include <type_traits>

#include "math/macros.h"

#include "cuda/stream.h"  // the backend switch: FL_KERNEL_NS, cudaStream_t and (emulation) the vector types

#if defined(FL_EMULATION)
#define FL_DEVICE inline
#else
#include <cuda_runtime.h>
#define FL_DEVICE __device__ __forceinline__
#endif

#include "cuda/launch.h"

namespace fastload {
namespace FL_KERNEL_NS {

// Where a thread is: its index in the block, its block's (x, y) in the grid, and the block and grid sizes.
struct Thread {
  int64_t x, block_x, block_y, block_dim, grid_x, grid_y;
  // First index and step of a grid-stride loop over x (all blocks of one grid row).
  FL_DEVICE int64_t first() const { return block_x * block_dim + x; }
  FL_DEVICE int64_t step() const { return grid_x * block_dim; }
};

// A launch: blocks across x and y, of `block` threads (kThreads unless a row kernel picks fewer; at most kThreads,
// the kernels' __launch_bounds__).
struct Grid {
  int64_t x, y;
  int64_t block = kThreads;
};

// Groups of 4 pixels in a `width`-pixel row.
constexpr int64_t groups_per_row(int64_t width) { return (width + 3) / 4; }

// Threads per block of a row kernel whose rows hold `groups` groups: of 64, 128 and 256, the one that launches the
// fewest threads per row (the larger on a tie). Blocks of 64 still fill an SM (H100/H200 keep 32 blocks resident,
// 2,048 threads), and a thread's pixels stay 4 * (block_x * block + x), which nvcc recomputes from special
// registers instead of keeping them live: a flattened rows x groups index (a division per thread) made the row
// kernels spill at their register caps.
inline int64_t row_block(int64_t groups) {
  int64_t best = kThreads, launched = (groups + kThreads - 1) / kThreads * kThreads;
  for (int64_t block : {int64_t{128}, int64_t{64}}) {
    const int64_t threads = (groups + block - 1) / block * block;
    if (threads < launched) best = block, launched = threads;
  }
  return best;
}

// The grid of a row kernel (4 pixels per thread) over `rows` rows of `width` pixels: row tiles of 4 * block pixels
// across x, rows across y, grid-stride past CUDA's 65535 limit on gridDim.y. A 64 x 224² batch: 56 groups a row,
// blocks of 64, 14,336 x 1 of them: 87.5% of the threads busy (blocks of 256 left 200 of each row's 256 idle: 22%).
// An 800 x 1333 image: 334 groups a row, blocks of 128 (3 a row): 87% busy (256: 65%). Rows of 1,024 pixels: 100%.
inline Grid row_grid(int64_t rows, int64_t width) {
  const int64_t groups = groups_per_row(width), block = row_block(groups);
  return Grid{(groups + block - 1) / block, rows < 65535 ? rows : 65535, block};
}

// The loop of a quad kernel (images whose H*W is a multiple of 4, read plane by plane): calls body(n, pixel) for
// each group of 4 pixels [pixel, pixel + 4) of image n this thread takes, grid-stride over `images` images.
template <typename Body>
FL_DEVICE void for_each_quad(const Thread& t, int64_t images, int64_t plane, Body&& body) {
  const int64_t quads_per_image = plane / 4;
  for (int64_t i = t.first(); i < images * quads_per_image; i += t.step()) {
    const int64_t n = i / quads_per_image;
    body(n, (i - n * quads_per_image) * 4);
  }
}

// Its grid: one thread per quad (grid-stride past kMaxBlocks blocks).
inline Grid quad_grid(int64_t images, int64_t plane) { return Grid{blocks_for(images * (plane / 4)), 1}; }

// The loop of a row kernel: calls body(r, x0, count) for every output row r (of `rows`, grid-stride over grid rows)
// in which this thread's group of 4 pixels [x0, x0 + count) lies inside the `width`-pixel row.
template <typename Body>
FL_DEVICE void for_each_group(const Thread& t, int64_t rows, int64_t width, Body&& body) {
  const int64_t x0 = 4 * t.first();
  if (x0 >= width) return;
  const int count = width - x0 < 4 ? static_cast<int>(width - x0) : 4;
  for (int64_t r = t.block_y; r < rows; r += t.grid_y) body(r, x0, count);
}

// a[k] for a per-channel parameter array with a runtime k, by selects: indexing a kernel parameter with a runtime
// value makes nvcc copy the parameter block to local memory (a stack frame) first.
template <typename T, int N>
FL_DEVICE T channel(const T (&a)[N], int64_t k) {
  static_assert(N == 3, "per-channel arrays hold kMaxChannels = 3 values");
  return k == 0 ? a[0] : (k == 1 ? a[1] : a[2]);
}

// Four bytes as one little-endian 32-bit word (for word stores of uint8 output).
FL_DEVICE uint32_t pack_word(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) | (static_cast<uint32_t>(b[2]) << 16) |
         (static_cast<uint32_t>(b[3]) << 24);
}

// A kernel with one phase and no shared memory. kMinBlocks (resident blocks of kThreads per SM, __launch_bounds__'
// second argument) caps the registers nvcc may use: 8 blocks leave 32 each, full occupancy on H100/H200. A kernel
// that would spill at that cap declares a smaller kMinBlocks and says why.
struct SinglePhase {
  struct Shared {};
  static constexpr int kPhases = 1;
  static constexpr int kMinBlocks = 8;
};

#if defined(FL_EMULATION)

template <typename T>
inline T load(const T* p) {
  check_access(p, sizeof(T), alignof(T), false);
  T v;
  memcpy(&v, p, sizeof(T));
  return v;
}

template <typename T>
inline void store(T* p, T v) {
  check_access(p, sizeof(T), alignof(T), true);
  memcpy(p, &v, sizeof(T));
}

inline void atomic_add(unsigned long long* p, unsigned long long v) {
  check_access(p, sizeof(v), alignof(unsigned long long), true);
  *p += v;  // blocks run one at a time
}

// An add to block-shared memory that the block's threads may make at once.
inline void shared_add(unsigned* p, unsigned v) { *p += v; }  // threads run one at a time

// Runs every block and thread of the grid on this CPU thread, phase by phase within a block, with the kernel's name
// and each thread's coordinates recorded for the access checks' messages and in the launch log.
template <typename K, typename P>
void launch(Grid grid, cudaStream_t /*stream*/, const P& p) {
  KernelScope scope(K::kName, grid.x, grid.y, grid.block);
  for (int64_t by = 0; by < grid.y; ++by) {
    for (int64_t bx = 0; bx < grid.x; ++bx) {
      typename K::Shared shared{};
      for (int k = 0; k < K::kPhases; ++k) {
        for (int64_t x = 0; x < grid.block; ++x) {
          const Thread t{x, bx, by, grid.block, grid.x, grid.y};
          scope.at(bx, by, x);
          K::phase(k, t, shared, p);
        }
      }
    }
  }
}

#else

// Read-only data through the non-coherent cache where CUDA has an __ldg for the type; structs (descriptors) plainly.
template <typename T>
__device__ __forceinline__ T load(const T* p) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, float4> || std::is_same_v<T, uint2>) {
    return __ldg(p);
  } else {
    return *p;
  }
}

template <typename T>
__device__ __forceinline__ void store(T* p, T v) {
  *p = v;
}

__device__ __forceinline__ void atomic_add(unsigned long long* p, unsigned long long v) { atomicAdd(p, v); }

__device__ __forceinline__ void shared_add(unsigned* p, unsigned v) { atomicAdd(p, v); }

template <typename K, typename P>
__global__ void __launch_bounds__(kThreads, K::kMinBlocks) kernel_entry(P p) {
  __shared__ typename K::Shared shared;
  const Thread t{threadIdx.x, blockIdx.x, blockIdx.y, blockDim.x, gridDim.x, gridDim.y};
#pragma unroll 1
  for (int k = 0; k < K::kPhases; ++k) {
    if (k > 0) __syncthreads();
    K::phase(k, t, shared, p);
  }
}

template <typename K, typename P>
void launch(Grid grid, cudaStream_t stream, const P& p) {
  static_assert(K::kName != nullptr, "every kernel has a name (the emulation's messages and launch log use it)");
  if (grid.x == 0 || grid.y == 0) return;
  // A header is formatted as C++, which would split CUDA's launch chevrons.
  // clang-format off
  kernel_entry<K, P><<<dim3(static_cast<unsigned>(grid.x), static_cast<unsigned>(grid.y)),
                       static_cast<unsigned>(grid.block), 0, stream>>>(p);
  // clang-format on
}

#endif

}  // namespace FL_KERNEL_NS
}  // namespace fastload
