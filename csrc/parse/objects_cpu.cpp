// parse_objects (parse/parse.h): every object of each answer, read by the shared field reader.
#include "parse/parse.h"

#include "common/cpu_exec.h"
#include "parse/scanner.h"

namespace vr {
namespace {
using namespace parse_detail;

// ---- many objects per answer -------------------------------------------------------------------

struct ObjectScan {
  std::string_view text;
  StrIndex index;  // byte offset -> Python str index
  const std::vector<FieldSpec>& fields;
  const ParseOutputs& out;
  const ObjectOutputs& objs;
  int64_t row;
  int64_t found = 0;  // objects seen (stored while < max_objects)
  int64_t text_f = -1, box_f = -1;  // where box tokens go: the first text and first 2D box field
  bool bare = false;                // this pass reads the bare (decoded) box form
  bool have_label = false;          // a labelled box-token (or bare) group was seen: its label
  size_t last_label_b = 0, last_label_e = 0;
  std::vector<std::string>* decoded;  // this row's decoded text values, or null
  ObjectScan(std::string_view t, const std::vector<FieldSpec>& f, const ParseOutputs& o, const ObjectOutputs& ob, int64_t r)
      : text(t), index(t), fields(f), out(o), objs(ob), row(r),
        decoded(ob.decoded ? &(*ob.decoded)[static_cast<size_t>(r)] : nullptr) {
    for (int64_t k = 0; k < static_cast<int64_t>(fields.size()); ++k) {
      if (fields[k].kind == 0 && text_f < 0) text_f = k;
      if (fields[k].kind == 1 && fields[k].dim == 2 && fields[k].max_values == 4 && box_f < 0) box_f = k;
    }
  }
  std::vector<Scanner::Pair> pairs;
  std::vector<double> flat;

  // The next occurrence of a closing token at or after `from` (npos: none), remembered so that
  // many opening tokens before one close (or none) cost one scan, not one each.
  struct NextFind {
    std::string_view pat;
    bool known = false;
    size_t from = 0, pos = 0;
  };
  NextFind ref_close{"<|object_ref_end|>"}, box_close{"<|box_end|>"};
  size_t next(NextFind& nf, size_t from, size_t end) {
    if (!(nf.known && from >= nf.from && (nf.pos == std::string_view::npos || from <= nf.pos))) {
      nf.known = true, nf.from = from;
      nf.pos = text.substr(0, end).find(nf.pat, from);
    }
    return nf.pos;
  }

  bool is_object_key(const std::string& key) const {
    for (const auto& f : fields)
      if (f.kind != 0)
        for (const auto& k : f.keys)
          if (key == k) return true;
    return false;
  }

  void record(size_t b, size_t e) {
    if (found < objs.max_objects) {
      const int64_t slot = row * objs.max_objects + found;
      read_fields(text, index, pairs, fields, out, slot, row, flat, decoded);
      objs.object_spans[slot * 2] = index(b);
      objs.object_spans[slot * 2 + 1] = index(e);
    }
    ++found;
  }

  // Parses the value that starts at b (ending by e) and searches it for objects in the same pass:
  // an object with one of the schema's numeric keys is recorded and not entered; any other object
  // or sequence is searched inside. True with *after past the value when it parses under the
  // grammar (exactly Scanner::value's: walk depth d is value depth d - 1 for scalars and the
  // object or sequence depth d for containers); false when it does not, and then what it recorded
  // is rolled back by the caller (scan).
  bool walk(size_t b, size_t e, int depth, size_t* after) {
    Scanner sc{text.data(), e, b};
    sc.ws();
    const char c = sc.peek();
    if (c == '{') {
      const size_t ob = sc.i;
      pairs.clear();
      if (!sc.object(depth, &pairs)) return false;
      *after = sc.i;
      bool hit = false;
      for (const auto& p : pairs) hit = hit || is_object_key(p.key);
      if (hit) { record(ob, sc.i); return true; }
      const std::vector<Scanner::Pair> inner = pairs;  // `pairs` is reused by the walk below
      size_t ignored;
      for (const auto& p : inner) walk(p.value_begin, p.value_end, depth + 1, &ignored);  // parse: validated above
      return true;
    }
    if (c != '[' && c != '(') {  // a scalar
      if (!sc.value(depth - 1)) return false;
      *after = sc.i;
      return true;
    }
    if (depth > kMaxDepth) return false;
    const char close = c == '[' ? ']' : ')';
    ++sc.i;
    bool first = true;
    while (true) {
      sc.ws();
      if (sc.eat(close)) break;
      if (!first) {
        if (!sc.eat(',')) return false;
        sc.ws();
        if (sc.eat(close)) break;  // trailing comma
      }
      first = false;
      size_t ve;
      if (!walk(sc.i, e, depth + 1, &ve)) return false;
      sc.i = ve;
    }
    *after = sc.i;
    return true;
  }

