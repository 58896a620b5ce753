// fastload::resized_crop_color: the argument checks shared by its kernels.
#include "ops/resized_crop_color.h"

#include "ops/adjust_color.h"
#include "ops/resized_crop_batch.h"

namespace fastload {

ResizedCropColorCall describe_resized_crop_color(at::TensorList images, at::IntArrayRef flip_masks,
                                                 const at::Tensor& y_starts, const at::Tensor& y_weights,
                                                 const at::Tensor& x_starts, const at::Tensor& x_weights,
                                                 const at::Tensor& steps, const at::Tensor& factors,
                                                 at::IntArrayRef rgb, at::ArrayRef<double> mean,
                                                 at::ArrayRef<double> inv_std, at::IntArrayRef channel_map,
                                                 at::ScalarType dtype, bool channels_last) {
  const char* op = "fastload::resized_crop_color";
  // The crop keeps the input's channels (the colour steps find R, G and B through rgb): an identity channel map.
  const int64_t channels = !images.empty() && images[0].dim() == 3 ? images[0].size(2) : 0;
  std::vector<int64_t> identity;
  for (int64_t k = 0; k < channels; ++k) identity.push_back(k);
  ResizedCropCall crop = describe_resized_crop_batch(images, flip_masks, y_starts, y_weights, x_starts, x_weights,
                                                     std::nullopt, std::nullopt, identity, std::nullopt, false,
                                                     /*with_output=*/false);
  const ResizedCropParams& p = crop.params;
  AdjustColorCall color = describe_color_steps(op, p.n, p.c, p.out_h, p.out_w, steps, factors, rgb);
  for (size_t i = 0; i < color.images.size(); ++i) {
    const ColorImage& d = color.images[i];
    for (int k = 0; k < d.count; ++k) {
      const int s = color_step(d, k);
      TORCH_CHECK(s != kSharpness && s != kAutocontrast && s != kEqualize, op, ": steps[", i, "] has step ", s,
                  ", which the fused crop does not take (sharpness, autocontrast and equalize: crop to uint8, then "
                  "adjust_color)");
    }
  }
  bind_adjust_color_normalized(op, images[0].options(), color, mean, inv_std, channel_map, dtype, channels_last);
  ResizedCropColorCall call{std::move(crop.images), std::move(color.images), CropColorParams{}, color.out};
  static_cast<ResizedCropParams&>(call.params) = p;
  call.params.color = color.params;
  call.params.dtype = color.params.dtype;  // the output's, as the launchers dispatch on them (the crop is uint8)
  call.params.channels_last = channels_last;
  return call;  // color.in and its strides unset: the CPU kernel points them at its scratch, CUDA never reads a crop
}

}  // namespace fastload
