#!/usr/bin/env bash
# Two hosts x one rank, for real: ddprun's launcher on each of two test
# hosts (network namespaces on a bridge, bench/netns-hosts.sh), the link
# limited to each of RATES by tc tbf on both ends (as internal/netns
# SetRate), beside PyTorch DDP over Gloo (bench/ddp_gloo.py, one rank per
# host, MASTER_ADDR on host 0, GLOO_SOCKET_IFNAME=eth0) in the same hosts.
# Same model (PRESET, random tokens, batch 16 per rank, seq 128), same
# PRECISION, --threads 1 / torch.set_num_threads(1) and OPENBLAS_NUM_THREADS=1
# per rank, the same malloc setting for both (MALLOC_ARENA_MAX=1 and the
# thresholds of torchrt Note [Allocator]). Prints, per rate and CONFIG, the
# medians of RUNS runs of:
#   samples/s   across both ranks, steady state (the last STEPS-4 steps)
#   eff         samples/s / (2 x one rank alone: 1 rank x 1 thread, measured
#               in host 0, for each implementation, in every round, so that
#               a round's ratio has both under the same load); also "two
#               alone": two 1-rank jobs at once, one per host, no
#               communication, the ceiling of two ranks on these cores
#   MB/step     bytes host 0 sent on eth0 per step in that window (sampled
#               from its counters: everything, framing included)
#   wire        ddprun's own count of gradient bytes per step (metrics.jsonl)
#   ar_s comp_s ddprun's all-reduce and compute seconds per step (rank 0's
#               metrics.jsonl: allreduce_s is the wait after backward, which
#               includes waiting for the other rank)
#   best        the best round's eff: others' jobs on the shared cores make
#               rounds bimodal (a lone rank measured 26-48 samples/s)
#   d/t         ddprun's samples/s over PyTorch's at the same rate
#
#   RUNS=3 bash bench/multihost.sh                       # as root
#   RATES="1gbit 100mbit" TORCH=0 CONFIGS=$'default|\noverlap off|--overlap off' bash bench/multihost.sh
#
# CONFIGS: one "label|ddprun train flags" per line (default "default|"),
# for measuring levers one at a time; TORCH=0 skips PyTorch; OUT=DIR keeps
# every round's figures (DIR/RATE/: one.d, pair, torch, d0, d1, ... in
# CONFIGS order; columns as the table's). Namespaces are
# removed when it ends (netns-hosts.sh's teardown), whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
STEPS=${STEPS:-14}
RATES=${RATES:-"10gbit 1gbit 100mbit"}
PRESET=${PRESET:-mini}
PRECISION=${PRECISION:-bf16}
CONFIGS=${CONFIGS:-"default|"}
TORCH=${TORCH:-1}
PY=/usr/bin/python3
train_flags() {
	echo --train "$work/train.csv" --preset "$PRESET" --max-steps "$STEPS" --batch-size 16 --max-length 128 --threads 1 \
		--precision "$PRECISION" --eval-strategy no --save-strategy no --log-every 1 --no-report --baseline none --cache-dir "$work/cache"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
col() { awk -v c="$1" '{print $c}' | median; }
best() { awk -v c="$1" '{print $c}' | sort -g | tail -1; }

# sample NS FILE: host NS's eth0 sent bytes, every 0.1 s, until killed.
# One process for the whole run: a shell loop forking ip, date and cat
# ten times a second took about 2 % of the cores from the ranks (perf).
sample() {
	exec ip netns exec "$1" $PY -c '
import sys, time
while True:
    with open("/sys/class/net/eth0/statistics/tx_bytes") as f:
        print("%.6f %s" % (time.time(), f.read().strip()), flush=True)
    time.sleep(0.1)' >"$2"
}

# ddprun_stats DIR WORLD [TXFILE]: "samples/s MB/step wire-MB ar_s comp_s"
# from rank 0's metrics.jsonl under DIR.
ddprun_stats() {
	$PY - "$(find "$1" -name metrics.jsonl | head -1)" "$2" "${3:-}" <<'PYEOF'
import bisect, datetime, json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"train"' in l]
t = {r["step"]: datetime.datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() for r in rows}
lo, hi = 4, max(t)
steady = [r for r in rows if r["step"] > lo]
rate = (hi - lo) * 16 * int(sys.argv[2]) / (t[hi] - t[lo])
mb = float("nan")
if sys.argv[3]:
    s = [tuple(map(float, l.split())) for l in open(sys.argv[3]) if len(l.split()) == 2]
    def at(x):  # linear interpolation of the sent-bytes counter
        i = min(max(bisect.bisect_left([p[0] for p in s], x), 1), len(s) - 1)
        (x0, y0), (x1, y1) = s[i - 1], s[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    mb = (at(t[hi]) - at(t[lo])) / (hi - lo) / 1e6
med = lambda k: statistics.median(r[k] for r in steady)
print(rate, mb, med("wire_mb"), med("allreduce_s"), med("compute_s"))
PYEOF
}

# ddprun_one: one rank alone in host 0 (no launcher; its ranks' malloc
# setting is exported above). Prints ddprun_stats.
ddprun_one() {
	local out=$work/one-$RANDOM
	ip netns exec "$H0" bin/ddprun train $(train_flags) --output "$out" >"$out.log" 2>&1 || { tail -5 "$out.log" >&2; return 1; }
	ddprun_stats "$out" 1
}

# ddprun_two FLAGS...: the launcher on both hosts. Prints ddprun_stats.
ddprun_two() {
	local out=$work/two-$RANDOM job=mh-$$-$RANDOM
	mkdir -p "$out"
	sample "$H0" "$out/tx" &
	local sampler=$!
	ip netns exec "$H0" bin/ddprun --nodes 2 --nproc 1 --bind "$A0" --port 7946 --node-name h0 --job-id "$job" \
		train $(train_flags) "$@" --output "$out/n0" >"$out/h0.log" 2>&1 &
	local p0=$!
	ip netns exec "$H1" bin/ddprun --nodes 2 --nproc 1 --bind "$A1" --port 7946 --join "$A0:7946" --node-name h1 --job-id "$job" \
		train $(train_flags) "$@" --output "$out/n1" >"$out/h1.log" 2>&1 &
	local p1=$! rc=0
	wait "$p0" || rc=$?
	wait "$p1" || rc=$?
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
	if [ "$rc" != 0 ]; then tail -5 "$out/h0.log" "$out/h1.log" >&2; return 1; fi
	ddprun_stats "$out" 2 "$out/tx"
}

# torch_run WORLD: "samples/s MB/step" of bench/ddp_gloo.py, one rank per host.
torch_run() {
	local out=$work/torch-$RANDOM
	local args=(--threads 1 --preset "$PRESET" --precision "$PRECISION" --steps $((STEPS - 4)) --warmup 4)
	if [ "$1" = 1 ]; then
		ip netns exec "$H0" $PY bench/ddp_gloo.py --nproc 1 "${args[@]}" >"$out.0"
	else
		ip netns exec "$H1" env GLOO_SOCKET_IFNAME=eth0 $PY bench/ddp_gloo.py --world 2 --rank 1 --master "$A0:29500" "${args[@]}" >/dev/null 2>"$out.1" &
		local p1=$!
		ip netns exec "$H0" env GLOO_SOCKET_IFNAME=eth0 $PY bench/ddp_gloo.py --world 2 --rank 0 --master "$A0:29500" "${args[@]}" >"$out.0" 2>"$out.e0" ||
			{ tail -5 "$out.e0" "$out.1" >&2; return 1; }
		wait "$p1"
	fi
	$PY -c "import json,sys; r=json.loads(open(sys.argv[1]).readline()); print(r['samples_per_sec'], (r.get('tx_bytes_per_step') or 0)/1e6)" "$out.0"
}

# ddprun_pair: two single-rank jobs at once, one in each host, no
# communication: what this machine gives two ranks (they share its cores).
# Prints their samples/s together.
ddprun_pair() {
	local out=$work/pair-$RANDOM
	ip netns exec "$H0" bin/ddprun train $(train_flags) --output "$out-0" >"$out-0.log" 2>&1 &
	local p0=$!
	ip netns exec "$H1" bin/ddprun train $(train_flags) --output "$out-1" >"$out-1.log" 2>&1
	wait "$p0"
	echo "$(ddprun_stats "$out-0" 1 | col 1) + $(ddprun_stats "$out-1" 1 | col 1)" | bc -l
}

# measure RATE: run inside bench/netns-hosts.sh (NETNS_HOSTS, NETNS_ADDRS).
# Each round measures one rank alone first, so that the efficiencies
# divide by a baseline taken under the same load (the machine is shared);
# eff is the median of the rounds' ratios.
measure() {
	read -r H0 H1 <<<"$NETNS_HOSTS"
	read -r A0 A1 <<<"$NETNS_ADDRS"
	local rate=$1 i n label flags one_d one_t x
	local dir=$work/$rate
	mkdir -p "$dir"
	for i in $(seq "$RUNS"); do
		x=$(ddprun_one)
		echo "$x" >>"$dir/one.d"
		one_d=$(echo "$x" | col 1)
		x=$(ddprun_pair)
		echo "$x $(echo "$x / (2 * $one_d)" | bc -l)" >>"$dir/pair"
		if [ "$TORCH" != 0 ]; then
			one_t=$(torch_run 1 | col 1)
			echo "$one_t" >>"$dir/one.t"
			x=$(torch_run 2)
			echo "$x $(echo "$(echo "$x" | col 1) / (2 * $one_t)" | bc -l)" >>"$dir/torch"
		fi
		n=0
		while IFS='|' read -r label flags; do
			[ -n "$label" ] || continue
			x=$(ddprun_two $flags)
			echo "$x $(echo "$(echo "$x" | col 1) / (2 * $one_d)" | bc -l)" >>"$dir/d$n"
			n=$((n + 1))
		done <<<"$CONFIGS"
	done
	printf "%-8s %-7s %-24s %9.1f %5s %8s %8s %6s %6.3f\n" "$rate" ddprun "one rank alone" "$(col 1 <"$dir/one.d")" - - - - "$(col 5 <"$dir/one.d")"
	printf "%-8s %-7s %-24s %9.1f %5.2f %8s %8s %6s %6s %6s %5.2f\n" "$rate" ddprun "two alone, no comm" "$(col 1 <"$dir/pair")" "$(col 2 <"$dir/pair")" - - - - - "$(best 2 <"$dir/pair")"
	local tr=nan
	if [ "$TORCH" != 0 ]; then
		tr=$(col 1 <"$dir/torch")
		printf "%-8s %-7s %-24s %9.1f\n" "$rate" torch "one rank alone" "$(col 1 <"$dir/one.t")"
		printf "%-8s %-7s %-24s %9.1f %5.2f %8.2f %8s %6s %6s %6s %5.2f\n" "$rate" torch "DDP over Gloo (fp32)" "$tr" "$(col 3 <"$dir/torch")" "$(col 2 <"$dir/torch")" - - - - "$(best 3 <"$dir/torch")"
	fi
	n=0
	while IFS='|' read -r label flags; do
		[ -n "$label" ] || continue
		local f=$dir/d$n dr ratio=-
		dr=$(col 1 <"$f")
		[ "$tr" = nan ] || ratio=$(printf "%.2f" "$(echo "$dr / $tr" | bc -l)")
		printf "%-8s %-7s %-24s %9.1f %5.2f %8.2f %8.2f %6.3f %6.3f %6s %5.2f\n" "$rate" ddprun "$label" "$dr" \
			"$(col 6 <"$f")" "$(col 2 <"$f")" "$(col 3 <"$f")" "$(col 4 <"$f")" "$(col 5 <"$f")" "$ratio" "$(best 6 <"$f")"
		n=$((n + 1))
	done <<<"$CONFIGS"
}

if [ "${1:-}" = --measure ]; then # re-entered by netns-hosts.sh: WORK RATE
	work=$2
	measure "$3"
	exit
fi
[ "$(id -u)" = 0 ] || { echo "multihost: run as root (network namespaces)" >&2; exit 2; }
make -s build >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=2147483647 OPENBLAS_NUM_THREADS=1
export DDPRUN_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
$PY bench/random_csv.py "$work/train.csv" # every row fills 128 tokens
printf "%-8s %-7s %-24s %9s %5s %8s %8s %6s %6s %6s %5s\n" rate impl config samples/s eff MB/step wire ar_s comp_s d/t best
for rate in $RATES; do
	bash bench/netns-hosts.sh -k 2 -r "$rate" -p mhost -- bash "$0" --measure "$work" "$rate"
	[ -z "${OUT:-}" ] || { mkdir -p "$OUT" && cp -r "$work/$rate" "$OUT/"; }
done
echo "($PRESET, $PRECISION, batch 16 per rank, seq 128, 2 hosts x 1 rank x 1 thread; medians of $RUNS rounds; eff = samples/s /"
echo " (2 x one rank alone, same round); two alone = two 1-rank jobs at once, one per host: the cores' ceiling; MB/step ="
echo " bytes host 0 sent on eth0 per step; wire = ddprun's gradient bytes per step; ar_s, comp_s = ddprun's all-reduce"
echo " wait and compute per step; d/t = ddprun / PyTorch DDP samples/s; best = the best round's eff)"
