#!/usr/bin/env bash
# The stages of device_check.sh after the GPU tests (run by on-device.sh as CKPT_AFTER, with the
# build in $CKPT_BUILD, the carried libraries on LD_LIBRARY_PATH and the stages in $CKPT_STAGES).
set -uo pipefail
out=${OUT:-/tmp/ckpt-gpu-out}
b=$CKPT_BUILD
has() { [[ ",$CKPT_STAGES," == *",$1,"* ]]; }
echo "== GPU"; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)'
if has bench; then
  echo "== benchmark against PyTorch"
  q=--quick; has bench-tf32 && q=
  # The flash rows (bf16 against scaled_dot_product_attention) come last, after the f32 ones.
  timeout 420 python3 tests/bench/run_gpu_bench.py "$b" --steps 10 $q 2>&1 | tee "$out/bench.log"
fi
if has record; then
  echo "== a recorded GPU run (report, trace, timeline)"
  timeout 60 "$b/app/checkpointlab" run gpt2_small_gpu --device cuda --checkpoint every:2 --steps 2 \
    --report "$out/gpu_report.json" --trace "$out/gpu_trace.json" --csv "$out/gpu_timeline.csv"
  echo "exit $?"
  timeout 60 "$b/app/checkpointlab" run deep_residual_mlp --device cuda --steps 3 --quiet --trace "$out/deep_trace.json"
  echo "exit $?"
  # Flash attention, every block checkpointed with attention_core: 9.34 GiB predicted.
  timeout 60 "$b/app/checkpointlab" run gpt2_long_context --device cuda --quiet --memory-limit 8GiB
  echo "exit $? (3 expected: out of memory)"
  timeout 60 "$b/app/checkpointlab" run gpt2_long_context --device cuda --quiet --steps 2
  echo "exit $? (0 expected: flash attention at 8192 tokens on the device)"
fi
if has suite; then
  echo "== the rest of the suite"
  (cd "$b" && QT_QPA_PLATFORM=offscreen timeout 240 ctest -LE gpu -j8 --timeout 200 --output-on-failure 2>&1 | tail -30)
fi
if has memcheck; then
  echo "== compute-sanitizer memcheck over the backend ops"
  cs=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
  if [ -n "$cs" ]; then
    QT_QPA_PLATFORM=offscreen timeout 150 "$cs" --tool memcheck --error-exitcode 9 "$b/tests/tst_backend_ops" ops 2>&1 \
      | grep -E "^(FAIL|Totals)|ERROR SUMMARY|Invalid|out of bounds" | head -20
    echo "memcheck exit ${PIPESTATUS[0]}"
  fi
fi
