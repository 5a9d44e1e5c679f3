#!/usr/bin/env bash
# bench/gpu/run.sh: the GPU check of ddprun's NCCL binding, in one go
# (about 2-4 minutes, every step bounded; at most about 9).
#
#   bash bench/gpu/prepare.sh            # here, where Go is: builds bin/gpu/
#   OUT=/some/dir bash bench/gpu/run.sh  # on the GPU machine (carry bin/gpu)
#
# Steps (optional ones may fail without failing the run):
#   1 info          nvidia-smi, glibc, PyTorch, its CUDA and NCCL versions
#   2 libs          find libnccl.so.2 and libcudart in the PyTorch installation
#   3 binding       collective/nccl's TestReal_* on the real NCCL (world size 1)
#   4 two-on-one    (optional) 2 ranks on device 0; NCCL usually refuses: "Duplicate GPU"
#   5 sweep         fp32 and bf16 all-reduce, 8 B .. 256 MiB, nccl-tests columns
#   6 torch         (optional) the same sizes through torch.distributed (world 1), for comparison
#   7 torch-bert-*  (optional) PyTorch eager BERT-base training steps, bf16 and fp32:
#                   the peer figure for ddprun's step on this card
#   8 fake          (optional) the fake-library tests, if gcc is there
# Everything goes to $OUT: run.log, one file per step, summary.txt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/out/gpu}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/run.log") 2>&1
cd "$ROOT"
FAILED=()
STATUS=()

# step NAME LIMIT_SECONDS OPTIONAL(0/1) CMD...: runs CMD under timeout in
# $STEP_DIR (default: the repository root), output to $OUT/NAME.txt (and
# the log), and records the outcome.
step() {
	local name=$1 limit=$2 optional=$3 t0=$SECONDS rc=0
	shift 3
	echo "=== $name (limit ${limit}s) $(date -u +%H:%M:%S)"
	if declare -F "$1" >/dev/null; then # a shell function: run it in a child bash
		set -- bash -c "$(declare -f "$1"); $1"
	fi
	(cd "${STEP_DIR:-$ROOT}" && exec timeout --kill-after=10 "$limit" "$@") >"$OUT/$name.txt" 2>&1 || rc=$?
	cat "$OUT/$name.txt"
	local verdict=ok
	if [ $rc -ne 0 ]; then
		verdict="FAILED rc=$rc$([ $rc -eq 124 ] && echo ' (timeout)' || true)"
		[ "$optional" = 1 ] && verdict="$verdict (optional)" || FAILED+=("$name")
	fi
	echo "=== $name: $verdict ($((SECONDS - t0))s)"
	STATUS+=("$name: $verdict ($((SECONDS - t0))s)")
}

export PY=${PYTHON:-python3}

info() {
	nvidia-smi || true
	uname -a
	ldd --version | head -1
	$PY - <<'PY'
import torch, os
print("torch", torch.__version__, "cuda", torch.version.cuda, "file", os.path.dirname(torch.__file__))
print("cuda available", torch.cuda.is_available(), "devices", torch.cuda.device_count())
if torch.cuda.is_available():
    print("device 0", torch.cuda.get_device_name(0))
try:
    print("torch nccl", torch.cuda.nccl.version())
except Exception as e:
    print("torch nccl version unknown:", e)
PY
}

# find_libs prints "NCCL=path" and "CUDART=path" lines.
find_libs() {
	$PY - <<'PY'
import glob, os, site, subprocess, sys
import torch
tdir = os.path.dirname(torch.__file__)
sites = set(site.getsitepackages() + [site.getusersitepackages(), os.path.dirname(tdir)])
def first(patterns):
    for p in patterns:
        for f in sorted(glob.glob(p)):
            if os.path.exists(f):
                return f
    return ""
def ldcache(name):
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    except Exception:
        return ""
    for line in out.splitlines():
        if name in line and "=>" in line:
            return line.split("=>")[1].strip()
    return ""
nccl = first([os.path.join(tdir, "lib", "libnccl.so*")] +
             [os.path.join(s, "nvidia", "nccl", "lib", "libnccl.so*") for s in sites] +
             ["/usr/lib/x86_64-linux-gnu/libnccl.so*", "/usr/local/cuda/lib64/libnccl.so*"]) or ldcache("libnccl.so.2")
cudart = first([os.path.join(s, "nvidia", "cuda_runtime", "lib", "libcudart.so*") for s in sites] +
               [os.path.join(tdir, "lib", "libcudart*.so*"),
                "/usr/local/cuda/lib64/libcudart.so*", "/usr/lib/x86_64-linux-gnu/libcudart.so*"]) or ldcache("libcudart.so")
print("NCCL=" + nccl)
print("CUDART=" + cudart)
PY
}