  // Forgets the objects recorded after the first `keep` (a value that did not parse after all).
  void roll_back(int64_t keep, size_t decoded_keep) {
    const int64_t M = objs.max_objects;
    for (int64_t m = keep; m < std::min(found, M); ++m) {
      clear_slot(fields, out, row * M + m);
      objs.object_spans[(row * M + m) * 2] = objs.object_spans[(row * M + m) * 2 + 1] = 0;
    }
    found = keep;
    if (decoded) decoded->resize(decoded_keep);
  }

  // Qwen2-VL's box tokens: [<|object_ref_start|>label<|object_ref_end|>]<|box_start|>(x1,y1),(x2,y2)<|box_end|>,
  // read into the first text field (the label) and the first 2D box field; false when the text
  // at `at` is not a box-token group.
  bool box_tokens(size_t at, size_t end, size_t* next_at) {
    static constexpr std::string_view ref_open = "<|object_ref_start|>", box_open = "<|box_start|>";
    const std::string_view rest = text.substr(at, end - at);
    size_t label_b = 0, label_e = 0, p = at;
    bool labelled = false;
    if (rest.substr(0, ref_open.size()) == ref_open) {
      const size_t c = next(ref_close, at + ref_open.size(), end);
      if (c == std::string_view::npos) return false;
      label_b = at + ref_open.size(), label_e = c;
      p = c + ref_close.pat.size();
      while (p < end && (text[p] == ' ' || text[p] == '\n')) ++p;
      labelled = true;
    }
    if (text.substr(p, std::min(box_open.size(), end - p)) != box_open) return false;
    const size_t vb = p + box_open.size();
    const size_t c = next(box_close, vb, end);
    if (c == std::string_view::npos) return false;
    *next_at = c + box_close.pat.size();
    store_token_object(labelled, label_b, label_e, vb, c, at, *next_at);
    return true;
  }

  // "(x1,y1),(x2,y2)" exactly in [vb, ve) (spaces allowed), its four numbers into *flat.
  bool corner_pairs(size_t vb, size_t ve, size_t* stop) {
    flat.clear();
    Scanner sc{text.data(), ve, vb};
    bool ok = true;
    for (int k = 0; ok && k < 2; ++k) {
      sc.ws();
      if (k == 1) { ok = sc.eat(','); sc.ws(); }
      Scanner::Numbers nums{&flat};
      ok = ok && sc.peek() == '(' && sc.sequence(1, &nums) && nums.ok && nums.inner_len == -1 &&
           flat.size() == static_cast<size_t>(2 * (k + 1));  // each pair exactly (x, y)
    }
    *stop = sc.i;
    return ok && flat.size() == 4;
  }

