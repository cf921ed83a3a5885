"""``verireward bench``: times each op against its baselines in one process and reports ratios.

For every case all implementations are first checked to agree (verireward vs torch on the full
input, vs the pure-Python loop and shapely on a prefix); a disagreement makes the run exit with
code 1. Then all implementations of a case are timed interleaved — one warm-up each, then ``repeat`` rounds
in which each runs once — and each reports its median (CUDA synchronized). Interleaving keeps a
machine whose speed drifts (a shared VM) from favouring whichever implementation ran first. The slow
baselines (pure Python, shapely) run on a prefix of at most ``python_limit`` outputs and are
reported as throughput, which is what every ratio compares. ``memcpy`` copies max(input bytes, output bytes) of the case with torch's
(multi-threaded) copy: the memory-traffic floor the kernel is measured against.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

import verireward as vr
from verireward._native import _C
from verireward._bench.cases import DEFAULT_SIZES, ONE_THREAD_OPS, Case, to_np, build_cases
from verireward._progress import Progress

# Targets: (op, baseline, minimum speedup) and memcpy ceilings.
SPEEDUP_TARGETS = [("iou_3d", "torch", 8.0), ("pairwise_iou_2d", "torch", 5.0), ("project_box_3d", "torch", 10.0),
                   ("grca_pipeline", "python", 150.0), ("mask_point_patches", "torch", 10.0),
                   ("iou_3d_oriented", "shapely", 200.0), ("iou_2d_rotated", "shapely", 100.0),
                   ("iou_3d_oriented_9dof", "shapely-bev", 50.0), ("match_boxes", "scipy", 50.0),
                   ("detection_map", "python", 100.0), ("parse_objects", "orjson", 3.0),
                   ("match_boxes_crowded", "scipy", 30.0), ("match_boxes_crowded_labels", "scipy", 30.0)]
MEMCPY_TARGETS = [("iou_3d", 2.0)]


def _time_interleaved(fns: Dict[str, Callable[[], Any]], repeat: int, sync: Callable[[], None]) -> Dict[str, float]:
    """Median seconds of each function over `repeat` round-robin rounds, after one warm-up each."""
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
        sync()
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


ONE_THREAD = "vr-1thread"  # verireward again, its OpenMP loops on one thread


def one_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
    """fn with verireward's CPU loops on one thread (restored after)."""
    def run_one() -> Any:
        before = _C.set_cpu_threads(1)
        try:
            return fn()
        finally:
            _C.set_cpu_threads(before)
    return run_one


def _check_agreement(case: Case) -> List[str]:
    errors = []
    conv = case.canon or to_np
    ref = conv(case.verireward())
    for name, fn in case.baselines.items():
        got = conv(fn())
        if got.shape != ref.shape or not np.allclose(got, ref, rtol=case.tolerance, atol=case.tolerance, equal_nan=False):
            diff = np.nanmax(np.abs(got - ref)) if got.shape == ref.shape else f"shape {got.shape} vs {ref.shape}"
            errors.append(f"{case.op}: {name} disagrees with verireward (max |diff| {diff})")
    ref_p = conv(case.verireward_prefix()).reshape(-1)
    for name, fn in case.prefix_baselines.items():
        if name in case.timed_only:
            continue
        got = conv(fn()).reshape(-1)
        if got.shape != ref_p.shape or not np.allclose(got, ref_p, rtol=case.tolerance, atol=case.tolerance):
            errors.append(f"{case.op}: {name} disagrees with verireward")
    return errors


def machine_info(device: str) -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "verireward": vr.build_info(),
        "device": device,
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def resolve_sizes(ops: Sequence[str], scale: float = 1.0, overrides: Optional[Dict[str, int]] = None) -> Dict[str, int]:
    """op -> size: the default times `scale` (at least 1), or the override."""
    unknown = [op for op in list(ops) + list(overrides or {}) if op not in DEFAULT_SIZES]
    if unknown:
        raise ValueError(f"unknown op {unknown[0]!r}; choose from {', '.join(DEFAULT_SIZES)}")
    sizes = {op: max(1, int(DEFAULT_SIZES[op] * scale)) for op in ops}
    sizes.update(overrides or {})
    return sizes


