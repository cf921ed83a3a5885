// Structured-output scanner (GRCA paper §3.2, §3.7): finds the JSON object in a model's output and
// reads the schema's fields from it, never reading outside the text and never throwing.
//
// The object is the first '{' from which a complete object parses under a tolerant JSON grammar:
// strings in double or single quotes, trailing commas, and '(...)' tuples beside '[...]' lists
// (the paper's `[(x, y, z), (x, y, z)]`), nested at most kMaxDepth deep. Prose and ```json fences
// around it are skipped. A field is read from the object's top-level keys (its name or an alias):
// missing or duplicated => invalid. A text field takes any value. A numeric field's value must be
// a flat list of numbers or a list of `dim`-tuples; box fields need exactly 2*dim numbers, point
// fields a multiple of dim up to `max_values`. Numbers are JSON numbers (a leading '.' or '+' is
// tolerated); a non-finite one (1e999) makes the field invalid, and for a quantized field so does a
// non-integer or a value outside [0, bins], and so does a value that is not finite once converted
// into the ground truth's frame (1e308 times a range wider than 1). Spans are the value text, brackets included, in
// Unicode code points (Python str indices); (0, 0) for an invalid field.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/abi.h"

namespace vr {

// One field of the schema and where its values go. A numeric field's values are written converted
// to the ground truth's frame, value k as offset[k % dim] + scale[k % dim] * written, into its own
// array [n, max_values] (a box: 2*dim values; points: max_points*dim), NaN where nothing valid
// was written; a points field's point count goes to counts [n] (0 when invalid).
#define VR_FIELD_SPEC(X)                                                                             \
  X(int, kind, 0)          /* 0 text, 1 box (2*dim numbers), 2 points (k*dim numbers, k*dim <= max_values) */ \
  X(int, dim, 2)                                                                                     \
  X(int64_t, max_values, 4)                                                                          \
  X(bool, quantized, false)                                                                          \
  X(int64_t, bins, 1000)                                                                             \
  X(std::vector<std::string>, keys, {})   /* name and aliases */                                     \
  X(std::vector<double>, scale, {})       /* [dim], or an oriented box's [arity] */                  \
  X(std::vector<double>, offset, {})      /* the same length */                                      \
  X(std::uintptr_t, values, 0)            /* double [n, max_values] */                               \
  X(std::uintptr_t, counts, 0)            /* int64 [n] (points fields) */
struct FieldSpec { VR_FIELD_SPEC(VR_ARG_MEMBER) };

struct ParseOutputs {
  uint8_t* valid = nullptr;  // [n, F]
  int64_t* spans = nullptr;  // [n, F, 2]
  // Non-empty: only the last complete <tag>...</tag> of a text is read (the answer of a
  // think-then-answer completion); a text without one has nothing valid.
  std::string answer_tag;
};

constexpr int kMaxDepth = 32;

void parse_texts(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                 const ParseOutputs& out);

}  // namespace vr
