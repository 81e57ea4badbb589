#!/usr/bin/env bash
# Writes resources/screenshot.png: the main window after two real steps of the deep residual
# MLP with every third block checkpointed, rendered under Xvfb.
#   bash tests/screenshot/screenshot.sh [BUILD_DIR] [OUT.png] [PRESET] [POLICY] [TAB]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-resources/screenshot.png}
xvfb-run -a -s "-screen 0 1700x1000x24" "$build/tests/screenshot/checkpointlab_screenshot" "$out" \
  "${3:-deep_residual_mlp}" "${4:-every:3}" "${5:-0}"
echo "wrote $out"
