#!/usr/bin/python3
"""Reference fixtures for the bert package's numerical parity tests.

Regenerate (from the repository root) with:

    /usr/bin/python3 bert/testdata/gen_fixtures.py

It needs only Debian's python3-torch (1.13) and python3-numpy: no `transformers`,
no `safetensors` package. The output is byte-identical from run to run on the
same machine (check with `sha256sum bert/testdata/*/*`).

The script rebuilds HuggingFace transformers' BertForSequenceClassification and
DistilBertForSequenceClassification (eager attention) in plain PyTorch, with
parameter names exactly equal to HF's state-dict names, initialises a tiny
model with HF's init and a fixed seed, then perturbs every bias and LayerNorm
parameter so that a wrong bias/LayerNorm mapping shows up in the logits.

For every case in CASES it writes bert/testdata/<case>/:

    config.json        HF config (+ "ddprun_pooling": "cls"|"mean")
    model.safetensors  F32 weights, written by hand (same bytes in the cls and
                       mean folders of one model type)
    reference.json     inputs, logits, loss, gradients (schema in write_case)

and for bert_cls also pytorch_model.bin (torch.save, zip format, fp32, with the
int64 buffer bert.embeddings.position_ids that transformers < 4.31 saved) and
pytorch_model_bf16.bin (bf16 tensors, no position_ids buffer).
"""

import collections
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240601
# Weights are drawn with INIT_STD, not the config's initializer_range (0.02):
# with 0.02 a 32-wide model's logits hardly depend on the input (rows differ by
# ~1e-4, the test tolerance), so a wrong mask or position would go unnoticed.
INIT_STD = 0.2
OUT = os.path.dirname(os.path.abspath(__file__))

BERT_CONFIG = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 40,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "num_labels": 3,
}

DISTILBERT_CONFIG = {
    "vocab_size": 99,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 4,
    "hidden_dim": 37,
    "max_position_embeddings": 40,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "seq_classif_dropout": 0.2,
    "initializer_range": 0.02,
    "num_labels": 3,
}

LAYER_NORM_EPS = 1e-12  # DistilBERT hard-codes eps=1e-12 for every LayerNorm.
NEG_INF = torch.finfo(torch.float32).min


# ---------------------------------------------------------------- BERT


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], h, padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], h)
        self.LayerNorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])
        self.register_buffer(
            "position_ids",
            torch.arange(c["max_position_embeddings"]).expand((1, -1)),
            persistent=False,
        )

    def forward(self, input_ids, token_type_ids):
        seq_len = input_ids.shape[1]
        position_ids = self.position_ids[:, :seq_len]
        x = self.word_embeddings(input_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.num_heads = c["num_attention_heads"]
        self.head_dim = h // self.num_heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout = nn.Dropout(c["attention_probs_dropout_prob"])

    def heads(self, x):
        b, l, _ = x.shape
        return x.view(b, l, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q = self.heads(self.query(x))
        k = self.heads(self.key(x))
        v = self.heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        scores = scores + ext_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], -1)


class BertSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertSelfOutput(c)

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return F.gelu(self.dense(x))  # exact erf GELU ("gelu")


class BertOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["intermediate_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertOutput(c)

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, ext_mask):
        for layer in self.layer:
            x = layer(x, ext_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c)

    def forward(self, input_ids, attention_mask, token_type_ids):
        # HF get_extended_attention_mask: (1 - mask) * finfo(float32).min, broadcast
        # over heads and query positions.
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * NEG_INF
        h = self.encoder(self.embeddings(input_ids, token_type_ids), ext)
        return h, self.pooler(h)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c, pooling):
        super().__init__()
        self.num_labels = c["num_labels"]
        self.pooling = pooling
        self.bert = BertModel(c)
        self.dropout = nn.Dropout(c["hidden_dropout_prob"])  # classifier_dropout is None
        self.classifier = nn.Linear(c["hidden_size"], c["num_labels"])

    def forward(self, input_ids, attention_mask, token_type_ids):
        h, pooled = self.bert(input_ids, attention_mask, token_type_ids)
        if self.pooling == "mean":
            # ddprun option: replaces the pooler output; the pooler is unused.
            pooled = mean_pool(h, attention_mask)
        return self.classifier(self.dropout(pooled)), h, pooled


# ---------------------------------------------------------------- DistilBERT


class DistilEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], d, padding_idx=0)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], d)
        self.LayerNorm = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(c["dropout"])
        self.register_buffer(
            "position_ids",
            torch.arange(c["max_position_embeddings"]).expand((1, -1)),
            persistent=False,
        )

    def forward(self, input_ids):
        position_ids = self.position_ids[:, : input_ids.shape[1]]
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(x))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.n_heads = c["n_heads"]
        self.head_dim = d // self.n_heads
        self.dropout = nn.Dropout(c["attention_dropout"])
        self.q_lin = nn.Linear(d, d)
        self.k_lin = nn.Linear(d, d)
        self.v_lin = nn.Linear(d, d)
        self.out_lin = nn.Linear(d, d)

    def shape(self, x):
        b, l, _ = x.shape
        return x.view(b, l, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask):
        b, l, _ = x.shape
        q = self.shape(self.q_lin(x))
        k = self.shape(self.k_lin(x))
        v = self.shape(self.v_lin(x))
        q = q / math.sqrt(self.head_dim)  # scaled before the matmul, as HF does
        scores = torch.matmul(q, k.transpose(2, 3))
        m = (mask == 0).view(b, 1, 1, l).expand_as(scores)
        # HF: finfo(scores.dtype).min, so bf16 autocast fills with bf16's min.
        scores = scores.masked_fill(m, torch.finfo(scores.dtype).min)
        weights = self.dropout(F.softmax(scores, dim=-1))
        ctx = torch.matmul(weights, v).transpose(1, 2).contiguous().view(b, l, -1)
        return self.out_lin(ctx)


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dropout = nn.Dropout(c["dropout"])
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])

    def forward(self, x):
        return self.dropout(self.lin2(F.gelu(self.lin1(x))))


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=LAYER_NORM_EPS)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=LAYER_NORM_EPS)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([TransformerBlock(c) for _ in range(c["n_layers"])])

    def forward(self, x, mask):
        for layer in self.layer:
            x = layer(x, mask)
        return x


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = DistilEmbeddings(c)
        self.transformer = Transformer(c)

    def forward(self, input_ids, attention_mask):
        return self.transformer(self.embeddings(input_ids), attention_mask)


class DistilBertForSequenceClassification(nn.Module):
    def __init__(self, c, pooling):
        super().__init__()
        self.num_labels = c["num_labels"]
        self.pooling = pooling
        self.distilbert = DistilBertModel(c)
        self.pre_classifier = nn.Linear(c["dim"], c["dim"])
        self.classifier = nn.Linear(c["dim"], c["num_labels"])
        self.dropout = nn.Dropout(c["seq_classif_dropout"])

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        h = self.distilbert(input_ids, attention_mask)
        if self.pooling == "mean":
            pooled = mean_pool(h, attention_mask)  # replaces hidden_state[:, 0]
        else:
            pooled = h[:, 0]
        x = self.dropout(F.relu(self.pre_classifier(pooled)))
        return self.classifier(x), h, pooled


# ---------------------------------------------------------------- shared


def mean_pool(h, attention_mask):
    """ddprun's mean pooling: the mean of h over non-padding positions."""
    m = attention_mask.to(h.dtype).unsqueeze(-1)
    return (h * m).sum(dim=1) / m.sum(dim=1)


