#!/usr/bin/python3
"""PyTorch eager side of bench/bert_step.sh: the same BERT classifier
(bert/testdata/gen_fixtures.py's HF-equivalent modules), HF's AdamW parameter
groups, random tokens; prints one JSON line like bench/bertstep.

  /usr/bin/python3 bench/bert_step.py --preset tiny --precision fp32
  python3 bench/bert_step.py --device cuda --preset base --batch 32 --precision bf16 --fused

On CUDA the loss and the gradient norm are read back every step, as ddprun
does (it logs both), and the clock stops after a synchronisation.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bert", "testdata"))
import gen_fixtures as G  # noqa: E402

PRESETS = {"tiny": (2, 128, 2, 512), "mini": (4, 256, 4, 1024), "small": (4, 512, 8, 2048), "base": (12, 768, 12, 3072)}


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--fused", action="store_true", help="torch.optim.AdamW(fused=True) (CUDA, PyTorch >= 2.0)")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    layers, hidden, heads, inter = PRESETS[a.preset]
    c = dict(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
             intermediate_size=inter, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12,
             hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02, num_labels=2)
    model = G.BertForSequenceClassification(c, "cls").to(dev)
    model.train()
    decay = [p for n, p in model.named_parameters() if not (n.endswith(".bias") or "LayerNorm." in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith(".bias") or "LayerNorm." in n]
    extra = {"fused": True} if a.fused else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-4, **extra)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30522, (a.batch, a.seq), generator=g)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    labels = torch.randint(0, 2, (a.batch,), generator=g)
    ids, mask, types, labels = ids.to(dev), mask.to(dev), types.to(dev), labels.to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    cuda = dev.type == "cuda"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = model(ids, mask, types)[0]
        loss = loss_fn(logits.float(), labels)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if cuda:
            loss.item(), norm.item()

    for _ in range(a.warmup):
        step()
    f0 = minor_faults()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    el = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch", "device": a.device, "fused_adamw": a.fused, "preset": a.preset, "precision": a.precision,
                      "samples_per_sec": a.batch * a.steps / el,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "minor_faults_per_step": (minor_faults() - f0) / a.steps, "threads": torch.get_num_threads(),
                      "malloc_tuned": "MALLOC_MMAP_THRESHOLD_" in os.environ}))


if __name__ == "__main__":
    main()
