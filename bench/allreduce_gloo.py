#!/usr/bin/python3
"""PyTorch Gloo all-reduce on 127.0.0.1, in the columns of `ddprun bench allreduce --json`.

Usage: /usr/bin/python3 bench/allreduce_gloo.py --nproc 2 [--min-bytes 4K] [--max-bytes 256M]
       [--iters 20] [--warmup 5] [--op sum]

Prints one JSON object per size on stdout (size, count, type, wire, time, algbw, busbw,
#wrong, ranks), timing float32 tensors like nccl-tests: the time is the slowest rank's
mean over --iters calls after --warmup untimed ones.
"""
import argparse
import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def parse_size(s):
    s = s.upper().rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(s[-1:], 1)
    return int(s[:-1] if mult > 1 else s) * mult


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill(x, rank):
    # the same inputs as ddprun's bench: small integers, exact sums
    n = x.numel()
    x.copy_(((torch.arange(n, dtype=torch.int64) + rank) % 16).to(torch.float32))


def worker(rank, args, port):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=args.nproc)
    n = args.nproc
    op = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[args.op]
    size = args.min_bytes
    while size <= args.max_bytes:
        x = torch.empty(size // 4, dtype=torch.float32)
        fill(x, rank)
        for _ in range(args.warmup):
            dist.all_reduce(x, op)
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(args.iters):
            dist.all_reduce(x, op)
        took = torch.tensor([time.perf_counter() - t0], dtype=torch.float64)
        dist.all_reduce(took, dist.ReduceOp.MAX)
        fill(x, rank)
        dist.all_reduce(x, op)
        idx = torch.arange(x.numel(), dtype=torch.int64)
        vals = torch.stack([((idx + r) % 16).to(torch.float32) for r in range(n)])
        want = {"sum": vals.sum(0), "max": vals.max(0).values, "min": vals.min(0).values}[args.op]
        wrong = torch.tensor([(x != want).sum().item()], dtype=torch.int64)
        dist.all_reduce(wrong)
        sec = took.item() / args.iters
        algbw = size / sec / 1e9
        if rank == 0:
            print(json.dumps({"size": size, "count": size // 4, "type": "float32", "wire": "float32",
                              "time": sec * 1e6, "algbw": algbw, "busbw": algbw * 2 * (n - 1) / n,
                              "#wrong": int(wrong.item()), "ranks": n, "backend": "gloo"}), flush=True)
        size *= 2
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--min-bytes", type=parse_size, default=4 << 10)
    p.add_argument("--max-bytes", type=parse_size, default=256 << 20)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--op", choices=["sum", "max", "min"], default="sum")
    args = p.parse_args()
    mp.spawn(worker, args=(args, free_port()), nprocs=args.nproc, join=True)


if __name__ == "__main__":
    sys.exit(main())
