"""Calls every argument-struct entry point of verireward._C with random sizes (0 included, -1 too)
and every data pointer null: each call must raise or return, never touch memory. Run as a script
(by test_trust_misuse.py, in a subprocess so that a segfault is a failed test, not a dead run); it
prints each call before making it and "ALL OK" at the end."""

from __future__ import annotations

import random
import sys

import verireward._C as C

# entry point -> its argument struct; the integer fields that are sizes, strides or codes get random
# values; the pointer fields stay 0 (null)
FUNCS = {"char_to_token_spans": "SpanArgs", "detection_ap": "DetectionArgs", "euler_rows": "EulerArgs",
         "farthest_point_sampling": "PointArgs", "knn": "PointArgs", "group_standardize": "GroupArgs",
         "iou_elementwise": "IouArgs", "iou_elementwise_backward": "IouArgs", "iou_pairwise": "IouArgs",
         "keypoint_containment": "ContainmentArgs", "match_boxes": "MatchArgs", "oriented_iou": "OrientedArgs",
         "oriented_iou_backward": "OrientedArgs", "oriented_iou_pairwise": "OrientedArgs", "project_box": "ProjectArgs",
         "routed_advantages": "RouteArgs", "rpc": "ProjectArgs"}
POINTERS = {"a", "b", "out", "grad_a", "grad_b", "grad_out", "boxes", "points", "counts", "angles", "rewards", "group_ptr",
            "absolute", "batch_stats", "spans", "mask", "rpc", "offsets", "lengths", "char_spans", "pred", "gt", "scores",
            "pred_labels", "gt_labels", "pred_image", "gt_image", "thresholds", "ap", "assignment", "iou", "pred_counts",
            "gt_counts", "xyz", "centres", "idx", "dist", "mind", "R", "t", "img", "boxes2d", "boxes3d", "valid"}
SIZES_NAMED_K = {"ContainmentArgs", "PointArgs", "DetectionArgs"}  # K is a size there, a camera pointer elsewhere


def main(trials: int, seed: int) -> None:
    rng = random.Random(seed)
    for fname, cls in FUNCS.items():
        fn, Args = getattr(C, fname), getattr(C, cls)
        base = Args()
        names = [k for k in dir(base) if not k.startswith("_")]
        ints = [k for k in names if type(getattr(base, k)) is int and (k not in POINTERS and (k != "K" or cls in SIZES_NAMED_K))]
        bools = [k for k in names if type(getattr(base, k)) is bool]
        for _ in range(trials):
            a = Args()
            desc = {}
            for k in ints:
                v = rng.choice([0, 0, 1, 2, 3, 4, 6, 9, -1]) if rng.random() < 0.7 else getattr(base, k)
                try:
                    setattr(a, k, v)
                    desc[k] = v
                except (TypeError, ValueError):
                    pass
            for k in bools:
                desc[k] = rng.random() < 0.5
                setattr(a, k, desc[k])
            if hasattr(a, "dtype"):
                a.dtype = rng.choice([C.DType.float32, C.DType.float64])
            print(fname, desc, flush=True)
            try:
                fn(a)
            except (ValueError, RuntimeError, TypeError, IndexError, OverflowError):
                pass
    # the entry points that take texts: null output pointers for rows that exist
    spec = C.FieldSpec()
    spec.kind, spec.dim, spec.max_values, spec.keys, spec.scale, spec.offset = 1, 2, 4, ["b"], [1.0, 1.0], [0.0, 0.0]
    for texts in ([], ["{}"], ['{"b": [1, 2, 3, 4]}', "x"]):
        for fields in ([], [spec]):
            for call in (lambda: C.parse_texts(texts, fields, 0, 0),
                         lambda: C.parse_objects(texts, fields, 0, 0, 0, 0, 4),
                         lambda: C.grca_cpu_stage(texts, fields, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0),
                         lambda: C.token_offsets_from_pieces(0, 0, 0, 0, 0, len(texts), 3, texts, 0, 0)):
                print("texts", len(texts), "fields", len(fields), flush=True)
                try:
                    call()
                except (ValueError, RuntimeError, TypeError):
                    pass
    print("ALL OK", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
