#!/usr/bin/env bash
# The whole GPU check in one call, for a lent GPU machine (../shared/gpu/README.md). Run from
# the project root with .gpu carried (made here by ../shared/gpu/prepare.sh):
#   bash tests/gpu/device_check.sh [STAGES]
# STAGES (comma list, default all): bench (f32 against PyTorch), bench-tf32, record (a GPU run
# saved with --report/--trace/--csv, to open in the app), suite (the rest of the tests),
# memcheck (compute-sanitizer over the backend ops). The build (CUDA for the local GPU, no UI)
# and the GPU tests always run first. Logs and files land in $OUT; each stage has a time limit.
set -uo pipefail
export CKPT_BUILD=${CKPT_BUILD:-/tmp/ckpt-gpu-build}
export CKPT_STAGES=${1:-bench,bench-tf32,record,suite,memcheck}
CKPT_CTEST_ARGS="-L gpu --timeout 400" CKPT_AFTER="bash tests/gpu/after_gpu_tests.sh" \
  bash .gpu/on-device.sh -DCKPT_BUILD_UI=OFF
