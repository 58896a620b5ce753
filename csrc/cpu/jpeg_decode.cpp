// fastload::_jpeg_info / _jpeg_decode: JPEG decoding on libjpeg-turbo's libjpeg API, pixel for pixel what
// cv2.imdecode(buf, IMREAD_COLOR) gives (default libjpeg settings: ISLOW IDCT, fancy upsampling; grayscale replicated
// to 3 channels; CMYK/YCCK through OpenCV's own CMYK -> BGR formula; EXIF orientation applied as OpenCV applies it),
// optionally only a box of it: the rows above are skipped (jpeg_skip_scanlines), the columns outside are cropped
// (jpeg_crop_scanline) and the rows below never decoded, so IDCT, upsampling and colour conversion run only where
// the box needs them. The region decoded is the box in the stored image plus a margin of columns, because
// libjpeg's fancy upsampling treats a region's edge columns as the image's edge; the margin is dropped.
//
// libjpeg reports errors by longjmp: the functions that call it (marked "setjmp frame") hold no object with a
// destructor, take every buffer from their caller, and return a status; jpeg_destroy_decompress frees what libjpeg
// allocated on every path.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>
#include <string>
#include <vector>

#include <jpeglib.h>  // libjpeg-turbo: jpeg_crop_scanline and jpeg_skip_scanlines are its own

#include "ops/output.h"

namespace fastload {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 30;  // OpenCV's CV_IO_MAX_IMAGE_PIXELS default
// Stored columns decoded on each side of a box. libjpeg's fancy upsampling treats a cropped region's edge columns as
// the image's edge (tested: 1 column is not always enough for 4:2:0, 2 were in every case tried; a region narrower
// than 3 columns decodes wrong values); 8 keeps every cropped region at least 9 columns wide. Rows need none:
// jpeg_skip_scanlines rebuilds the upsampler's context rows, and a row read is final before the rows below it.
constexpr int kColumnMargin = 8;
// Scanlines asked of libjpeg at a time (it gives up to a row group a call) before their box columns are copied out:
// copied one at a time, each row was read back right behind libjpeg's stores to it, and the copies stalled on store
// forwarding (13% of a file's decode + crop, profiled on an Intel Xeon VM, 2026-12-01). As many cropped scanlines
// as kScanlineBytes hold (at least 2), so that they stay in the L1 cache (16 rows of a 2000-pixel image measured
// 3-5% slower in two runs).
constexpr int64_t kScanlines = 16;
constexpr int64_t kScanlineBytes = 16 * 1024;

struct ErrorState {
  jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
  jmp_buf jump;
  bool strict;
  int warnings;
  char message[JMSG_LENGTH_MAX];
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

// Warnings (level -1) are errors when strict; trace messages are ignored.
void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->message);
  if (e->strict) longjmp(e->jump, 1);
}

struct Decoder {
  jpeg_decompress_struct cinfo;
  ErrorState err;
  bool created = false;
  ~Decoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// setjmp frame: creates the decompressor and reads the header (APP1 kept for EXIF). 0 on success.
int read_header(Decoder* d, const uint8_t* data, size_t n, bool strict) {
  d->cinfo.err = jpeg_std_error(&d->err.mgr);
  d->err.mgr.error_exit = on_error;
  d->err.mgr.emit_message = on_message;
  d->err.strict = strict;
  d->err.warnings = 0;
  d->err.message[0] = '\0';
  if (setjmp(d->err.jump)) return 1;
  jpeg_create_decompress(&d->cinfo);
  d->created = true;
  jpeg_mem_src(&d->cinfo, data, static_cast<unsigned long>(n));
  jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&d->cinfo, TRUE);
  return 0;
}

