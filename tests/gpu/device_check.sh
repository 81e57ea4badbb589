#!/usr/bin/env bash
# The whole GPU check in one call, for a lent GPU machine (../shared/gpu/README.md). Run from
# the project root with .gpu carried (made here by ../shared/gpu/prepare.sh):
#   bash tests/gpu/device_check.sh [--bench-full]
# It builds the engine, the CLI and the tests with CUDA for the local GPU (no UI), runs the GPU
# tests first, then the benchmark against PyTorch, records a GPU run with --report/--trace/--csv
# (to open here in the app), runs the rest of the suite, and ends with compute-sanitizer over the
# backend ops. Logs and files land in $OUT. Each stage has a time limit so the call ends in time.
set -uo pipefail
out=${OUT:-/tmp/ckpt-gpu-out}
mkdir -p "$out"
export CKPT_BUILD=${CKPT_BUILD:-/tmp/ckpt-gpu-build}
bench_args=--quick
[ "${1:-}" = --bench-full ] && bench_args=
# Stage 1 and 2 (on-device.sh): unpack the carried packages, build, run the GPU tests.
CKPT_CTEST_ARGS="-L gpu --timeout 400" CKPT_AFTER="bash tests/gpu/after_gpu_tests.sh $bench_args" \
  bash .gpu/on-device.sh -DCKPT_BUILD_UI=OFF
