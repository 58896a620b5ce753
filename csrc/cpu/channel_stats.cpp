// fastload::channel_stats on the CPU: parallel over image rows, integer partial sums per task, combined under a
// lock (exact: no floating point anywhere).
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <mutex>

#include "ops/channel_stats.h"

namespace fastload {
namespace {

at::Tensor channel_stats_cpu(at::TensorList images, at::IntArrayRef flip_masks) {
  const ChannelStatsCall call = describe_channel_stats(images, flip_masks);
  const int64_t c = call.params.c;
  int64_t* totals = call.out.data_ptr<int64_t>();
  std::mutex lock;
  for (const ImageDesc& img : call.images) {
    at::parallel_for(0, img.h, 64, [&](int64_t begin, int64_t end) {
      uint64_t sum[3] = {0, 0, 0}, squares[3] = {0, 0, 0};
      for (int64_t y = begin; y < end; ++y) {
        const uint8_t* row = img.data + y * img.stride_h;
        for (int64_t x = 0; x < img.w; ++x) {
          for (int64_t k = 0; k < c; ++k) {
            const uint64_t v = row[x * img.stride_w + k * img.stride_c];
            sum[k] += v;
            squares[k] += v * v;
          }
        }
      }
      const std::lock_guard<std::mutex> guard(lock);
      for (int64_t k = 0; k < c; ++k) {
        totals[k] += static_cast<int64_t>(sum[k]);
        totals[c + k] += static_cast<int64_t>(squares[k]);
      }
    });
  }
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) { m.impl("channel_stats", &channel_stats_cpu); }

}  // namespace fastload
