#!/usr/bin/env bash
# Data-parallel scaling, ddprun over its TCP ring vs PyTorch DDP over Gloo,
# side by side on this machine: samples/s for 1 rank x 1 thread, 2 ranks x
# 1 thread and 1 rank x 2 threads, presets PRESETS (batch 16 per rank, seq
# 128, random tokens), fp32 and bf16, medians of RUNS. Scaling efficiency =
# (2 ranks) / (2 x 1 rank). PyTorch runs with glibc malloc tuned as ddprun
# tunes it itself (MALLOC_* variables) and, for 1 and 2 ranks x 1 thread,
# also stock. Rank 0's minor page faults per step and peak RSS are medians
# too (ddprun's from metrics.jsonl).
#
#   RUNS=3 bash bench/ddp_scaling.sh            # PRESETS="tiny mini" by default
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
STEPS=${STEPS:-14}
PRESETS=${PRESETS:-${PRESET:-"tiny mini"}}
PRECISIONS=${PRECISIONS:-"fp32 bf16"}
PY=/usr/bin/python3
make -s build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$PY bench/random_csv.py "$work/train.csv" # every row fills 128 tokens
TUNED=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=4294967296)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# ddprun: "samples/s faults/step peak-RSS-MB" from rank 0's metrics.jsonl
# (steady state: steps 4..STEPS).
ddprun_rate() { # preset nproc threads precision
  local out="$work/run-$RANDOM" launch=()
  [ "$2" -gt 1 ] && launch=(--nproc "$2")
  OPENBLAS_NUM_THREADS=$3 bin/ddprun "${launch[@]}" train --train "$work/train.csv" --preset "$1" --max-steps "$STEPS" \
    --batch-size 16 --max-length 128 --threads "$3" --precision "$4" --eval-strategy no --save-strategy no \
    --log-every 1 --no-report --output "$out" --cache-dir "$work/cache" >/dev/null 2>&1
  $PY - "$out/metrics.jsonl" "$2" <<'PYEOF'
import json, sys, datetime, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
t = {r["step"]: datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")) for r in rows}
lo, hi = 4, max(t)
steady = [r for r in rows if r["step"] > lo]
print((hi - lo) * 16 * int(sys.argv[2]) / (t[hi] - t[lo]).total_seconds(),
      statistics.median(r["minor_faults_per_step"] for r in steady), steady[-1]["peak_rss_mb"])
PYEOF
}
torch_rate() { # tuned|stock preset nproc threads precision
  local env=()
  [ "$1" = tuned ] && env=("${TUNED[@]}")
  env "${env[@]}" OPENBLAS_NUM_THREADS=$4 $PY bench/ddp_gloo.py --nproc "$3" --threads "$4" --preset "$2" --precision "$5" \
    --steps $((STEPS - 4)) --warmup 4 | $PY -c "import json,sys; r=json.loads(sys.stdin.readline()); print(r['samples_per_sec'], r['minor_faults_per_step'], r['peak_rss_mb'])"
}
col() { awk -v c="$1" '{print $c}' | median; }
printf "%-5s %-5s %-6s %9s %9s %9s %7s %7s %15s %13s\n" preset prec config ddprun torch torch-st ratio ratio-st "faults/step d/t" "rss MB d/t"
for preset in $PRESETS; do
  for prec in $PRECISIONS; do
    declare -A D T
    for cfg in "1 1" "2 1" "1 2"; do
      set -- $cfg
      d=(); p=(); st=()
      for _ in $(seq "$RUNS"); do
        d+=("$(ddprun_rate "$preset" "$1" "$2" "$prec")")
        p+=("$(torch_rate tuned "$preset" "$1" "$2" "$prec")")
        [ "$2" = 1 ] && st+=("$(torch_rate stock "$preset" "$1" "$2" "$prec")")
      done
      D[$cfg]=$(printf "%s\n" "${d[@]}" | col 1)
      T[$cfg]=$(printf "%s\n" "${p[@]}" | col 1)
      S=nan; rs=nan
      if [ ${#st[@]} -gt 0 ]; then
        S=$(printf "%s\n" "${st[@]}" | col 1); rs=$(echo "${D[$cfg]} / $S" | bc -l)
      fi
      printf "%-5s %-5s %-6s %9.1f %9.1f %9.1f %7.2f %7.2f %7.0f/%-7.0f %6.0f/%-6.0f\n" "$preset" "$prec" "${1}rx${2}t" \
        "${D[$cfg]}" "${T[$cfg]}" "$S" "$(echo "${D[$cfg]} / ${T[$cfg]}" | bc -l)" "$rs" \
        "$(printf "%s\n" "${d[@]}" | col 2)" "$(printf "%s\n" "${p[@]}" | col 2)" \
        "$(printf "%s\n" "${d[@]}" | col 3)" "$(printf "%s\n" "${p[@]}" | col 3)"
    done
    printf "%-5s %-5s %-6s %9.2f %9.2f\n" "$preset" "$prec" "eff" "$(echo "${D[2 1]} / (2 * ${D[1 1]})" | bc -l)" "$(echo "${T[2 1]} / (2 * ${T[1 1]})" | bc -l)"
  done
done
echo "(samples/s across ranks, batch 16 per rank, seq 128; medians of $RUNS runs; torch = PyTorch DDP over Gloo with ddprun's malloc setting,"
echo " torch-st = stock; eff = 2-rank throughput / (2 x 1-rank); faults and RSS of rank 0, d = ddprun, t = PyTorch with the setting)"
