#!/usr/bin/env bash
# Set-up, build and start CheckpointLab on a fresh Debian 12 machine, or run its tests.
#
#   bash app/bootstrap.sh start   # install what is missing, build (Release), start the program
#   bash app/bootstrap.sh test    # install what is missing, build, run every test (offscreen)
#   bash app/bootstrap.sh bench   # ... and the CPU benchmark against PyTorch (python3-torch)
#
# Idempotent: packages already present are not reinstalled and the build is incremental.
# Works as root or through sudo. The build folder is ./build (override with CKPT_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
mode=${1:-start}
build=${CKPT_BUILD_DIR:-build}

pkgs=(build-essential cmake ninja-build pkg-config qt6-base-dev qt6-base-dev-tools qt6-svg-dev
      libqcustomplot-dev libopenblas-openmp-dev nlohmann-json3-dev xvfb xauth)
# The PyTorch cross-check (tests) and benchmark (bench) need Debian's PyTorch.
[ "$mode" != start ] && pkgs+=(python3 python3-torch)

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

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CKPT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)"

case "$mode" in
  start)
    shift || true
    exec "$build/app/checkpointlab" "$@" ;;
  test)
    cd "$build"
    QT_QPA_PLATFORM=offscreen ctest --output-on-failure -j"$(nproc)" ;;
  bench)
    /usr/bin/python3 tests/bench/run_cpu_bench.py "$build" ;;
  *)
    echo "usage: bash app/bootstrap.sh start|test|bench" >&2; exit 2 ;;
esac
