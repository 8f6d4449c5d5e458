#!/usr/bin/env bash
# The GPU check, in one script, for a GPU machine with no internet (at most about 9 minutes:
# each part has a time limit, and a part that runs out is named in the table, not waited for):
#   1. installs what the machine's Python lacks from wheels carried beside the repository (.whl/),
#   2. runs the CUDA tests (pytest -m cuda),
#   3. runs the smoke pipeline (configs/smoke/gpu.yaml: WRN-16-8, both switching directions,
#      Hessians, spectra, figures, claims, archive) through snakemake, timed,
#   4. measures training throughput on the eager fast paths (benchmarks/sam_throughput.py) and
#      writes the throughput table that `sharpness plan --gpu` prices configs with; probes what
#      torch.compile and CUDA graphs do to the SAM step and why (benchmarks/compile_probe.py); and
#      the aggregate throughput of k = 1, 4, 8 runs sharing the GPU (benchmarks/parallel_throughput.py),
#   5. measures the Hessian engine at paper shape against PyHessian (benchmarks/spectrum_gpu.py),
# and prints one table at the end. Each part's output is saved in $OUT (default results/gpu_check).
#
# On a machine with internet, fetch the wheels once, for the GPU machine's Python version and
# platform; dependencies come along, and whatever of them the GPU machine already has is skipped
# there (only wheels of distributions it lacks are installed, each without its dependencies):
#   python3 -m pip wheel -w .whl --no-deps 'connection_pool>=0.0.3'  # snakemake needs it; PyPI has no wheel
#   python3 -m pip download -d .whl --find-links .whl --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#       'snakemake>=9,<10' netCDF4 jsonschema tabulate
#   python3 -m pip download -d .whl --no-deps pyhessian    # not its torch: the machine has one
# (checked on 2026-12-07: 56 wheels, 55 MB, of which the machine's own numpy and the like are skipped)
# then copy .whl/ next to this repository's top level on the GPU machine and run
#   bash benchmarks/gpu_check.sh
# DEVICE=cpu runs the same script on a CPU (the smoke pipeline left out), to check its plumbing.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/sharpness-site}  # where missing packages are installed
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-results/gpu_check}
mkdir -p "$OUT"
export MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824 PYTHONUNBUFFERED=1
# Seconds each part may take; a part that runs out exits 124 and the table says so.
# The defaults add up to 525 s, under the 10 minutes one call on a lent GPU machine may take.
LIMIT_TESTS=${LIMIT_TESTS:-60} LIMIT_SMOKE=${LIMIT_SMOKE:-140} LIMIT_THROUGHPUT=${LIMIT_THROUGHPUT:-75}
LIMIT_COMPILE=${LIMIT_COMPILE:-100} LIMIT_PARALLEL=${LIMIT_PARALLEL:-45} LIMIT_SPECTRUM=${LIMIT_SPECTRUM:-60}
limited() { local seconds=$1; shift; timeout --kill-after=10 "$seconds" "$@"; }

