#!/usr/bin/python3
"""A training trace of a tiny BERT classifier, from PyTorch and HF's formulas.

Regenerate (repository root):  /usr/bin/python3 ddp/testdata/trace/gen_trace.py

ddp's TestTrainingTrace runs `ddprun train` (ddp.Train) on the files written
here and checks every step against this trace. Nothing below calls ddprun: the
reference is PyTorch 1.13 with HuggingFace Trainer's rules written out:

- the model: bert/testdata/gen_fixtures.py's plain-PyTorch copy of HF's
  BertForSequenceClassification, dropout 0, weights drawn with a fixed seed;
- the data order: PyTorch's DistributedSampler semantics (permute with
  seed+epoch, rank r takes positions r, r+world, ...) over the permutation that
  shard's Note [Permutation] documents (SplitMix64 driving a Fisher-Yates
  shuffle, Lemire's bounded integers), written out again here from the Note;
- the tokens: every text is vocabulary words, so WordPiece gives
  [CLS] w1 ... wn [SEP]; batches are padded to their longest row;
- the optimizer: torch.optim.AdamW with HF's two parameter groups (no decay
  for names containing "bias" or "LayerNorm.weight", as Trainer's
  get_decay_parameter_names), betas (0.9, 0.999), eps 1e-8;
- the schedule: HF's get_linear/cosine/constant_schedule_with_warmup lambdas
  through torch.optim.lr_scheduler.LambdaLR, one step per optimizer step;
- clipping: torch.nn.utils.clip_grad_norm_, whose return value (the norm
  before clipping) is what HF logs as grad_norm.

- the loss: cross-entropy, with class weights (explicit, or scikit-learn's
  "balanced" formula written out) as the mean of the weighted row losses,
  and label smoothing as PyTorch's label_smoothing (= HF's
  label_smoothing_factor).

Outputs in this folder: model/ (config.json, vocab.txt, model.safetensors),
train.csv, and trace.json: for each run (schedule, class weights, label
smoothing), per step the learning rate, the loss and the gradient norm, and
the final weights' per-tensor L2 norms and sums. The output is
byte-identical from run to run on one machine.
"""
import collections
import importlib.util
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
spec = importlib.util.spec_from_file_location("gen_fixtures", os.path.join(ROOT, "bert", "testdata", "gen_fixtures.py"))
fx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fx)

SEED = 42  # the sampler seed (ddprun's and HF's default --seed)
INIT_SEED = 20261205
WORDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
         "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
LABELS = ["neg", "neu", "pos"]  # ddprun maps sorted names to ids
N = 30          # training rows
BATCH = 6       # global batch (1 rank x 6, or 2 ranks x 3)
EPOCHS = 3      # 5 steps an epoch, 15 steps
WARMUP = 3
LR = 1e-2
WEIGHT_DECAY = 0.3  # large, so that a wrong decay group moves the weights visibly
MAX_GRAD_NORM = 0.5  # small, so that clipping acts on most steps
# name: (schedule, --class-weights, --label-smoothing)
RUNS = {
    "linear": ("linear", "none", 0.0),
    "cosine": ("cosine", "none", 0.0),
    "constant": ("constant", "none", 0.0),
    "weighted": ("linear", "0.5,1,2", 0.0),
    "balanced-smoothed": ("linear", "balanced", 0.1),
}

CONFIG = dict(fx.BERT_CONFIG, vocab_size=len(VOCAB), hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

MASK64 = (1 << 64) - 1


class SplitMix64:
    """shard's Note [Permutation]: state += golden gamma, then MurmurHash3's finaliser."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """Lemire's multiply-and-shift with rejection: uniform in [0, n)."""
        m = self.next() * n
        lo = m & MASK64
        if lo < n:
            threshold = ((1 << 64) - n) % n
            while lo < threshold:
                m = self.next() * n
                lo = m & MASK64
        return m >> 64


def permutation(n, seed):
    """Durstenfeld's Fisher-Yates: for i from n-1 down to 1, swap p[i], p[j], j in [0, i]."""
    p = list(range(n))
    r = SplitMix64(seed)
    for i in range(n - 1, 0, -1):
        j = r.below(i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def dataset():
    """N rows whose label depends on which words a text holds."""
    rows = []
    for i in range(N):
        k = (i * 7 + 1) % 3
        words = [WORDS[(k * 8 + (i * 3 + j * 5 + 1) % 8) % len(WORDS)] for j in range(3 + (i * 5 + 1) % 6)]
        rows.append((" ".join(words), LABELS[k]))
    return rows


def encode(text):
    return [VOCAB.index("[CLS]")] + [VOCAB.index(w) for w in text.split()] + [VOCAB.index("[SEP]")]


def collate(rows):
    width = max(len(encode(t)) for t, _ in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.int64)
    mask = torch.zeros((len(rows), width), dtype=torch.int64)
    for b, (text, _) in enumerate(rows):
        toks = encode(text)
        ids[b, : len(toks)] = torch.tensor(toks)
        mask[b, : len(toks)] = 1
    labels = torch.tensor([LABELS.index(lab) for _, lab in rows], dtype=torch.int64)
    return ids, mask, torch.zeros_like(ids), labels


def hf_lambda(kind, total):
    """transformers.optimization's schedule lambdas, written out."""

    def linear(step):
        if step < WARMUP:
            return float(step) / float(max(1, WARMUP))
        return max(0.0, float(total - step) / float(max(1, total - WARMUP)))

    def cosine(step):  # num_cycles = 0.5
        if step < WARMUP:
            return float(step) / float(max(1, WARMUP))
        progress = float(step - WARMUP) / float(max(1, total - WARMUP))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))

    def constant(step):
        if step < WARMUP:
            return float(step) / float(max(1.0, WARMUP))
        return 1.0

    return {"linear": linear, "cosine": cosine, "constant": constant}[kind]


