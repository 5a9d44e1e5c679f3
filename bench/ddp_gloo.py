#!/usr/bin/python3
"""PyTorch DDP over Gloo, the peer of bench/ddp_scaling.sh: the same BERT
classifier as ddprun (bert/testdata/gen_fixtures.py's HF-equivalent modules),
random tokens, AdamW with HF's no-decay groups, clipping at 1.0. Prints one
JSON line with the steady-state samples/s across all ranks, and rank 0's
minor page faults per timed step and peak RSS.

  /usr/bin/python3 bench/ddp_gloo.py --nproc 2 --threads 1 --preset mini --precision fp32

With --world, this process is one rank of a job whose ranks start
separately, one per host (bench/multihost.sh): --rank r --master ADDR:PORT
(rank 0's host; set GLOO_SOCKET_IFNAME to the interface that reaches it).
Rank 0's JSON then also has the timed window's wall-clock bounds (t0, t1,
seconds since the epoch) and the bytes its --dev interface sent in it.

  GLOO_SOCKET_IFNAME=eth0 /usr/bin/python3 bench/ddp_gloo.py --world 2 --rank 0 --master 10.213.0.1:29500
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bert", "testdata"))
import gen_fixtures as G  # noqa: E402

PRESETS = {"micro": (2, 32, 2, 64), "tiny": (2, 128, 2, 512), "mini": (4, 256, 4, 1024), "small": (4, 512, 8, 2048), "base": (12, 768, 12, 3072)}


def tx_bytes(dev):
    try:
        with open("/sys/class/net/%s/statistics/tx_bytes" % dev) as f:
            return int(f.read())
    except OSError:
        return -1


def worker(rank, a, port, q, addr="127.0.0.1"):
    os.environ.update(MASTER_ADDR=addr, MASTER_PORT=str(port))
    torch.set_num_threads(a.threads)
    dist.init_process_group("gloo", rank=rank, world_size=a.nproc)
    torch.manual_seed(1)
    layers, hidden, heads, inter = PRESETS[a.preset]
    c = dict(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
             intermediate_size=inter, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
             hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02, num_labels=3)
    model = G.BertForSequenceClassification(c, "cls")
    model.train()
    ddp = torch.nn.parallel.DistributedDataParallel(model) if a.nproc > 1 else model
    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "LayerNorm." in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "LayerNorm." in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4)
    g = torch.Generator().manual_seed(1 + rank)
    ids = torch.randint(1, 30522, (a.batch, a.seq), generator=g)
    mask, types = torch.ones_like(ids), torch.zeros_like(ids)
    labels = torch.randint(0, 3, (a.batch,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = ddp(ids, mask, types)[0]
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(a.warmup):
        step()
    dist.barrier()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b0, w0 = tx_bytes(a.dev), time.time()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dist.barrier()
    el = time.perf_counter() - t0
    b1, w1 = tx_bytes(a.dev), time.time()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    if rank == 0:
        q.put((a.batch * a.nproc * a.steps / el, (ru.ru_minflt - f0) / a.steps, ru.ru_maxrss / 1024,
               {"t0": w0, "t1": w1, "tx_bytes_per_step": (b1 - b0) / a.steps if b0 >= 0 else None}))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", default="mini")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--port", type=int, default=29533)
    ap.add_argument("--world", type=int, default=0, help="one rank of a job of this many ranks started separately")
    ap.add_argument("--rank", type=int, default=0)
    ap.add_argument("--master", default="127.0.0.1:29533", help="rank 0's ADDR:PORT, with --world")
    ap.add_argument("--dev", default="eth0", help="interface whose sent bytes rank 0 reports")
    a = ap.parse_args()
    if a.world:
        import queue
        a.nproc = a.world
        q = queue.Queue()
        addr, port = a.master.rsplit(":", 1)
        worker(a.rank, a, int(port), q, addr)
        if a.rank != 0:
            return
    else:
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        mp.start_processes(worker, args=(a, a.port, q), nprocs=a.nproc, start_method="spawn")
    rate, faults, rss, window = q.get()
    print(json.dumps({"impl": "pytorch-ddp-gloo", "nproc": a.nproc, "threads": a.threads, "preset": a.preset,
                      "precision": a.precision, "samples_per_sec": rate,
                      "minor_faults_per_step": faults, "peak_rss_mb": rss,
                      "malloc_tuned": "MALLOC_MMAP_THRESHOLD_" in os.environ, **window}))


if __name__ == "__main__":
    main()