def hf_init(model, std, gen):
    """HF _init_weights, then a perturbation of every bias and LayerNorm.

    Parameters are visited in named_parameters order, and every draw comes from
    gen, so the weights depend only on SEED.
    """
    for module in model.modules():
        if isinstance(module, nn.Linear):
            with torch.no_grad():
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            with torch.no_grad():
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * std)
                if module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            with torch.no_grad():
                module.weight.fill_(1.0)
                module.bias.zero_()
    # Perturb so that swapped or missing biases and LayerNorm parameters matter.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                if name.endswith(".weight"):
                    p.add_(torch.randn(p.shape, generator=gen) * 0.1)
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif name.endswith(".bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def inputs(gen, vocab, with_types):
    """A padded batch of 4: lengths 12, 9, 5, 7; [CLS]=2, [SEP]=3, [PAD]=0."""
    lengths = [12, 9, 5, 7]
    max_len = max(lengths)
    ids = torch.zeros((4, max_len), dtype=torch.int64)
    mask = torch.zeros((4, max_len), dtype=torch.int64)
    types = torch.zeros((4, max_len), dtype=torch.int64)
    for b, n in enumerate(lengths):
        body = torch.randint(5, vocab, (n,), generator=gen)
        body[0] = 2
        body[n - 1] = 3
        ids[b, :n] = body
        mask[b, :n] = 1
        if with_types and n >= 7:
            # A text pair: [CLS] a [SEP] b [SEP], with b's segment id 1.
            split = n // 2
            ids[b, split] = 3
            types[b, split + 1 : n] = 1
    labels = torch.tensor([0, 2, 1, 2], dtype=torch.int64)
    return ids, mask, (types if with_types else None), labels


def f32(x):
    """Shortest decimal that reads back as the same float32."""
    v = np.float32(x)
    if not np.isfinite(v):
        raise ValueError("non-finite value in reference output")
    return float(repr(v)) if v != 0 else 0.0


def tolist(t):
    a = t.detach().to(torch.float32).numpy()
    if a.ndim == 0:
        return f32(a)
    return np.vectorize(f32, otypes=[object])(a).tolist()


def ints(t):
    return None if t is None else t.tolist()


def write_safetensors(path, tensors):
    """The safetensors format, by hand: u64 LE header size, JSON header, data.

    Tensors are sorted by name, F32, C-contiguous little-endian, back to back.
    The header is padded with spaces to a multiple of 8 bytes, as the Rust
    implementation does.
    """
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_compact_json(path, obj):
    """One top-level key per line, each value on one line: small and diffable."""
    lines = []
    for k in sorted(obj):
        v = json.dumps(obj[k], sort_keys=True, separators=(",", ":"))
        lines.append("  %s: %s" % (json.dumps(k), v))
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def labels_maps(n):
    id2label = {str(i): "LABEL_%d" % i for i in range(n)}
    label2id = {"LABEL_%d" % i: i for i in range(n)}
    return id2label, label2id


def bert_hf_config(c, pooling):
    id2label, label2id = labels_maps(c["num_labels"])
    cfg = {
        "architectures": ["BertForSequenceClassification"],
        "attention_probs_dropout_prob": c["attention_probs_dropout_prob"],
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": c["hidden_dropout_prob"],
        "hidden_size": c["hidden_size"],
        "id2label": id2label,
        "initializer_range": c["initializer_range"],
        "intermediate_size": c["intermediate_size"],
        "label2id": label2id,
        "layer_norm_eps": c["layer_norm_eps"],
        "max_position_embeddings": c["max_position_embeddings"],
        "model_type": "bert",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "problem_type": "single_label_classification",
        "torch_dtype": "float32",
        "transformers_version": "4.41.2",
        "type_vocab_size": c["type_vocab_size"],
        "use_cache": True,
        "vocab_size": c["vocab_size"],
        "ddprun_pooling": pooling,
    }
    return cfg


def distilbert_hf_config(c, pooling):
    id2label, label2id = labels_maps(c["num_labels"])
    cfg = {
        "activation": "gelu",
        "architectures": ["DistilBertForSequenceClassification"],
        "attention_dropout": c["attention_dropout"],
        "dim": c["dim"],
        "dropout": c["dropout"],
        "hidden_dim": c["hidden_dim"],
        "id2label": id2label,
        "initializer_range": c["initializer_range"],
        "label2id": label2id,
        "max_position_embeddings": c["max_position_embeddings"],
        "model_type": "distilbert",
        "n_heads": c["n_heads"],
        "n_layers": c["n_layers"],
        "pad_token_id": 0,
        "problem_type": "single_label_classification",
        "qa_dropout": 0.1,
        "seq_classif_dropout": c["seq_classif_dropout"],
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "torch_dtype": "float32",
        "transformers_version": "4.41.2",
        "vocab_size": c["vocab_size"],
        "ddprun_pooling": pooling,
    }
    return cfg


BERT_GRADS = [
    "classifier.weight",
    "classifier.bias",
    "bert.pooler.dense.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.output.LayerNorm.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.embeddings.token_type_embeddings.weight",
    "bert.embeddings.word_embeddings.weight",
]

DISTILBERT_GRADS = [
    "classifier.weight",
    "classifier.bias",
    "pre_classifier.weight",
    "distilbert.transformer.layer.0.attention.q_lin.weight",
    "distilbert.transformer.layer.1.output_layer_norm.weight",
    "distilbert.embeddings.LayerNorm.weight",
    "distilbert.embeddings.word_embeddings.weight",
]


def bf16_logits(model, args):
    """Logits under CPU bf16 autocast, or None where this torch lacks it."""
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(*args)[0]
        return tolist(logits.float())
    except (RuntimeError, TypeError, AttributeError) as e:  # pragma: no cover
        print("bf16 autocast unavailable: %s" % e, file=sys.stderr)
        return None


def check_sensitive(name, model, args, logits):
    """Fail unless the fixture can tell a right model from a subtly wrong one."""
    spread = (logits - logits.mean(dim=0)).abs().max().item()
    ids, mask, types = args
    with torch.no_grad():
        unmasked = model(ids, torch.ones_like(mask), types)[0]
    masked_effect = (unmasked - logits).abs().max().item()
    print("%s: logits spread over batch %.3g, effect of the padding mask %.3g"
          % (name, spread, masked_effect), file=sys.stderr)
    if spread < 0.05 or masked_effect < 0.01:
        raise SystemExit("%s: fixture too insensitive" % name)


def run_case(name, model, ids, mask, types, labels, grad_names, pooling, model_type):
    model.eval()  # dropout off
    model.zero_grad(set_to_none=True)
    args = (ids, mask, types)
    logits, h, pooled = model(*args)
    loss = F.cross_entropy(logits.view(-1, model.num_labels), labels.view(-1))
    loss.backward()
    params = dict(model.named_parameters())
    grads = {}
    for g in grad_names:
        if params[g].grad is not None:
            grads[g] = tolist(params[g].grad)
    unused = sorted(n for n, p in params.items() if p.grad is None)
    check_sensitive(name, model, args, logits)
    return {
        "case": name,
        "model_type": model_type,
        "pooling": pooling,
        "torch_version": torch.__version__,
        "seed": SEED,
        "init_std": INIT_STD,
        "input_ids": ints(ids),
        "attention_mask": ints(mask),
        "token_type_ids": ints(types),
        "labels": ints(labels),
        "logits": tolist(logits),
        "loss": tolist(loss),
        "last_hidden_state": tolist(h),
        "pooled": tolist(pooled),
        "grads": grads,
        "params_without_grad": unused,
        "logits_bf16": bf16_logits(model, args),
        "tolerance": {
            "logits_abs": 1e-4,
            "loss_abs": 1e-4,
            "hidden_abs": 1e-4,
            "grad_rel": 1e-4,
            "grad_rel_note": "max|got-want| <= grad_rel * max(max|want|, 1e-6) per tensor",
            "logits_bf16_abs": 1e-1,
        },
    }


def write_case(name, cfg, state, ref, extra=None):
    """bert/testdata/<name>/{config.json, model.safetensors, reference.json}.

    reference.json keys: case, model_type, pooling, torch_version, seed,
    input_ids [B][L] int, attention_mask [B][L] int, token_type_ids [B][L] int or
    null (DistilBERT), labels [B] int, logits [B][num_labels], loss (float),
    last_hidden_state [B][L][H], pooled [B][H] (the classifier's input before
    dropout: BERT pooler output or mean; DistilBERT h[:,0] or mean, before
    pre_classifier), grads {param name: nested list in the parameter's shape},
    params_without_grad [names], logits_bf16 [B][num_labels] or null,
    tolerance {logits_abs, loss_abs, hidden_abs, grad_rel, grad_rel_note,
    logits_bf16_abs}.
    """
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), state)
    write_compact_json(os.path.join(d, "reference.json"), ref)
    for fname, fn in (extra or {}).items():
        fn(os.path.join(d, fname))


