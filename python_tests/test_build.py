"""build_info / cuda_available report what was compiled and never raise."""

from __future__ import annotations

import verireward as vr


def test_build_info_fields():
    info = vr.build_info()
    assert set(info) >= {"version", "cuda", "cuda_version", "cuda_architectures", "openmp", "cpu_threads", "compiler"}
    assert info["version"] == vr.__version__
    assert isinstance(info["cuda"], bool) and isinstance(info["openmp"], bool)
    if info["cuda"]:
        assert info["cuda_version"] and all(a.strip().isdigit() for a in info["cuda_architectures"].split(","))
    else:
        assert info["cuda_version"] is None and info["cuda_architectures"] is None
    assert info["cpu_threads"] >= 1


def test_cuda_available_is_a_bool_and_consistent():
    avail = vr.cuda_available()
    assert isinstance(avail, bool)
    if not vr.build_info()["cuda"]:
        assert avail is False
    from verireward import _C

    assert avail == (vr.build_info()["cuda"] and _C.cuda_device_count() > 0)
    if not avail:
        assert _C.cuda_runtime_error() != ""


def test_importing_verireward_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, verireward as vr, numpy as np; vr.iou_2d(np.zeros(4), np.zeros(4)); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "False"
