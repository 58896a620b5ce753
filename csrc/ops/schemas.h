// The schemas of every fastload op (see schemas.cpp).
#pragma once
#include <torch/library.h>

namespace fastload {

// Defines every op's schema in library `m`.
void define_schemas(torch::Library& m);

}  // namespace fastload
