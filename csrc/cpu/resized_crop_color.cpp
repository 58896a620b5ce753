// fastload::resized_crop_color on the CPU: threads take whole images, one at a time. Each image is cropped to uint8
// (resized_crop_batch's rows, crop_rows.h) into planes of one crop that stay in the thread's cache (150 KB for
// 224 x 224 x 3), then adjust_color's per-image pass (adjust_image.h) reads it from there, runs the steps (a contrast
// step's mean grey is a reduction over that scratch) and normalizes into the batch. Against crop, then
// adjust_color_normalize: the same bytes and the same arithmetic, so the same bits, without the uint8 batch written
// to memory and read back.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "cpu/adjust_image.h"
#include "cpu/crop_rows.h"
#include "memory/output.h"
#include "ops/resized_crop_color.h"

namespace fastload {
namespace {

void run(ResizedCropColorCall& call, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  CropColorParams& p = call.params;
  p.images = call.images.data();
  p.color.images = call.colors.data();
  if (p.n * p.out_h * p.out_w == 0) return;
  std::atomic<int64_t> next{0};
  at::parallel_for(0, std::min<int64_t>(at::get_num_threads(), p.n), 1, [&](int64_t, int64_t) {
    const int64_t bytes = p.out_h * p.out_w * p.c;
    const std::unique_ptr<uint8_t[]> crop(new uint8_t[static_cast<size_t>(bytes)]);  // written before it is read
    ColorScratch scratch(p.out_w);
    AdjustColorParams color = p.color;
    color.in = crop.get();
    const int64_t planes[4] = {0, p.out_h * p.out_w, p.out_w, 1};  // every image's crop in the one scratch, planar
    for (int d = 0; d < 4; ++d) color.in_stride[d] = planes[d];
    for (int64_t n = next++; n < p.n; n = next++) {
      crop_image_rows(p, n, 0, p.out_h, crop.get());
      adjust_color_image(color, p.color.images[n], n, scratch);
    }
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(fastload, CPU, m) {
  m.impl("resized_crop_color", &resized_crop_color_op<run>);
  m.impl("resized_crop_color_into", &Into<kResizedCropColorInto, &resized_crop_color_op<run>>::run);
}

}  // namespace fastload
