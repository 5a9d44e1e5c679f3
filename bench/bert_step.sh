#!/usr/bin/env bash
# Training-step throughput, ddprun vs PyTorch eager on the same libtorch,
# side by side: forward + backward + AdamW (+ clipping), seq 128, batch 16,
# 1 intra-op thread, random tokens, presets tiny and mini, fp32 and bf16.
# PyTorch runs twice: with glibc malloc's defaults and with the malloc
# setting ddprun applies itself (torchrt Note [Allocator]). Medians of RUNS.
#
#   make bench-bert                       # or: RUNS=5 STEPS=30 bash bench/bert_step.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. build/libtorch/env.sh
RUNS=${RUNS:-3}
STEPS=${STEPS:-20}
PRESETS=${PRESETS:-"tiny mini"}
PRECISIONS=${PRECISIONS:-"fp32 bf16"}
PY=/usr/bin/python3
bin=$(mktemp -d)/ddprun
go build -o "$bin" ./cmd/ddprun
export OPENBLAS_NUM_THREADS=1
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['$1'])"; }
printf "%-5s %-5s %12s %12s %12s %8s %8s %10s %10s\n" preset prec ddprun torch torch+mall ratio ratio+m rss_ddprun rss_torch
for preset in $PRESETS; do
  for prec in $PRECISIONS; do
    d=(); t=(); tm=(); rd=(); rt=()
    for _ in $(seq "$RUNS"); do
      out=$("$bin" bench step --json --device cpu --preset "$preset" --precision "$prec" --steps "$STEPS" --threads 1)
      d+=("$(echo "$out" | field samples_per_sec)"); rd+=("$(echo "$out" | field peak_rss_mb)")
      out=$($PY bench/bert_step.py --preset "$preset" --precision "$prec" --steps "$STEPS" --threads 1)
      t+=("$(echo "$out" | field samples_per_sec)"); rt+=("$(echo "$out" | field peak_rss_mb)")
      out=$(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296 $PY bench/bert_step.py --preset "$preset" --precision "$prec" --steps "$STEPS" --threads 1)
      tm+=("$(echo "$out" | field samples_per_sec)")
    done
    md=$(printf "%s\n" "${d[@]}" | median); mt=$(printf "%s\n" "${t[@]}" | median); mtm=$(printf "%s\n" "${tm[@]}" | median)
    mrd=$(printf "%s\n" "${rd[@]}" | median); mrt=$(printf "%s\n" "${rt[@]}" | median)
    printf "%-5s %-5s %12.1f %12.1f %12.1f %8.2f %8.2f %10.0f %10.0f\n" "$preset" "$prec" "$md" "$mt" "$mtm" \
      "$(echo "$md / $mt" | bc -l)" "$(echo "$md / $mtm" | bc -l)" "$mrd" "$mrt"
  done
done
echo "(samples/s, medians of $RUNS runs of $STEPS steps; ratio = ddprun / PyTorch, ratio+m = ddprun / PyTorch with the same malloc setting; RSS in MB)"
