#!/usr/bin/env bash
# Writes resources/screenshot.png: the main window after real runs of the deep residual MLP at
# batch 1024 with SGD (so activations, not optimizer state, decide the peak). Checkpoint none and
# all are run and pinned first; the final run checkpoints every third block, so the Compare tab
# overlays the three. Rendered under Xvfb; takes a few minutes on two cores.
#   bash tests/screenshot/screenshot.sh [BUILD_DIR] [OUT.png] [extra options, see screenshot.cpp]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-resources/screenshot.png}
shift $(( $# > 2 ? 2 : $# ))
if [ $# -eq 0 ]; then
  set -- --preset deep_residual_mlp --batch 1024 --optimizer sgd --compare none,all --policy every:3
fi
xvfb-run -a -s "-screen 0 1800x1100x24" "$build/tests/screenshot/checkpointlab_screenshot" "$out" "$@"
echo "wrote $out"
