#!/usr/bin/env bash
# Data-parallel scaling, ddprun over its TCP ring vs PyTorch DDP over Gloo,
# side by side on this machine: samples/s for 1 rank x 1 thread, 2 ranks x
# 1 thread and 1 rank x 2 threads, the mini preset (batch 16 per rank, seq
# 128, random tokens), fp32 and bf16, medians of RUNS. Scaling efficiency =
# (2 ranks) / (2 x 1 rank). Both sides get glibc malloc tuned the same way
# (ddprun does it itself; PyTorch through MALLOC_* variables).
#
#   RUNS=3 bash bench/ddp_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
STEPS=${STEPS:-14}
PRESET=${PRESET:-mini}
PRECISIONS=${PRECISIONS:-"fp32 bf16"}
PY=/usr/bin/python3
make -s build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A CSV whose every row fills 128 tokens.
$PY - "$work/train.csv" <<'PYEOF'
import random, sys
random.seed(1)
words = [l.strip() for l in open("bert/wordpiece/vocab/bert-base-uncased-vocab.txt") if l.strip().isalpha()][2000:12000]
with open(sys.argv[1], "w") as f:
    f.write("text,label\n")
    for i in range(4096):
        f.write('"%s",%d\n' % (" ".join(random.choice(words) for _ in range(160)), i % 3))
PYEOF
export MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# ddprun: steady-state samples/s from metrics.jsonl (steps 4..STEPS).
ddprun_rate() { # nproc threads precision
  local out="$work/run-$RANDOM" launch=()
  [ "$1" -gt 1 ] && launch=(--nproc "$1")
  OPENBLAS_NUM_THREADS=$2 bin/ddprun "${launch[@]}" train --train "$work/train.csv" --preset "$PRESET" --max-steps "$STEPS" \
    --batch-size 16 --max-length 128 --threads "$2" --precision "$3" --eval-strategy no --save-strategy no \
    --log-every 1 --no-report --output "$out" --cache-dir "$work/cache" >/dev/null 2>&1
  $PY - "$out/metrics.jsonl" "$1" <<'PYEOF'
import json, sys, datetime
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
t = {r["step"]: datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in rows}
lo, hi = 4, max(t)
print((hi - lo) * 16 * int(sys.argv[2]) / (t[hi] - t[lo]).total_seconds())
PYEOF
}
torch_rate() { # nproc threads precision
  OPENBLAS_NUM_THREADS=$2 $PY bench/ddp_gloo.py --nproc "$1" --threads "$2" --preset "$PRESET" --precision "$3" \
    --steps $((STEPS - 4)) --warmup 4 | $PY -c "import json,sys; print(json.loads(sys.stdin.readline())['samples_per_sec'])"
}
printf "%-5s %-10s %10s %10s %8s\n" prec config ddprun pytorch ratio
for prec in $PRECISIONS; do
  declare -A D T
  for cfg in "1 1" "2 1" "1 2"; do
    set -- $cfg
    d=(); p=()
    for _ in $(seq "$RUNS"); do
      d+=("$(ddprun_rate "$1" "$2" "$prec")")
      p+=("$(torch_rate "$1" "$2" "$prec")")
    done
    D[$cfg]=$(printf "%s\n" "${d[@]}" | median)
    T[$cfg]=$(printf "%s\n" "${p[@]}" | median)
    printf "%-5s %-10s %10.1f %10.1f %8.2f\n" "$prec" "${1}rx${2}t" "${D[$cfg]}" "${T[$cfg]}" "$(echo "${D[$cfg]} / ${T[$cfg]}" | bc -l)"
  done
  printf "%-5s %-10s %10.2f %10.2f\n" "$prec" "eff(2r)" "$(echo "${D[2 1]} / (2 * ${D[1 1]})" | bc -l)" "$(echo "${T[2 1]} / (2 * ${T[1 1]})" | bc -l)"
done
echo "(samples/s, $PRESET preset, batch 16 per rank, seq 128; medians of $RUNS runs; eff = 2-rank throughput / (2 x 1-rank))"
