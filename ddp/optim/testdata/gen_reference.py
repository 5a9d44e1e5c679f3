#!/usr/bin/python3
"""Reference values for package optim, from PyTorch's own optimizers.

Regenerate (repository root):  /usr/bin/python3 ddp/optim/testdata/gen_reference.py

Three parameters (one without weight decay, like HF's bias/LayerNorm rule),
seeded random gradients, HF's linear warmup schedule through LambdaLR, and
clip_grad_norm_ before each step. Writes testdata/reference.json with the
initial weights, every step's gradients, learning rates and gradient norms,
and the final weights, for AdamW, Adam and SGD with momentum.
"""
import json
import os

import torch

torch.manual_seed(7)
SHAPES = {"a.weight": (5, 7), "a.bias": (7,), "b.weight": (300,)}
NO_DECAY = {"a.bias"}
STEPS, WARMUP, LR, CLIP = 6, 2, 1e-2, 1.5


def lr_lambda(step):
    if step < WARMUP:
        return step / max(1, WARMUP)
    return max(0.0, (STEPS - step) / max(1, STEPS - WARMUP))


init = {n: torch.randn(s) for n, s in SHAPES.items()}
grads = [{n: torch.randn(s) * (3.0 if k % 2 else 0.2) for n, s in SHAPES.items()} for k in range(STEPS)]


def run(kind):
    params = {n: torch.nn.Parameter(t.clone()) for n, t in init.items()}
    groups = [
        {"params": [p for n, p in params.items() if n not in NO_DECAY], "weight_decay": 0.05},
        {"params": [p for n, p in params.items() if n in NO_DECAY], "weight_decay": 0.0},
    ]
    if kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=LR, betas=(0.9, 0.98), eps=1e-6)
    else:
        opt = torch.optim.SGD(groups, lr=LR, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    lrs, norms = [], []
    for k in range(STEPS):
        for n, p in params.items():
            p.grad = grads[k][n].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"lrs": lrs, "norms": norms, "final": {n: p.detach().flatten().tolist() for n, p in params.items()}}


out = {
    "steps": STEPS, "warmup": WARMUP, "lr": LR, "clip": CLIP, "no_decay": sorted(NO_DECAY),
    "init": {n: t.flatten().tolist() for n, t in init.items()},
    "grads": [{n: g.flatten().tolist() for n, g in gk.items()} for gk in grads],
    "adamw": run("adamw"), "adam": run("adam"), "sgd": run("sgd"),
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
with open(path, "w") as f:
    json.dump(out, f, sort_keys=True)
    f.write("\n")