# -- 1. what is missing ---------------------------------------------------------------------
missing=$("$PY" - <<'PY'
import importlib.util
needed = {"snakemake": "snakemake", "netCDF4": "netCDF4", "jsonschema": "jsonschema", "xarray": "xarray",
          "seaborn": "seaborn", "scipy": "scipy", "sklearn": "scikit-learn", "yaml": "pyyaml",
          "tabulate": "tabulate", "pytest": "pytest", "pyhessian": "pyhessian"}
print(" ".join(pkg for module, pkg in needed.items() if importlib.util.find_spec(module) is None))
PY
)
if [ -n "$missing" ]; then
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "missing: $missing; no wheels in $WHEELS/ (see the top of this script for how to fetch them)" >&2
    exit 1
  fi
  # The wheels of distributions this Python lacks, installed without dependencies: a wheel of
  # something it has (numpy, torch) would shadow the machine's own build.
  absent=$("$PY" - "$WHEELS" <<'PY'
import importlib.metadata, pathlib, re, sys
installed = {re.sub(r"[-_.]+", "_", d.metadata["Name"]).lower() for d in importlib.metadata.distributions()}
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    if wheel.name.split("-")[0].lower() not in installed:
        print(wheel)
PY
)
  echo "missing: $missing; installing from $WHEELS/: $(echo $absent | xargs -n1 basename 2>/dev/null | tr '\n' ' ')"
  if [ -n "$absent" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" $absent || exit 1
  fi
  export PYTHONPATH=$SITE:${PYTHONPATH:-}
  still=$("$PY" -c "import importlib.util as u; print(' '.join(m for m in '$missing'.split() if u.find_spec({'scikit-learn': 'sklearn', 'pyyaml': 'yaml'}.get(m, m)) is None))")
  if [ -n "$still" ]; then echo "still missing after the install: $still (add their wheels to $WHEELS/)" >&2; exit 1; fi
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
if [ "$DEVICE" = cuda ]; then
  "$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'" || exit 1
fi

# -- 2. CUDA tests --------------------------------------------------------------------------
limited "$LIMIT_TESTS" "$PY" -m pytest -q -p no:cacheprovider -m cuda tests > "$OUT/cuda_tests.log" 2>&1
tests_rc=$?
tail -3 "$OUT/cuda_tests.log"
tests="$(tail -1 "$OUT/cuda_tests.log") (exit $tests_rc)"

# -- 3. the smoke pipeline ------------------------------------------------------------------
start=$(date +%s)
if [ "$DEVICE" = cuda ]; then
  limited "$LIMIT_SMOKE" "$PY" -m snakemake --cores 4 --configfile configs/smoke/gpu.yaml --forceall --quiet progress > "$OUT/smoke.log" 2>&1
  smoke_rc=$?
else
  echo "the smoke study is a CUDA study: not run with DEVICE=$DEVICE" > "$OUT/smoke.log"
  smoke_rc=-
fi
smoke_s=$(( $(date +%s) - start ))
tail -5 "$OUT/smoke.log"

# -- 4. training throughput, the eager fast paths ------------------------------------------
gpu=$("$PY" -c "import torch, re; name = torch.cuda.get_device_name() if '$DEVICE' == 'cuda' else 'cpu'; print(re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-').lower())")
# A GPU's table is for committing; a plumbing run's stays in $OUT.
if [ "$DEVICE" = cuda ]; then table=benchmarks/throughput/$gpu.json; else table=$OUT/$gpu.json; fi
limited "$LIMIT_THROUGHPUT" "$PY" benchmarks/sam_throughput.py --device "$DEVICE" --models ResNet-20 ResNet-18 WRN-16-8 \
    --paths plain channels_last channels_last+bfloat16 \
    --table "$table" 2>&1 | tee "$OUT/throughput.log"
throughput_rc=${PIPESTATUS[0]}
cp "$table" "$OUT/" 2>/dev/null

# -- 4a. compile and CUDA graphs: how much, and why --------------------------------------
limited "$LIMIT_COMPILE" "$PY" benchmarks/compile_probe.py --device "$DEVICE" --models ResNet-20 WRN-16-8 \
    --paths channels_last+bfloat16 channels_last+bfloat16+compile channels_last+bfloat16+reduce-overhead \
    2>&1 | tee "$OUT/compile.log"
compile_rc=${PIPESTATUS[0]}

# -- 4b. several runs per GPU (parallel_runs) ----------------------------------------------
parallel_rc=0
for model in ResNet-20 WRN-16-8; do
  limited "$LIMIT_PARALLEL" "$PY" benchmarks/parallel_throughput.py --device "$DEVICE" --model "$model" --k 1 4 8 2>&1 | tee -a "$OUT/parallel.log"
  rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || parallel_rc=$rc
done

# -- 5. the Hessian engine at paper shape ---------------------------------------------------
limited "$LIMIT_SPECTRUM" "$PY" benchmarks/spectrum_gpu.py --device "$DEVICE" 2>&1 | tee "$OUT/spectrum.log"
spectrum_rc=${PIPESTATUS[0]}

# -- one table ------------------------------------------------------------------------------
{
  echo
  echo "| check | result |"
  echo "|---|---|"
  echo "| device, torch | $("$PY" -c "import torch; print(torch.cuda.get_device_name() if '$DEVICE' == 'cuda' else 'CPU', torch.__version__)") |"
  echo "| CUDA tests | $tests |"
  echo "| smoke pipeline (configs/smoke/gpu.yaml) | exit $smoke_rc, ${smoke_s} s wall |"
  grep -E "^ +(plain|channels_last)" "$OUT/throughput.log" | sed -E 's/^ +/| throughput: /; s/ +our SAM/ | our SAM/; s/$/ |/'
  grep -E "^(ResNet|WRN)" "$OUT/throughput.log" | sed -E 's/^/| reference: /; s/$/ |/'
  echo "| throughput, compile probe, parallel runs, spectrum: exit codes (124: out of time) | $throughput_rc, $compile_rc, $parallel_rc, $spectrum_rc |"
  grep -E "^(ResNet|WRN)|kernel ms|graph break|no kernel|eager: " "$OUT/compile.log" | sed -E 's/^ +//; s/^/| compile: /; s/$/ |/'
  grep -E "^(device|k = )" "$OUT/parallel.log" | sed -E 's/^/| parallel runs: /; s/$/ |/'
  grep -E "^(double_backward|forward_over_reverse|finite_difference|PyHessian|top-5|one full-data)" "$OUT/spectrum.log" | sed -E 's/^/| spectrum: /; s/$/ |/'
} | tee "$OUT/summary.md"

# Exit 0 only when every part that ran finished cleanly (a part out of time measured less).
failed=""
for part in tests:$tests_rc smoke:$smoke_rc throughput:$throughput_rc compile:$compile_rc parallel:$parallel_rc spectrum:$spectrum_rc; do
  case ${part#*:} in 0|-) ;; *) failed="$failed ${part%%:*}" ;; esac
done
if [ -n "$failed" ]; then echo "parts that did not finish cleanly:$failed" >&2; exit 1; fi
exit 0
