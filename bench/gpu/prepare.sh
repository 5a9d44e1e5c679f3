#!/usr/bin/env bash
# bench/gpu/prepare.sh: build, on this machine, the binaries bench/gpu/run.sh
# runs on a GPU machine that has no Go toolchain: the nccl package's test
# binary and the all-reduce sweep. They land in bin/gpu/ (ignored by git);
# pass it to the device tool as carry ["bin/gpu"].
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bin/gpu
go test -c -o bin/gpu/nccl_test.bin ./collective/nccl
go build -o bin/gpu/allreduce ./bench/gpu/allreduce
ls -l bin/gpu
echo "newest glibc symbol needed: $(objdump -T bin/gpu/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)"
