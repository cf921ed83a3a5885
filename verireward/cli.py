"""The ``verireward`` command line.

``verireward bench``: times every op against a pure-Python per-sample loop, vectorized torch, shapely
(2D IoU) and a memory copy, after checking that they agree; prints a table of throughputs and
ratios and, with ``--json FILE``, saves every number with the machine it was measured on.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List, Optional


def _size_override(text: str) -> Dict[str, int]:
    op, sep, n = text.partition("=")
    if not sep or not n.isdigit() or int(n) < 1:
        raise argparse.ArgumentTypeError(f"expected OP=N with N >= 1, got {text!r}")
    return {op: int(n)}


def _parser() -> argparse.ArgumentParser:
    from verireward._bench.runner import DEFAULT_SIZES

    parser = argparse.ArgumentParser(prog="verireward", description="Exact, batched rewards for geometric RL.")
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
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        from verireward._bench.runner import resolve_sizes, run

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
    return 2


if __name__ == "__main__":
    sys.exit(main())