def initial_model():
    torch.manual_seed(INIT_SEED)
    gen = torch.Generator().manual_seed(INIT_SEED)
    model = fx.BertForSequenceClassification(CONFIG, "cls")
    fx.hf_init(model, 0.1, gen)
    return model


def class_weights(spec, rows):
    """--class-weights: scikit-learn's compute_class_weight("balanced") written out, or explicit."""
    if spec == "none":
        return None
    if spec == "balanced":
        counts = [sum(1 for _, lab in rows if lab == l) for l in LABELS]
        return torch.tensor([len(rows) / (len(LABELS) * c) for c in counts])
    return torch.tensor([float(w) for w in spec.split(",")])


def train(kind, init_state, rows, weights=None, smoothing=0.0):
    model = initial_model()
    model.load_state_dict(init_state)
    model.train()
    # HF Trainer: no decay for "bias" and every LayerNorm weight.
    no_decay = lambda n: "bias" in n or "LayerNorm.weight" in n
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not no_decay(n)], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in named if no_decay(n)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = N // BATCH
    total = EPOCHS * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, hf_lambda(kind, total))
    trace = []
    for epoch in range(EPOCHS):
        order = permutation(N, SEED + epoch)
        for k in range(steps_per_epoch):
            batch = [rows[i] for i in order[k * BATCH : (k + 1) * BATCH]]
            ids, mask, types, labels = collate(batch)
            lr = opt.param_groups[0]["lr"]
            opt.zero_grad(set_to_none=True)
            # Weighted: the mean of the weighted row losses (ddprun's Note [Class weights]).
            loss = F.cross_entropy(model(ids, mask, types)[0], labels, weight=weights, reduction="none", label_smoothing=smoothing).mean()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
            opt.step()
            sched.step()
            trace.append({"step": len(trace) + 1, "epoch": epoch, "lr": lr, "loss": fx.f32(loss.item()), "grad_norm": fx.f32(norm.item()),
                          "rows": order[k * BATCH : (k + 1) * BATCH]})
    final = {n: {"norm": fx.f32(p.detach().norm().item()), "sum": fx.f32(p.detach().double().sum().item())} for n, p in model.named_parameters()}
    return {"steps": trace, "final": final}


def main():
    torch.set_num_threads(1)
    model = initial_model()
    state = collections.OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    mdir = os.path.join(HERE, "model")
    os.makedirs(mdir, exist_ok=True)
    fx.write_safetensors(os.path.join(mdir, "model.safetensors"), state)
    cfg = fx.bert_hf_config(CONFIG, "cls")
    cfg["id2label"] = {str(i): l for i, l in enumerate(LABELS)}
    cfg["label2id"] = {l: i for i, l in enumerate(LABELS)}
    fx.write_json(os.path.join(mdir, "config.json"), cfg)
    with open(os.path.join(mdir, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    rows = dataset()
    with open(os.path.join(HERE, "train.csv"), "w") as f:
        f.write("text,label\n")
        for text, label in rows:
            f.write('"%s",%s\n' % (text, label))
    out = {
        "config": {"seed": SEED, "rows": N, "batch": BATCH, "epochs": EPOCHS, "warmup_steps": WARMUP, "lr": LR,
                   "weight_decay": WEIGHT_DECAY, "max_grad_norm": MAX_GRAD_NORM, "max_length": 32},
        "runs": {},
    }
    for name, (kind, spec, smoothing) in RUNS.items():
        run = train(kind, state, rows, class_weights(spec, rows), smoothing)
        run.update(schedule=kind, class_weights=spec, label_smoothing=smoothing)
        out["runs"][name] = run
    fx.write_compact_json(os.path.join(HERE, "trace.json"), out)


if __name__ == "__main__":
    main()
