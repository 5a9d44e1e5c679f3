#!/bin/bash
# Runs `ddprun bench allreduce` (ring, fp32 and bf16 wire) and PyTorch Gloo
# (bench/allreduce_gloo.py) for the same sizes with 2 and 4 ranks on
# 127.0.0.1, alternating, RUNS times each, then prints side-by-side medians.
#
# Usage: bench/allreduce.sh            (from the repository root)
# Environment: RUNS (3), NPROCS ("2 4"), MIN_BYTES (4K), MAX_BYTES (256M),
#              ITERS (10), WARMUP (3), OUT (a new temporary directory)
set -eu
RUNS=${RUNS:-3}
NPROCS=${NPROCS:-"2 4"}
MIN_BYTES=${MIN_BYTES:-4K}
MAX_BYTES=${MAX_BYTES:-256M}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
# ddprun links libtorch (train, predict): use the project build environment.
if [ -f build/libtorch/env.sh ]; then . build/libtorch/env.sh; fi
go build -o "$OUT/ddprun" ./cmd/ddprun
sizes="--min-bytes $MIN_BYTES --max-bytes $MAX_BYTES --iters $ITERS --warmup $WARMUP"
for n in $NPROCS; do
	for run in $(seq 1 "$RUNS"); do
		echo "ranks $n, run $run: gloo" >&2
		/usr/bin/python3 bench/allreduce_gloo.py --nproc "$n" $sizes >"$OUT/gloo-n$n-$run.jsonl"
		echo "ranks $n, run $run: ring" >&2
		"$OUT/ddprun" --nproc "$n" bench allreduce --wire both --json $sizes >"$OUT/ring-n$n-$run.jsonl"
	done
done
echo "raw rows in $OUT" >&2
/usr/bin/python3 bench/allreduce_compare.py "$OUT"