// EXIF orientation (1..8) as OpenCV reads it: the first APP1 marker, its TIFF header 6 bytes in, IFD0's tag 0x0112;
// 1 when absent or unreadable.
int exif_orientation(const jpeg_decompress_struct& cinfo) {
  const jpeg_saved_marker_ptr m = cinfo.marker_list;
  const jpeg_saved_marker_ptr app1 = [&] {
    for (jpeg_saved_marker_ptr p = m; p != nullptr; p = p->next)
      if (p->marker == JPEG_APP0 + 1) return p;
    return static_cast<jpeg_saved_marker_ptr>(nullptr);
  }();
  if (app1 == nullptr || app1->data_length <= 6) return 1;
  const uint8_t* t = app1->data + 6;
  const size_t n = app1->data_length - 6;
  if (n < 8) return 1;
  const bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t at) -> uint32_t {
    return little ? t[at] | (t[at + 1] << 8) : (t[at] << 8) | t[at + 1];
  };
  auto u32 = [&](size_t at) -> uint64_t {
    return little ? (uint64_t{u16(at + 2)} << 16) | u16(at) : (uint64_t{u16(at)} << 16) | u16(at + 2);
  };
  if (u16(2) != 0x2a) return 1;
  const uint64_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const uint32_t entries = u16(static_cast<size_t>(ifd));
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t at = ifd + 2 + uint64_t{12} * i;
    if (at + 12 > n) return 1;
    if (u16(static_cast<size_t>(at)) == 0x0112) {
      const uint32_t v = u16(static_cast<size_t>(at) + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

// A box in stored-image pixels: rows [y0, y1), columns [x0, x1).
struct Region {
  int64_t y0, y1, x0, x1;
};

// The stored region an oriented (top, left, h, w) box of an image stored H x W reads (see OpenCV's ExifTransform:
// 2 flips columns, 3 both, 4 rows; 5 transposes, 6-8 transpose then flip columns, both, rows).
Region stored_region(int orientation, int64_t H, int64_t W, int64_t top, int64_t left, int64_t h, int64_t w) {
  switch (orientation) {
    case 2: return {top, top + h, W - left - w, W - left};
    case 3: return {H - top - h, H - top, W - left - w, W - left};
    case 4: return {H - top - h, H - top, left, left + w};
    case 5: return {left, left + w, top, top + h};
    case 6: return {H - left - w, H - left, top, top + h};
    case 7: return {H - left - w, H - left, W - top - h, W - top};
    case 8: return {left, left + w, W - top - h, W - top};
    default: return {top, top + h, left, left + w};
  }
}

// What one decode writes: the box's stored pixels into `region` (3 bytes a pixel, box_w a row), or with `direct`
// (orientation 1) each scanline's box columns straight into `out`.
struct Plan {
  int64_t box_y0, box_y1;    // the box's stored rows: the rows decoded
  int64_t x0, width;         // stored columns asked of jpeg_crop_scanline (box columns plus margin)
  int64_t box_x0, box_x1;    // the box's stored columns
  bool cmyk, rgb, direct;
  uint8_t* out;              // direct: the (box_y1 - box_y0) x (box_x1 - box_x0) output, row stride out_stride
  int64_t out_stride;
  uint8_t* region;           // not direct: box rows x box columns, 3 bytes a pixel
  uint8_t* rows;             // decoded scanlines: max(kScanlineBytes, two whole rows) (4 bytes a pixel for CMYK)
  bool check_end;            // strict: the file must end with its EOI marker, as a full decode would check
};

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, channels in `rgb` order.
inline void cmyk_to_3(const uint8_t* cmyk, uint8_t* dst, int64_t n, bool rgb) {
  for (int64_t i = 0; i < n; ++i, cmyk += 4, dst += 3) {
    const int c = cmyk[0], m = cmyk[1], y = cmyk[2], k = cmyk[3];
    const uint8_t r = static_cast<uint8_t>(k - ((255 - c) * k >> 8));
    const uint8_t g = static_cast<uint8_t>(k - ((255 - m) * k >> 8));
    const uint8_t b = static_cast<uint8_t>(k - ((255 - y) * k >> 8));
    dst[0] = rgb ? r : b;
    dst[1] = g;
    dst[2] = rgb ? b : r;
  }
}

bool has_end_marker(const jpeg_decompress_struct& cinfo) {
  // After the scan header entropy-coded data cannot hold FF D9 (a data byte FF is stuffed as FF 00): any FF D9 from
  // here on is the EOI marker, looked for from the file's end, where it is (a forward search read the whole file).
  const uint8_t* begin = cinfo.src->next_input_byte;
  for (const uint8_t* p = begin + cinfo.src->bytes_in_buffer; p - begin >= 2; --p)
    if (p[-2] == 0xFF && p[-1] == 0xD9) return true;
  return false;
}

// setjmp frame: decodes the plan's rows (output dimensions already set in d->cinfo). 0 on success, 2 when the
// file lacks its end (strict).
int decode_rows(Decoder* d, const Plan* p) {
  jpeg_decompress_struct* cinfo = &d->cinfo;
  if (setjmp(d->err.jump)) return 1;
  if (p->check_end && !cinfo->progressive_mode && !has_end_marker(*cinfo)) return 2;
  jpeg_start_decompress(cinfo);
  JDIMENSION xoff = static_cast<JDIMENSION>(p->x0), width = static_cast<JDIMENSION>(p->width);
  if (width < cinfo->output_width) jpeg_crop_scanline(cinfo, &xoff, &width);
  if (p->box_y0 > 0) jpeg_skip_scanlines(cinfo, static_cast<JDIMENSION>(p->box_y0));
  const int64_t bytes = p->cmyk ? 4 : 3;
  const int64_t skip = p->box_x0 - static_cast<int64_t>(xoff), box_w = p->box_x1 - p->box_x0;
  const bool scanline_is_row = p->direct && !p->cmyk && skip == 0 && static_cast<int64_t>(width) == box_w;
  const int64_t row_bytes = static_cast<int64_t>(width) * bytes;  // a cropped scanline
  const int64_t scanlines = std::clamp<int64_t>(kScanlineBytes / row_bytes, 2, kScanlines);  // they fit p->rows
  JSAMPROW rows[kScanlines];
  for (int64_t y = p->box_y0; y < p->box_y1;) {
    const int64_t n = std::min<int64_t>(scanlines, p->box_y1 - y);
    for (int64_t i = 0; i < n; ++i)
      rows[i] = scanline_is_row ? p->out + (y + i - p->box_y0) * p->out_stride : p->rows + i * row_bytes;
    const int64_t got = jpeg_read_scanlines(cinfo, rows, static_cast<JDIMENSION>(n));  // up to a row group
    if (got == 0) return 1;  // only a suspending data source (not this one) gives no rows: an error, not a loop
    if (!scanline_is_row) {
      for (int64_t i = 0; i < got; ++i) {
        uint8_t* dst = p->direct ? p->out + (y + i - p->box_y0) * p->out_stride
                                 : p->region + (y + i - p->box_y0) * box_w * 3;
        const uint8_t* src = rows[i] + skip * bytes;
        if (p->cmyk)
          cmyk_to_3(src, dst, box_w, p->rgb);
        else
          std::memcpy(dst, src, static_cast<size_t>(box_w * 3));
      }
    }
    y += got;
  }
  if (cinfo->output_scanline < cinfo->output_height)
    jpeg_abort_decompress(cinfo);  // the rows below the box are never decoded
  else
    jpeg_finish_decompress(cinfo);
  return 0;
}

[[noreturn]] void fail(const Decoder& d, const char* what) {
  TORCH_CHECK_VALUE(false, what, ": ", d.err.message[0] ? d.err.message : "libjpeg error");
}

const uint8_t* data_of(const at::Tensor& data, const char* op) {
  TORCH_CHECK_VALUE(data.device().is_cpu() && data.scalar_type() == at::kByte && data.dim() == 1 &&
                        data.is_contiguous(),
                    op, ": data must be a contiguous 1-D uint8 CPU tensor, got ", data.scalar_type(), " of shape ",
                    data.sizes(), " on ", data.device());
  TORCH_CHECK_VALUE(data.numel() > 0, op, ": empty data is not a JPEG file");
  return data.data_ptr<uint8_t>();
}

// [height, width, orientation, components, progressive] of the image as decoded at 1/`reduce` scale and oriented.
std::vector<int64_t> jpeg_info(const at::Tensor& data, int64_t reduce) {
  const char* op = "fastload::_jpeg_info";
  const uint8_t* bytes = data_of(data, op);
  TORCH_CHECK_VALUE(reduce == 1 || reduce == 2 || reduce == 4 || reduce == 8, op, ": reduce must be 1, 2, 4 or 8");
  Decoder d;
  if (read_header(&d, bytes, static_cast<size_t>(data.numel()), false) != 0) fail(d, "not a readable JPEG file");
  d.cinfo.scale_num = 1;
  d.cinfo.scale_denom = static_cast<unsigned int>(reduce);
  jpeg_calc_output_dimensions(&d.cinfo);
  const int orientation = exif_orientation(d.cinfo);
  int64_t h = d.cinfo.output_height, w = d.cinfo.output_width;
  if (orientation >= 5) std::swap(h, w);
  return {h, w, orientation, d.cinfo.num_components, d.cinfo.progressive_mode ? 1 : 0};
}

at::Tensor jpeg_decode(const at::Tensor& data, int64_t top, int64_t left, int64_t height, int64_t width,
                       int64_t reduce, bool rgb, bool strict, const std::optional<at::Tensor>& out) {
  const char* op = "fastload::_jpeg_decode";
  const uint8_t* bytes = data_of(data, op);
  TORCH_CHECK_VALUE(reduce == 1 || reduce == 2 || reduce == 4 || reduce == 8, op, ": reduce must be 1, 2, 4 or 8");
  Decoder d;
  if (read_header(&d, bytes, static_cast<size_t>(data.numel()), strict) != 0) fail(d, "not a readable JPEG file");
  jpeg_decompress_struct& cinfo = d.cinfo;
  const bool cmyk = cinfo.num_components == 4;
  cinfo.out_color_space = cmyk ? JCS_CMYK : (rgb ? JCS_EXT_RGB : JCS_EXT_BGR);
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned int>(reduce);
  jpeg_calc_output_dimensions(&cinfo);
  const int64_t H = cinfo.output_height, W = cinfo.output_width;
  TORCH_CHECK_VALUE(H >= 1 && W >= 1 && H * W <= kMaxPixels, op, ": the header says ", H, "x", W,
                    " pixels, more than the ", kMaxPixels, " any image decodes to");
  const int orientation = exif_orientation(cinfo);
  const int64_t oh = orientation >= 5 ? W : H, ow = orientation >= 5 ? H : W;
  if (height < 0) {  // the whole image
    top = left = 0;
    height = oh;
    width = ow;
  }
  TORCH_CHECK_VALUE(top >= 0 && left >= 0 && height >= 1 && width >= 1 && top + height <= oh && left + width <= ow,
                    op, ": box (top=", top, ", left=", left, ", height=", height, ", width=", width,
                    ") must be non-empty and lie inside the ", oh, "x", ow, " image");
  at::Tensor result;
  if (out.has_value()) {
    const at::Tensor& o = *out;
    TORCH_CHECK_VALUE(o.device().is_cpu() && o.scalar_type() == at::kByte && o.dim() == 3 && o.size(0) == height &&
                          o.size(1) == width && o.size(2) == 3 && o.stride(2) == 1 && o.stride(1) == 3 &&
                          o.stride(0) >= 3 * width,
                      op, ": out must be a CPU uint8 (", height, ", ", width, ", 3) tensor with rows of whole "
                      "pixels, got ", o.scalar_type(), " of shape ", o.sizes(), " and strides ", o.strides());
    result = o;
  } else {
    result = new_output({height, width, 3}, at::TensorOptions().dtype(at::kByte));
  }
  const Region box = stored_region(orientation, H, W, top, left, height, width);
  Plan p{};
  p.box_y0 = box.y0;
  p.box_y1 = box.y1;
  p.box_x0 = box.x0;
  p.box_x1 = box.x1;
  const bool whole = box.y0 == 0 && box.x0 == 0 && box.y1 == H && box.x1 == W;
  p.x0 = whole ? 0 : std::max<int64_t>(box.x0 - kColumnMargin, 0);
  p.width = (whole ? W : std::min<int64_t>(box.x1 + kColumnMargin, W)) - p.x0;
  p.cmyk = cmyk;
  p.rgb = rgb;
  p.direct = orientation == 1;
  p.out = result.data_ptr<uint8_t>();
  p.out_stride = result.stride(0);
  p.check_end = strict && !whole;
  const int64_t box_w = box.x1 - box.x0, box_h = box.y1 - box.y0;
  // Allocated here, outside decode_rows' setjmp frame: a libjpeg error unwinds past no destructor.
  std::vector<uint8_t> rows(static_cast<size_t>(std::max<int64_t>(kScanlineBytes, 2 * W * (cmyk ? 4 : 3))));
  std::vector<uint8_t> region(p.direct ? 0 : static_cast<size_t>(box_h * box_w * 3));
  p.rows = rows.data();
  p.region = region.data();
  const int status = decode_rows(&d, &p);
  if (status == 2) TORCH_CHECK_VALUE(false, "the file is truncated: no end-of-image marker after its scan data");
  if (status != 0) fail(d, "corrupt or truncated JPEG data");
  if (!p.direct) {
    // The stored region is box_h x box_w; output pixel (r, c) reads it as OpenCV's ExifTransform would.
    uint8_t* o = result.data_ptr<uint8_t>();
    const int64_t rs = result.stride(0);
    for (int64_t r = 0; r < height; ++r) {
      for (int64_t c = 0; c < width; ++c) {
        int64_t sr = r, sc = c;
        switch (orientation) {
          case 2: sc = box_w - 1 - c; break;
          case 3: sr = box_h - 1 - r; sc = box_w - 1 - c; break;
          case 4: sr = box_h - 1 - r; break;
          case 5: sr = c; sc = r; break;
          case 6: sr = box_h - 1 - c; sc = r; break;
          case 7: sr = box_h - 1 - c; sc = box_w - 1 - r; break;
          case 8: sr = c; sc = box_w - 1 - r; break;
          default: break;
        }
        const uint8_t* s = region.data() + (sr * box_w + sc) * 3;
        uint8_t* t = o + r * rs + c * 3;
        t[0] = s[0];
        t[1] = s[1];
        t[2] = s[2];
      }
    }
  }
  return result;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_jpeg_info(Tensor data, int reduce=1) -> int[]");
  m.def("_jpeg_decode(Tensor data, int top, int left, int height, int width, int reduce, bool rgb, bool strict, "
        "Tensor? out=None) -> Tensor");
  m.impl("_jpeg_info", c10::DispatchKey::CPU, &jpeg_info);
  m.impl("_jpeg_decode", c10::DispatchKey::CPU, &jpeg_decode);
}

}  // namespace fastload
