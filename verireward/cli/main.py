"""The ``verireward`` command line.

``verireward score PRED.jsonl --gt GT.jsonl``: the GRCA paper's Table 3 metrics (see verireward.cli.score).

``verireward bench``: times every op against a pure-Python per-sample loop, vectorized torch, shapely
(2D IoU) and a memory copy, after checking that they agree; prints a table of throughputs and
ratios and, with ``--json FILE``, saves every number with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Optional

import verireward
from verireward._bench.runner import DEFAULT_SIZES, resolve_sizes, run
from verireward.cli.score import load_schema, print_table, schema_beside, score


def _size_override(text: str) -> Dict[str, int]:
    op, sep, n = text.partition("=")
    if not sep or not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"expected OP=N with N >= 1, got {text!r}")
    return {op: int(n)}


def _version() -> str:
    info = verireward.build_info()
    cuda = f"CUDA {info['cuda_version']} (sm {info['cuda_architectures']})" if info["cuda"] else "no CUDA"
    return f"{verireward.__version__} ({cuda}; CPU path {info['cpu_path']})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="verireward", description="Exact, batched rewards for geometric RL.")
    parser.add_argument("--version", action="version", version=f"verireward {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bench", help="time verireward against its baselines on synthetic data",
                       description="Time each op against a pure-Python loop, vectorized torch, shapely "
                                   "(2D IoU) and a memory copy, after checking that all agree.")
    b.add_argument("--ops", default=",".join(DEFAULT_SIZES),
                   help="comma-separated ops (default: all): " + ", ".join(DEFAULT_SIZES))
    b.add_argument("--scale", type=float, default=1.0, help="multiply every default size (default 1)")
    b.add_argument("--size", type=_size_override, action="append", default=[], metavar="OP=N",
                   help="set one op's size (pairwise ops: N x N); repeatable")
    b.add_argument("--quick", action="store_true", help="a smoke run: --scale 0.01 --repeat 2")
    b.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    b.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    b.add_argument("--repeat", type=int, default=5, help="timed runs per implementation; the median is reported")
    b.add_argument("--python-limit", type=int, default=20_000,
                   help="outputs computed by the pure-Python baseline (a prefix of the input)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    sc = sub.add_parser("score", help="the GRCA paper's Table 3 metrics (or detection mAP) for a JSONL file of completions",
                        description="Score completions against ground truth: IoU2D, IoU3D, KPA-2D, KPA-3D, RPC, "
                                    "Acc@0.25/0.5 (IoU3D >= threshold) and the parse-failure rate; for a many-object "
                                    "ground truth (a 'boxes' list per line), mAP@0.25/0.5 and the set rewards. File "
                                    "formats: see verireward.cli.score and verireward.cli.score_detection.")
    sc.add_argument("pred", metavar="PRED.jsonl", help='one {"id": ..., "text": ...} per line')
    sc.add_argument("--gt", required=True, metavar="GT.jsonl",
                    help='one {"id": ..., "bbox2d": ..., "bbox3d": ...} per line, or {"id": ..., "boxes": [...], "labels": [...]}')
    sc.add_argument("--schema", metavar="SCHEMA.json",
                    help="a JSON list of Field arguments (default: GT.schema.json beside the ground truth if it exists, "
                         "else the paper's schema)")
    sc.add_argument("--json", metavar="FILE", help="also write the metrics to FILE")
    sc.add_argument("--render", metavar="DIR", help="write PNGs of the worst samples to DIR (every object of each)")
    sc.add_argument("--worst", type=int, default=8, help="how many samples --render draws (default 8)")
    sc.add_argument("--max-objects", type=int, default=None, metavar="N",
                    help="many-object answers: read only the first N objects of each (default: every object; the rest "
                         "still count as predictions in the set rewards)")
    sc.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        scale, repeat = (0.01, 2) if args.quick else (args.scale, args.repeat)
        overrides: Dict[str, int] = {}
        for o in args.size:
            overrides.update(o)
        ops = [op.strip() for op in args.ops.split(",") if op.strip()]
        try:
            sizes = resolve_sizes(ops, scale, overrides)
        except ValueError as e:
            print(f"verireward bench: {e}", file=sys.stderr)
            return 2
        return run(sizes, dtype=args.dtype, device=args.device, repeat=repeat, python_limit=args.python_limit,
                   seed=args.seed, json_path=args.json, progress=not args.no_progress)
    if args.command == "score":
        try:
            schema_path = args.schema or schema_beside(args.gt)
            if schema_path and not args.schema:
                print(f"verireward score: schema from {schema_path} (written beside the ground truth)", file=sys.stderr)
            result = score(args.pred, args.gt, load_schema(schema_path) if schema_path else None, args.render, args.worst,
                           progress=not args.no_progress, max_objects=args.max_objects)
        except (OSError, ValueError, TypeError) as e:
            print(f"verireward score: {e}", file=sys.stderr)
            return 2
        for w in result["warnings"]:
            print(f"verireward score: warning: {w}", file=sys.stderr)
        print_table(result, sys.stdout)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
