#!/usr/bin/env bash
# One prepared check for a lent GPU machine, in under 8 minutes: build verireward for the GPU's own
# architecture (VERIREWARD_CUDA=1), run the test suite's CUDA cases, run `verireward bench --device
# cuda --json`, and write every log and number under $OUT/gpu-check (the device tool brings $OUT
# back) or, without $OUT, under bench/gpu-check/. Its last lines are a summary table.
#
#   device run:  bash bench/gpu_check.sh            (timeout_s 540 leaves room for a rerun)
#   afterwards:  copy the folder into bench/ and record what it found in bench/RESULTS.md
#
# The device image has python3 with torch, pytest, hypothesis, scikit-build-core, pybind11 and
# tokenizers, and no network. Test modules needing what it lacks (shapely, trl) are reported as
# collection errors and skipped; wheels carried in $WHEELS (a folder) are installed first.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out="${OUT:-$repo/bench}/gpu-check"
mkdir -p "$out"
py=${PYTHON:-python3}
start=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - start )) s)" | tee -a "$out/summary.txt"; }

step "device"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv > "$out/nvidia-smi.csv" 2>&1
cat "$out/nvidia-smi.csv" | tee -a "$out/summary.txt"
arch=$("$py" -c "import torch; a, b = torch.cuda.get_device_capability(); print(f'{a}{b}')" 2>>"$out/summary.txt")
[ -n "$arch" ] || { echo "no CUDA device visible to torch" | tee -a "$out/summary.txt"; exit 1; }
nvcc --version > "$out/nvcc.txt" 2>&1

step "build (sm_$arch, VERIREWARD_CUDA=1)"
venv=/tmp/vr-gpu-venv
rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
if [ -n "${WHEELS:-}" ] && [ -d "$WHEELS" ]; then
  "$venv/bin/pip" install -q --no-index --find-links "$WHEELS" "$WHEELS"/*.whl >> "$out/build.log" 2>&1
fi
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
if ! VERIREWARD_CUDA=1 CMAKE_CUDA_ARCHITECTURES="$arch" timeout 300 "$venv/bin/pip" install -v --no-deps \
     --no-build-isolation --config-settings=build-dir=/tmp/vr-gpu-build . >> "$out/build.log" 2>&1; then
  echo "BUILD FAILED (tail of build.log):" | tee -a "$out/summary.txt"; tail -40 "$out/build.log" | tee -a "$out/summary.txt"; exit 1
fi
(cd / && "$venv/bin/python" -c "import verireward as vr; print(vr.build_info()); print('cuda_available', vr.cuda_available())") \
  2>&1 | tee "$out/build_info.txt" | tee -a "$out/summary.txt"

step "tests: the CUDA cases (-k cuda)"
(cd / && timeout 240 "$venv/bin/python" -m pytest -q -p no:cacheprovider -k cuda --continue-on-collection-errors \
   -o addopts="-ra" "$repo/python_tests" --rootdir "$repo/python_tests" -c "$repo/pyproject.toml") > "$out/pytest-cuda.txt" 2>&1
echo "pytest exit $?" | tee -a "$out/summary.txt"
tail -3 "$out/pytest-cuda.txt" | tee -a "$out/summary.txt"

step "bench --device cuda"
(cd / && timeout 200 "$venv/bin/verireward" bench --device cuda --json "$out/bench-cuda.json" --no-progress) \
  > "$out/bench-cuda.txt" 2>&1
echo "bench exit $?" | tee -a "$out/summary.txt"
tail -30 "$out/bench-cuda.txt" | tee -a "$out/summary.txt"
step "done"
