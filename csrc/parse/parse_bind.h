// Shared by the bindings that take a schema's FieldSpecs (parse_texts, grca_cpu_stage).
#pragma once
#include <cstdint>
#include <vector>

#include "parse/parse.h"

namespace vr {
// Kinds, dimensions, value counts and pointers of the FieldSpecs of a parse over n texts.
void check_field_specs(const char* op, const std::vector<FieldSpec>& fields, int64_t n);
}  // namespace vr
