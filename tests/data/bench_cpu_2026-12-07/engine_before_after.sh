#!/bin/bash
# Engine before (66e536f, build/base-build) and after (build), same preset, same load, alternating;
# 5 timed steps each (the old engine under load takes seconds a step).
cd /work/wt/i31/build
out=/tmp/i31bench/base.log
echo "## $(date -u +%H:%M:%S) uptime: $(uptime)" > $out
for load in 0 2; do
  pids=()
  for i in $(seq 1 $load); do timeout 900 nice -n 10 python3 -c 'while True: pass' & pids+=($!); done
  for t in 1 2; do
    for preset in resnet20_cifar; do
      for round in 1; do
        for which in base-build/tests/bench/bench_engine tests/bench/bench_engine; do
          echo "## load=$load threads=$t $preset round=$round $which $(date -u +%H:%M:%S) $(cut -d' ' -f1-3 /proc/loadavg)" >> $out
          nice -n 10 timeout 300 ./$which ../resources/presets/$preset.json none,all 3 $t >> $out 2>&1
        done
      done
    done
  done
  for p in "${pids[@]}"; do kill $p; done; wait
done
echo "## $(date -u +%H:%M:%S) uptime: $(uptime)" >> $out
echo done > /tmp/i31bench/BASEDONE