def run(sizes: Dict[str, int], dtype: str = "float32", device: str = "cpu", repeat: int = 5,
        python_limit: int = 20_000, seed: int = 0, json_path: Optional[str] = None, progress: bool = True,
        out=None) -> int:
    """Runs the benchmark; returns the process exit code (1 when implementations disagree)."""
    out = out if out is not None else sys.stdout
    if device == "cuda" and not vr.cuda_available():
        raise SystemExit("verireward bench: --device cuda needs a CUDA build and a usable GPU")
    tdtype = getattr(torch, dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    skipped: List[str] = []
    cases = build_cases(sizes, tdtype, device, python_limit, seed, skipped)
    for note in skipped:
        print(note, file=out)
    bar = Progress(3 * len(cases), progress)
    failures: List[str] = []
    slow_repeat = max(1, min(repeat, 2))
    for case in cases:
        bar.step(f"{case.op}: checking agreement")
        failures += _check_agreement(case)
        fast = {"verireward": case.verireward, **case.baselines}
        if case.op in ONE_THREAD_OPS and device == "cpu":
            fast[ONE_THREAD] = one_thread(case.verireward)
        if case.copy_bytes:
            src = torch.empty(case.copy_bytes, dtype=torch.uint8, device=device)
            dst = torch.empty_like(src)
            fast["memcpy"] = lambda: dst.copy_(src)
        t = _time_interleaved(fast, repeat, sync)
        bar.step(f"{case.op}: {', '.join(fast)}")
        t.update(_time_interleaved(case.prefix_baselines, slow_repeat, lambda: None))
        bar.step(f"{case.op}: {', '.join(case.prefix_baselines)}")
        t_vr = t["verireward"]
        for name in ["verireward", *([ONE_THREAD] if ONE_THREAD in t else []), *case.baselines, *case.prefix_baselines]:
            on_prefix = name in case.prefix_baselines
            n_el = case.python_elements if on_prefix else case.elements
            case.results.append({"impl": name, "seconds": t[name], "elements": n_el, **({"prefix": True} if on_prefix else {})})
        if case.copy_bytes:
            case.results.append({"impl": "memcpy", "seconds": t["memcpy"], "bytes": case.copy_bytes})
        vr_rate = case.elements / t_vr
        one_rate = case.elements / t[ONE_THREAD] if ONE_THREAD in t else None
        for r in case.results:
            if "elements" in r:
                r["throughput"] = r["elements"] / r["seconds"]
                r["verireward_speedup"] = vr_rate / r["throughput"]
                if one_rate is not None and r["impl"] not in ("verireward", ONE_THREAD):
                    r["verireward_1thread_speedup"] = one_rate / r["throughput"]
            else:
                r["verireward_over_memcpy"] = t_vr / r["seconds"]
    info = machine_info(device)
    _print_table(cases, info, dtype, failures, out)
    summary = _targets(cases, out)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": info, "dtype": dtype, "sizes": sizes, "repeat": repeat, "argv": sys.argv,
                       "cases": [{"op": c.op, "size": c.size, "results": c.results} for c in cases],
                       "targets": summary, "agreement_errors": failures, "skipped": skipped}, f, indent=2)
    out.flush()
    if failures:
        for f_ in failures:
            print("DISAGREEMENT: " + f_, file=sys.stderr)
        return 1
    return 0


def _print_table(cases: List[Case], info: Dict[str, Any], dtype: str, failures: List[str], out) -> None:
    b = info["verireward"]
    print(f"verireward {b['version']} bench  {info['date']}  device={info['device']}  dtype={dtype}", file=out)
    print(f"cpu: {info['cpu']} ({info['cores']} cores)  torch {info['torch']} ({info['torch_threads']} threads)  "
          f"openmp={b['openmp']} ({b['cpu_threads']} threads)  cuda build={b['cuda']}", file=out)
    print("agreement check: " + ("all implementations agree" if not failures else f"{len(failures)} DISAGREEMENT(S)"),
          file=out)
    w = max([22] + [len(c.op) + 2 for c in cases])  # the op column fits the longest name
    ws = max([16] + [len(c.size) + 2 for c in cases])  # the size and impl columns fit theirs too
    wi = max([12] + [len(r["impl"]) + 2 for c in cases for r in c.results])
    header = f"{'op':<{w}}{'size':<{ws}}{'impl':<{wi}}{'time':>11}{'throughput':>14}  verireward is"
    print(header, file=out)
    print("-" * (len(header) + 24), file=out)
    for c in cases:
        for i, r in enumerate(c.results):
            op, size = (c.op, c.size) if i == 0 else ("", "")
            t = r["seconds"]
            tstr = f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.1f} us"
            if "throughput" in r:
                rate = r["throughput"]
                thr = f"{rate / 1e6:.2f} M/s" if rate >= 1e5 else f"{rate / 1e3:.2f} k/s"
                note = "" if r["impl"] == "verireward" else f"{r['verireward_speedup']:.1f}x faster"
                if "verireward_1thread_speedup" in r:
                    note += f" ({r['verireward_1thread_speedup']:.1f}x on 1 thread)"
                if r["impl"] == ONE_THREAD:
                    note = "verireward on one thread"
                if r["impl"] in c.prefix_baselines:
                    note += f" (on {r['elements']:,})"
                if r["impl"] in c.timed_only:
                    note += " (timed only: another quantity)"
            else:
                thr = f"{r['bytes'] / t / 1e9:.2f} GB/s"
                note = f"{r['verireward_over_memcpy']:.2f}x memcpy time"
            print(f"{op:<{w}}{size:<{ws}}{r['impl']:<{wi}}{tstr:>11}{thr:>14}  {note}", file=out)
    print("(python, shapely, scipy, the COCO evaluators: timed on a prefix of the outputs, compared by throughput; "
          "vr-1thread: verireward on one thread, the second ratio; memcpy: torch copy of "
          "max(input, output) bytes)", file=out)


def _targets(cases: List[Case], out) -> List[Dict[str, Any]]:
    by_op = {c.op: c for c in cases}
    rows = []
    for op, base, need in SPEEDUP_TARGETS:
        res = next((r for r in by_op[op].results if r["impl"] == base), None) if op in by_op else None
        if res is not None:  # None: the op was not run, or its baseline was skipped
            got = res["verireward_speedup"]
            row = {"target": f"{op} >= {need:g}x {base}", "measured": round(got, 2), "met": got >= need}
            if "verireward_1thread_speedup" in res:
                row["measured_1thread"] = round(res["verireward_1thread_speedup"], 2)
            rows.append(row)
    for op, ceiling in MEMCPY_TARGETS:
        if op in by_op:
            got = next(r["verireward_over_memcpy"] for r in by_op[op].results if r["impl"] == "memcpy")
            rows.append({"target": f"{op} <= {ceiling:g}x memcpy time", "measured": round(got, 2), "met": got <= ceiling})
    if rows:
        print("targets (at the default sizes; informative, not a test):", file=out)
        for r in rows:
            one = f" ({r['measured_1thread']} on 1 thread)" if "measured_1thread" in r else ""
            print(f"  {'met   ' if r['met'] else 'MISSED'} {r['target']}: {r['measured']}{one}", file=out)
    return rows


__all__ = ["run", "DEFAULT_SIZES"]