step info 30 1 info
step libs 30 0 find_libs
NCCL=$(sed -n 's/^NCCL=//p' "$OUT/libs.txt" || true)
CUDART=$(sed -n 's/^CUDART=//p' "$OUT/libs.txt" || true)
export DDPRUN_NCCL_LIB=${DDPRUN_NCCL_LIB:-${NCCL:-libnccl.so.2}}
export DDPRUN_CUDART_LIB=${DDPRUN_CUDART_LIB:-${CUDART:-libcudart.so.12}}
echo "DDPRUN_NCCL_LIB=$DDPRUN_NCCL_LIB"
echo "DDPRUN_CUDART_LIB=$DDPRUN_CUDART_LIB"

BIN=$ROOT/bin/gpu
if command -v go >/dev/null 2>&1; then
	step build 240 1 bash bench/gpu/prepare.sh
fi
if [ ! -x "$BIN/nccl_test.bin" ] || [ ! -x "$BIN/allreduce" ]; then
	echo "no binaries in $BIN: run bench/gpu/prepare.sh where Go is and carry bin/gpu"
	exit 1
fi

# Test binaries run in their package's directory (testdata/ is there).
STEP_DIR=collective/nccl step binding 120 0 env DDPRUN_NCCL_REAL=1 "$BIN/nccl_test.bin" -test.run 'TestReal_WorldOfOne' -test.v -test.count=1
STEP_DIR=collective/nccl step two-on-one 60 1 env DDPRUN_NCCL_REAL=1 "$BIN/nccl_test.bin" -test.run 'TestReal_TwoRanksOneDevice' -test.v -test.count=1
step sweep 180 0 "$BIN/allreduce" -b 8 -e 256M -f 2 -t float32,bfloat16 -w 5 -n 20
step sweep-avg 60 1 "$BIN/allreduce" -b 1K -e 64M -f 8 -t bfloat16 -o avg -w 3 -n 10

torch_ref() {
	$PY - <<'PY'
import os, time, torch, torch.distributed as dist
os.environ.setdefault("MASTER_ADDR", "127.0.0.1"); os.environ.setdefault("MASTER_PORT", "29531")
dist.init_process_group("nccl", rank=0, world_size=1)
print("# torch.distributed all_reduce, world 1, NCCL", torch.cuda.nccl.version())
print("# %10s %8s %10s %8s" % ("size(B)", "type", "time(us)", "algbw"))
for dt in (torch.float32, torch.bfloat16):
    for e in range(3, 29, 2):
        n = max(1, (1 << e) // torch.tensor([], dtype=dt).element_size())
        x = torch.ones(n, dtype=dt, device="cuda")
        for _ in range(5): dist.all_reduce(x)
        torch.cuda.synchronize(); t = time.perf_counter()
        for _ in range(20): dist.all_reduce(x)
        torch.cuda.synchronize(); s = (time.perf_counter() - t) / 20
        b = n * x.element_size()
        print("  %10d %8s %10.2f %8.2f" % (b, str(dt).replace("torch.", ""), s * 1e6, b / s / 1e9))
dist.destroy_process_group()
PY
}
step torch 90 1 torch_ref
# The peer of a ddprun BERT-base step on this card (PyTorch eager, HF's
# AdamW groups, batch 32 x 128). ddprun's own side needs a gotch build
# against this machine's libtorch, which has no Go toolchain: see
# collective/nccl/README-notes.md "GPU run". With such a build, the same
# step is: ddprun bench step --device cuda --preset base --batch-size 32
#   --precision bf16 --optimizer-impl flat --dense-embeddings --json
for prec in bf16 fp32; do
	step "torch-bert-$prec" 120 1 $PY bench/bert_step.py --device cuda --preset base --batch 32 --seq 128 --precision $prec --warmup 5 --steps 30 --fused
done
STEP_DIR=collective/nccl step fake 90 1 "$BIN/nccl_test.bin" -test.count=1 -test.skip 'TestReal'


{
	echo "ddprun bench/gpu/run.sh $(date -u +%FT%TZ) on $(hostname)"
	echo "DDPRUN_NCCL_LIB=$DDPRUN_NCCL_LIB"
	echo "DDPRUN_CUDART_LIB=$DDPRUN_CUDART_LIB"
	printf '%s\n' "${STATUS[@]}"
} | tee "$OUT/summary.txt"
if [ ${#FAILED[@]} -ne 0 ]; then
	echo "required steps failed: ${FAILED[*]}"
	exit 1
fi
