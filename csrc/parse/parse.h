// Structured-output scanner (GRCA paper §3.2, §3.7): finds the JSON object in a model's output and
// reads the schema's fields from it, never reading outside the text and never throwing.
//
// The object is the first '{' from which a complete object parses under a tolerant JSON grammar:
// strings in double or single quotes, trailing commas, and '(...)' tuples beside '[...]' lists
// (the paper's `[(x, y, z), (x, y, z)]`), nested at most kMaxDepth deep. Prose and ```json fences
// around it are skipped. A field is read from the object's top-level keys (its name or an alias):
// missing or duplicated => invalid. A text field takes any value. A numeric field's value must be
// a flat list of numbers or a list of `dim`-tuples; box fields need exactly 2*dim numbers, point
// fields a positive multiple of dim up to `max_values` (an empty list writes no point: invalid). Numbers are JSON numbers (a leading '.' or '+' is
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
  X(std::uintptr_t, row_scale, 0)         /* double [texts, scale.size()]: per-text scale, or 0 */   \
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

// Many objects per answer (parse_objects): slot (row, m) of every field's arrays, of valid and of
// spans is row * max_objects + m; object_spans [n, max_objects, 2] is each object's text;
// counts [n] is how many objects the text holds (only the first max_objects are stored).
// decoded (optional) [n]: row i receives, for each stored object in order, its text fields' values
// decoded (text_value in scanner.h; empty where invalid), one string per text field.
struct ObjectOutputs {
  int64_t max_objects = 1;
  int64_t* object_spans = nullptr;
  int64_t* counts = nullptr;
  std::vector<std::vector<std::string>>* decoded = nullptr;
};

void parse_texts(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                 const ParseOutputs& out);

// Every object in each text (its answer region), in the order written:
//  - a JSON object carrying a key of one of the schema's numeric fields, at any depth of any JSON
//    value in the text (a list of them, a dict of them, several in prose), not entered once found;
//  - when the schema has a 2D corner box field: each Qwen2-VL box-token group
//    [<|object_ref_start|>label<|object_ref_end|>]<|box_start|>(x1,y1),(x2,y2)<|box_end|> (label into
//    the first text field, box into the first 2D box field); a group without its own label takes
//    the label of the last labelled group before it (one reference followed by several boxes);
//  - only when neither of those is in the answer (a fallback), the same form as decoded without its
//    special tokens: label(x1,y1),(x2,y2), the label running back to the previous object, a line
//    break or one of ".;:,)>", and an empty label again taking the previous box's.
// Fields are read from each object as parse_texts reads them from the one object, into the
// object's slot. Here FieldSpec arrays hold n * max_objects rows.
void parse_objects(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                   const ParseOutputs& out, const ObjectOutputs& objs);

}  // namespace vr
