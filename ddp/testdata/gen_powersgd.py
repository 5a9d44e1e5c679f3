#!/usr/bin/python3
"""Writes powersgd.json: what torch's own powerSGD_hook (torch 1.13, DDP over
Gloo on loopback, 2 ranks) makes of fixed gradients over a few steps, for
ddp's TestPowerSGD_MatchesTorch.

The model's parameters have the shapes of the cases the hook tells apart:
matrices it compresses (one of them 3-D, flattened to shape[0] x rest),
a matrix too small to be worth compressing, one just at the limit
((n + m) x r x 2 = n x m: not compressed) and a 1-D bias, all-reduced
uncompressed. The loss is sum_k <W_k, G_k(rank, step)>, so each rank's
gradient is exactly its G; no optimizer step. The first START steps are
plain all-reduces (start_powerSGD_iter), then PowerSGD with error feedback
and warm start. torch.randn is wrapped to record the hook's random initial
Qs (before orthogonalisation), so that ddp's test can start from the same
ones; their shapes (1, m, r) identify the parameter (every m differs).

  /usr/bin/python3 ddp/testdata/gen_powersgd.py   # writes ddp/testdata/powersgd.json
"""
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd

SHAPES = {"a.weight": (16, 11), "b.weight": (12, 2, 7), "c.weight": (3, 7), "d.bias": (9,), "e.weight": (12, 12)}
RANK, START, STEPS, WORLD = 3, 2, 5, 2


def grad(name, rank, step):
    """Rank's gradient of name at step: a part common to the ranks, of rank
    one, plus per-rank noise; from integers, so that ddp's test computes the
    same float32 values (float64 arithmetic, then rounded)."""
    shape = SHAPES[name]
    n, m = shape[0], len(torch.zeros(shape).flatten()) // shape[0]
    k = sorted(SHAPES).index(name)
    out = []
    for i in range(n):
        for j in range(m):
            u = ((i * 37 + k * 11 + step * 5) % 17 - 8) / 8.0
            v = ((j * 23 + k * 3 + step * 13) % 19 - 9) / 9.0
            noise = ((i * 7919 + j * 6007 + k * 3001 + rank * 104729 + step * 1299709) % 2001 - 1000) / 1000.0
            out.append(u * v + 0.5 * noise)
    return torch.tensor(out, dtype=torch.float64).float().reshape(shape)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.p = torch.nn.ParameterDict({k.replace(".", "_"): torch.nn.Parameter(torch.zeros(s)) for k, s in SHAPES.items()})

    def forward(self, gs):
        return sum((self.p[k.replace(".", "_")] * gs[k]).sum() for k in SHAPES)


def worker(rank, port, q):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    model = Model()
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=25)
    state = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=RANK, start_powerSGD_iter=START,
                               min_compression_rate=2, use_error_feedback=True, warm_start=True, random_seed=0)
    ddp.register_comm_hook(state, psgd.powerSGD_hook)
    inits = {}
    orig = torch.randn

    def randn(*shape, **kw):
        t = orig(*shape, **kw)
        inits[tuple(t.shape)] = t.clone()
        return t

    torch.randn = randn
    steps = []
    for s in range(STEPS):
        model.zero_grad(set_to_none=True)
        gs = {k: grad(k, rank, s) for k in SHAPES}
        ddp(gs).backward()
        steps.append({k: model.p[k.replace(".", "_")].grad.flatten().tolist() for k in SHAPES})
    torch.randn = orig
    if rank == 0:
        init = {}
        for k, s in SHAPES.items():
            n, m = s[0], int(torch.tensor(s[1:]).prod()) if len(s) > 1 else 1
            if len(s) > 1 and psgd._should_compress(n, m, min(n, m, RANK), 2)[0]:
                init[k] = inits[(1, m, min(n, m, RANK))].flatten().tolist()
        q.put(init)
    q.put((rank, steps))
    dist.destroy_process_group()


def main():
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = mp.start_processes(worker, args=(29611, q), nprocs=WORLD, start_method="spawn", join=False)
    out = {"torch": torch.__version__, "rank": RANK, "start": START, "world": WORLD,
           "steps": STEPS, "shapes": {k: list(s) for k, s in SHAPES.items()}}
    outs = [None] * WORLD
    for _ in range(WORLD + 1):
        v = q.get()
        if isinstance(v, dict):
            out["init_q"] = v
        else:
            outs[v[0]] = v[1]
    procs.join()
    # Every rank ends with the same average; the fixture keeps rank 0's.
    for s, (a, b) in enumerate(zip(*outs)):
        for k in SHAPES:
            assert a[k] == b[k], (s, k)
    out["outputs"] = [{k: [float("%.9g" % x) for x in v] for k, v in st.items()} for st in outs[0]]
    out["init_q"] = {k: [float("%.9g" % x) for x in v] for k, v in out["init_q"].items()}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "powersgd.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")
    print("wrote", path, "init_q for", sorted(out["init_q"]), file=sys.stderr)


if __name__ == "__main__":
    main()
