#!/usr/bin/env bash
# Retakes the README's pictures from the startup preset (lesson1_activations), under Xvfb:
#   resources/screenshot-prediction.png  the window as it opens: the prediction, before any run
#   resources/screenshot.png             after runs: checkpoint none and every:2 pinned, then two
#                                        steps of the preset's own ticks (every block)
#   resources/screenshot-compare.png     the same, on the Compare tab
# With extra options, writes one picture instead (see screenshot.cpp for the options).
#   bash tests/screenshot/screenshot.sh [BUILD_DIR] [OUT.png] [extra options]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
tool="$build/tests/screenshot/checkpointlab_screenshot"
shoot() { xvfb-run -a -s "-screen 0 1800x1100x24" "$tool" "$@"; }
if [ $# -gt 2 ]; then
  out=$2
  shift 2
  shoot "$out" "$@"
  echo "wrote $out"
  exit 0
fi
out=${2:-resources/screenshot.png}
dir=$(dirname "$out")
# One thread: on a shared two-core machine two BLAS threads wait on each other and the times
# (and so the overhead figure) become noise.
shoot "$dir/screenshot-prediction.png" --steps 0
shoot "$out" --compare none,every:2 --steps 2 --threads 1
shoot "$dir/screenshot-compare.png" --compare none,every:2 --steps 2 --threads 1 --tab 3
echo "wrote $dir/screenshot-prediction.png, $out and $dir/screenshot-compare.png"