def save_bin(path, state):
    # torch.save writes a zip; its inner folder name comes from the file name.
    torch.save(state, path)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)

    # BERT: one set of weights for both pooling variants.
    gen = torch.Generator().manual_seed(SEED)
    bert = BertForSequenceClassification(BERT_CONFIG, "cls")
    hf_init(bert, INIT_STD, gen)
    ids, mask, types, labels = inputs(gen, BERT_CONFIG["vocab_size"], True)
    state = collections.OrderedDict(
        (k, v.detach().clone()) for k, v in bert.state_dict().items()
    )
    # What transformers < 4.31 wrote into pytorch_model.bin: the position_ids buffer.
    bin_state = collections.OrderedDict(state)
    bin_state["bert.embeddings.position_ids"] = bert.bert.embeddings.position_ids.clone()
    bf16_state = collections.OrderedDict((k, v.to(torch.bfloat16)) for k, v in state.items())
    for pooling in ("cls", "mean"):
        bert.pooling = pooling
        name = "bert_" + pooling
        ref = run_case(name, bert, ids, mask, types, labels, BERT_GRADS, pooling, "bert")
        extra = None
        if pooling == "cls":
            extra = {
                "pytorch_model.bin": lambda p: save_bin(p, bin_state),
                "pytorch_model_bf16.bin": lambda p: save_bin(p, bf16_state),
            }
        write_case(name, bert_hf_config(BERT_CONFIG, pooling), state, ref, extra)

    # DistilBERT.
    gen = torch.Generator().manual_seed(SEED + 1)
    distil = DistilBertForSequenceClassification(DISTILBERT_CONFIG, "cls")
    hf_init(distil, INIT_STD, gen)
    ids, mask, _, labels = inputs(gen, DISTILBERT_CONFIG["vocab_size"], False)
    state = collections.OrderedDict(
        (k, v.detach().clone()) for k, v in distil.state_dict().items()
    )
    for pooling in ("cls", "mean"):
        distil.pooling = pooling
        name = "distilbert_" + pooling
        ref = run_case(
            name, distil, ids, mask, None, labels, DISTILBERT_GRADS, pooling, "distilbert"
        )
        write_case(name, distilbert_hf_config(DISTILBERT_CONFIG, pooling), state, ref)


if __name__ == "__main__":
    main()