  // One box-token object: the label at [label_b, label_e) when labelled (else the last group's
  // label, when there was one), the corner pairs at [vb, ve), the whole object at [ob, oe); the
  // next slot (counted even when not stored).
  void store_token_object(bool labelled, size_t label_b, size_t label_e, size_t vb, size_t ve, size_t ob, size_t oe) {
    const int64_t F = static_cast<int64_t>(fields.size());
    if (labelled) have_label = true, last_label_b = label_b, last_label_e = label_e;
    else if (have_label) labelled = true, label_b = last_label_b, label_e = last_label_e;
    if (found < objs.max_objects) {
      const int64_t slot = row * objs.max_objects + found;
      if (box_f >= 0) {
        const FieldSpec& spec = fields[box_f];
        size_t stop = vb;
        bool ok = corner_pairs(vb, ve, &stop);
        Scanner tail{text.data(), ve, stop};
        tail.ws();
        ok = ok && tail.i == ve && to_frame(spec, row, flat.data(), 4);
        if (ok) {
          std::memcpy(ptr<double>(spec.values) + slot * spec.max_values, flat.data(), sizeof(double) * 4);
          mark_valid(out, F, slot, box_f, index, vb, ve);
        }
      }
      if (labelled && text_f >= 0) mark_valid(out, F, slot, text_f, index, label_b, label_e);
      if (decoded)  // one string per text field: the label goes to the first
        for (int64_t f = 0; f < F; ++f) {
          if (fields[f].kind != 0) continue;
          decoded->emplace_back();
          if (f == text_f && labelled) text_value(text, label_b, label_e, &decoded->back());
        }
      objs.object_spans[slot * 2] = index(ob);
      objs.object_spans[slot * 2 + 1] = index(oe);
    }
    ++found;
  }

  // The box-token form as decoded without its special tokens: "label(x1,y1),(x2,y2)". The label
  // is the text before it back to `floor` (the previous object's end or the region's start), a
  // line break or one of ".;:,)>", stripped; none when empty.
  bool bare_box(size_t at, size_t end, size_t floor, size_t* next_at) {
    size_t stop = at;
    if (!corner_pairs(at, end, &stop)) return false;
    size_t lb = at;
    while (lb > floor && std::strchr("\n\r.;:,)>", text[lb - 1]) == nullptr) --lb;
    size_t le = at;
    while (lb < le && (text[lb] == ' ' || text[lb] == '\t')) ++lb;
    while (le > lb && (text[le - 1] == ' ' || text[le - 1] == '\t')) --le;
    *next_at = stop;
    store_token_object(le > lb, lb, le, at, stop, lb < le ? lb : at, stop);
    return true;
  }

  void run() {
    const int64_t M = objs.max_objects;
    for (int64_t m = 0; m < M; ++m) {
      clear_slot(fields, out, row * M + m);
      objs.object_spans[(row * M + m) * 2] = objs.object_spans[(row * M + m) * 2 + 1] = 0;
    }
    size_t begin, end;
    if (answer_region(text, out.answer_tag, &begin, &end)) {
      scan(begin, end);
      // the bare form is a fallback: read only when the answer holds no other object (prose
      // coordinates beside a JSON or box-token answer are not objects)
      if (found == 0 && box_f >= 0) {
        bare = true;
        scan(begin, end);
      }
    }
    objs.counts[row] = found;
  }

  // One left-to-right pass over [begin, end): each complete JSON value starting at '{' or '[' is
  // searched for objects and skipped whole; a box-token group (or, in the bare pass, a bare box) is
  // one object; anything else is prose. Box forms only when the schema has a 2D corner box field.
  void scan(size_t begin, size_t end) {
    size_t floor = begin;  // a bare box's label starts after the last object
    for (size_t start = begin; start < end;) {
      const char ch = text[start];
      size_t after = start + 1;
      bool object = false;
      if (ch == '{' || ch == '[') {
        const int64_t keep = found;
        const size_t decoded_keep = decoded ? decoded->size() : 0;
        size_t past;
        if (walk(start, end, 1, &past)) after = past, object = true;  // parsed and searched in one pass
        else roll_back(keep, decoded_keep);
      } else if (ch == '<' && box_f >= 0) {
        object = box_tokens(start, end, &after);
      } else if (ch == '(' && bare) {
        object = bare_box(start, end, floor, &after);
      }
      if (object) floor = after;
      start = after;
    }
  }
};

}  // namespace

void parse_objects(const std::vector<std::string_view>& texts, const std::vector<FieldSpec>& fields,
                   const ParseOutputs& out, const ObjectOutputs& objs) {
  parallel_ranges(static_cast<int64_t>(texts.size()), 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const std::string_view t = texts[static_cast<size_t>(i)];
      ObjectScan scan(t, fields, out, objs, i);
      scan.run();
    }
  });
}

}  // namespace vr
