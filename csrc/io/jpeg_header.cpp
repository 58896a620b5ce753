// fastload::_jpeg_info and the header reading every decode starts with (jpeg.h).
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include <jerror.h>

#include "io/exif.h"
#include "io/jpeg.h"

namespace fastload {
namespace {

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

// Warnings (level -1): with Strict::kFile every one is an error, with Strict::kComplete only the data running out
// (libjpeg's source then inserts a fake end marker: the file is truncated). Never bytes between the last scan and the
// end-of-image marker ("N extraneous bytes before marker 0xd9"): every pixel was decoded before them, OpenCV and
// Pillow accept them, and a box decode that stops above the last row never reaches them. Trace messages (level >= 0)
// are ignored.
void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA && cinfo->err->msg_parm.i[1] == 0xD9) return;
  auto* e = reinterpret_cast<ErrorState*>(cinfo->err);
  if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->message);
  if (e->strict == Strict::kFile || (e->strict == Strict::kComplete && cinfo->err->msg_code == JWRN_JPEG_EOF))
    longjmp(e->jump, 1);
}

// setjmp frame: creates the decompressor and reads the header. 0 on success.
int read_header(Decoder* d, const uint8_t* data, size_t n, Strict strict) {
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

// setjmp frame: the output dimensions at 1/reduce scale. 0 on success.
int calc_dimensions(Decoder* d, int64_t reduce) {
  if (setjmp(d->err.jump)) return 1;
  d->cinfo.scale_num = 1;
  d->cinfo.scale_denom = static_cast<unsigned int>(reduce);
  jpeg_calc_output_dimensions(&d->cinfo);
  return 0;
}

// Whether the file's frame is lossless (SOF3, SOF7, SOF11, SOF15), from its markers: libjpeg keeps that private.
// Called after jpeg_read_header accepted the file, so its segments up to the first scan are well formed.
bool is_lossless(const uint8_t* data, size_t n) {
  for (size_t at = 2; at + 4 <= n;) {
    if (data[at] != 0xFF) return false;
    const uint8_t marker = data[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
      return (marker & 3) == 3;
    if (marker == 0xDA) return false;
    at += 2 + ((size_t{data[at + 2]} << 8) | data[at + 3]);
  }
  return false;
}

}  // namespace

bool has_end_marker(const jpeg_decompress_struct& cinfo) {
  // After the scan header entropy-coded data cannot hold FF D9 (a data byte FF is stuffed as FF 00): any FF D9 from
  // here on is the EOI marker, looked for from the file's end, where it is (a forward search read the whole file).
  const uint8_t* begin = cinfo.src->next_input_byte;
  for (const uint8_t* p = begin + cinfo.src->bytes_in_buffer; p - begin >= 2; --p)
    if (p[-2] == 0xFF && p[-1] == 0xD9) return true;
  return false;
}

void fail_jpeg(const Decoder& d, const char* what) {
  TORCH_CHECK_VALUE(false, what, ": ", d.err.message[0] ? d.err.message : "libjpeg error");
}

Header open_jpeg(Decoder* d, const uint8_t* data, size_t size, int64_t reduce, Strict strict, const char* op) {
  TORCH_CHECK_VALUE(reduce == 1 || reduce == 2 || reduce == 4 || reduce == 8, op, ": reduce must be 1, 2, 4 or 8");
  if (read_header(d, data, size, strict) != 0) fail_jpeg(*d, "not a readable JPEG file");
  jpeg_decompress_struct& cinfo = d->cinfo;
  const int64_t stored = int64_t{cinfo.image_height} * cinfo.image_width;
  TORCH_CHECK_VALUE(stored >= 1 && stored <= kMaxPixels, "the header says ", cinfo.image_height, "x", cinfo.image_width,
                    " pixels; images of more than ", kMaxPixels,
                    " pixels are refused (as "
                    "OpenCV refuses them), before anything is allocated");
  Header h{};
  h.lossless = is_lossless(data, size);
  if (calc_dimensions(d, h.lossless ? 1 : reduce) != 0) fail_jpeg(*d, "not a readable JPEG file");
  std::vector<Marker> app1;
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != nullptr; m = m->next)
    if (m->marker == JPEG_APP0 + 1) app1.push_back({m->data, m->data_length});
  h.orientation = jpeg_orientation(app1.data(), app1.size());
  h.stored_height = cinfo.output_height;
  h.stored_width = cinfo.output_width;
  const bool swap = h.orientation >= 5;
  h.height = swap ? h.stored_width : h.stored_height;
  h.width = swap ? h.stored_height : h.stored_width;
  h.components = cinfo.num_components;
  h.precision = cinfo.data_precision;
  h.progressive = cinfo.progressive_mode;
  return h;
}

const char* libjpeg_turbo_version() {
#define FL_STRINGIFY2(x) #x
#define FL_STRINGIFY(x) FL_STRINGIFY2(x)
  return "libjpeg-turbo " FL_STRINGIFY(LIBJPEG_TURBO_VERSION);
}

const uint8_t* jpeg_bytes(const at::Tensor& data, const char* op) {
  TORCH_CHECK_VALUE(
      data.device().is_cpu() && data.scalar_type() == at::kByte && data.dim() == 1 && data.is_contiguous(), op,
      ": data must be a contiguous 1-D uint8 CPU tensor, got ", data.scalar_type(), " of shape ", data.sizes(), " on ",
      data.device());
  TORCH_CHECK_VALUE(data.numel() > 0, op, ": empty data is not a JPEG file");
  return data.data_ptr<uint8_t>();
}

namespace {

// [height, width, orientation, components, progressive, lossless, precision, complete] of the image decoded at
// 1/`reduce` scale (a lossless file: full scale), oriented; every check of open_jpeg made. complete: 1 when an
// end-of-image marker follows the first scan header (a truncated file has none).
std::vector<int64_t> jpeg_info(const at::Tensor& data, int64_t reduce) {
  const char* op = "fastload::_jpeg_info";
  const uint8_t* bytes = jpeg_bytes(data, op);
  Decoder d;
  const Header h = open_jpeg(&d, bytes, static_cast<size_t>(data.numel()), reduce, Strict::kNone, op);
  return {h.height,      h.width,    h.orientation, h.components,
          h.progressive, h.lossless, h.precision,   has_end_marker(d.cinfo)};
}

std::string jpeg_version() { return libjpeg_turbo_version(); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(fastload, m) {
  m.def("_jpeg_info(Tensor data, int reduce=1) -> int[]");
  m.impl("_jpeg_info", c10::DispatchKey::CPU, &jpeg_info);
  m.def("_jpeg_version() -> str", &jpeg_version);
}

}  // namespace fastload
