#!/usr/bin/env bash
# Set-up, build and start CheckpointLab on a fresh Debian 12 machine, or run its tests.
#
#   bash app/bootstrap.sh start   # install what is missing, build (Release), start the program
#   bash app/bootstrap.sh test    # install what is missing, build, run every test (offscreen)
#   bash app/bootstrap.sh bench   # ... and the CPU benchmarks against PyTorch (python3-torch): full
#                                 # steps (run_cpu_bench.py), one attention layer (run_attention_bench.py)
#   bash app/bootstrap.sh sanitize  # ASan + UBSan build (clang) of the engine, CLI and tests in
#                                   # build-asan: the fast tests, and the fuzz targets over their seeds
#   bash app/bootstrap.sh package   # build, then the Debian package checkpointlab_VERSION_amd64.deb
#                                   # in the build folder, unpacked, run and checked by lintian
#
# Idempotent: packages already present are not reinstalled and the build is incremental.
# Works as root or through sudo. Each build is a preset of CMakePresets.json, its one
# definition: start, test and bench configure the "release" preset in ./build (another folder
# with CKPT_BUILD_DIR), sanitize the "asan" preset in ./build-asan (CKPT_ASAN_BUILD_DIR);
# CKPT_CMAKE_ARGS adds cache settings to either (e.g. "-DCKPT_WITH_CUDA=OFF").
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
mode=${1:-start}
build=${CKPT_BUILD_DIR:-build}

pkgs=(build-essential cmake ninja-build pkg-config qt6-base-dev qt6-base-dev-tools qt6-svg-dev
      libqcustomplot-dev libopenblas-openmp-dev nlohmann-json3-dev xvfb xauth)
# The PyTorch cross-check (tests) and benchmark (bench) need Debian's PyTorch; the sanitizer
# stage of CI (test, sanitize) needs clang, its sanitizer and libFuzzer runtimes, and clang's
# OpenMP; the package stage (test, package) dpkg-shlibdeps and lintian.
case "$mode" in test|bench|sanitize) pkgs+=(python3 python3-torch) ;; esac
case "$mode" in test|sanitize) pkgs+=(clang libclang-rt-14-dev libomp-dev) ;; esac
case "$mode" in test|package) pkgs+=(dpkg-dev lintian) ;; esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "checkpointlab: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$mode" = sanitize ]; then
  # Engine, CLI and tests with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on,
  # UB aborts), and the fuzz target. The step-level tests (tst_memory, tst_checkpointing: dozens
  # of full training steps each, 3-4 minutes apiece under ASan) are left to the Release run.
  build=${CKPT_ASAN_BUILD_DIR:-build-asan}
  # shellcheck disable=SC2086  # CKPT_CMAKE_ARGS is a list of arguments
  cmake --preset asan -B "$build" ${CKPT_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j"$(nproc)"
  # The preset's sanitizer options and label filter (no "slow" tests), in the chosen folder.
  ctest --preset asan --test-dir "$build" -j"$(nproc)"
  # The fuzzer under the same sanitizer options as the preset's tests.
  export ASAN_OPTIONS=detect_leaks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Every seed and regression file once, then a minute of fuzzing from them.
  fuzz="$build/tests/fuzz/fuzz_model_spec"
  "$fuzz" -timeout=5 resources/presets/*.json tests/data/malformed/*.json tests/data/configs/*.json \
    tests/fuzz/seeds/*.json 2>"$build/fuzz-seeds.log" \
    || { tail -40 "$build/fuzz-seeds.log"; exit 1; }
  mkdir -p "$build/fuzz-corpus"
  "$fuzz" -max_total_time="${CKPT_FUZZ_SECONDS:-60}" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
    -dict=tests/fuzz/model_spec.dict -artifact_prefix="$build/fuzz-" "$build/fuzz-corpus" \
    resources/presets tests/data/malformed tests/data/configs tests/fuzz/seeds 2>"$build/fuzz.log" \
    || { tail -60 "$build/fuzz.log"; exit 1; }
  tail -1 "$build/fuzz.log"
  # The report target likewise: reports of every preset (written here), the recorded GPU reports
  # and the malformed report cases once, then a minute of fuzzing from them.
  seeds="$build/report-seeds"
  "$build/tests/fuzz/make_report_seeds" resources/presets "$seeds" >/dev/null
  fuzz="$build/tests/fuzz/fuzz_report"
  "$fuzz" -timeout=5 "$seeds"/*.json tests/data/malformed/report_*.json tests/data/gpu_h200_*/gpu_*.json \
    2>"$build/fuzz-report-seeds.log" || { tail -40 "$build/fuzz-report-seeds.log"; exit 1; }
  mkdir -p "$build/fuzz-report-corpus"
  "$fuzz" -max_total_time="${CKPT_FUZZ_SECONDS:-60}" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
    -dict=tests/fuzz/report.dict -artifact_prefix="$build/fuzz-report-" "$build/fuzz-report-corpus" "$seeds" \
    tests/data/malformed tests/data/gpu_h200_2026-11-29_run2 2>"$build/fuzz-report.log" || { tail -60 "$build/fuzz-report.log"; exit 1; }
  tail -1 "$build/fuzz-report.log"
  # PyTorch memory snapshots (pickles): the fixtures once, then half a minute of fuzzing.
  fuzz="$build/tests/fuzz/fuzz_torch_snapshot"
  "$fuzz" -timeout=5 tests/data/torch_snapshots/*.pickle 2>"$build/fuzz-snapshot-seeds.log" \
    || { tail -40 "$build/fuzz-snapshot-seeds.log"; exit 1; }
  mkdir -p "$build/fuzz-snapshot-corpus"
  "$fuzz" -max_total_time="$(( ${CKPT_FUZZ_SECONDS:-60} / 2 ))" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
    -dict=tests/fuzz/torch_snapshot.dict -artifact_prefix="$build/fuzz-snapshot-" "$build/fuzz-snapshot-corpus" \
    tests/data/torch_snapshots 2>"$build/fuzz-snapshot.log" || { tail -60 "$build/fuzz-snapshot.log"; exit 1; }
  tail -1 "$build/fuzz-snapshot.log"
  exit 0
fi

# shellcheck disable=SC2086
cmake --preset release -B "$build" ${CKPT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"

case "$mode" in
  start)
    shift || true
    exec "$build/app/checkpointlab" "$@" ;;
  test)
    ctest --preset release --test-dir "$build" -j"$(nproc)" ;;
  bench)
    /usr/bin/python3 tests/bench/run_cpu_bench.py "$build"
    /usr/bin/python3 tests/bench/run_attention_bench.py "$build" ;;
  package)
    (cd "$build" && cpack -G DEB >/dev/null)
    deb=$(ls "$build"/checkpointlab_*_amd64.deb)
    bash tests/package/check_package.sh "$deb"
    echo "$deb" ;;
  *)
    echo "usage: bash app/bootstrap.sh start|test|bench|sanitize|package" >&2; exit 2 ;;
esac
