#!/usr/bin/python3
"""Reference fixtures for the bert package's masked-LM parity test.

Regenerate (from the repository root) with:

    /usr/bin/python3 bert/testdata/gen_mlm_fixture.py

Like gen_fixtures.py (whose BERT and DistilBERT encoders it reuses) it needs
only Debian's python3-torch (1.13) and python3-numpy, and its output is
byte-identical from run to run on the same machine.

It rebuilds HuggingFace transformers' BertForMaskedLM and DistilBertForMaskedLM
in plain PyTorch with HF's state-dict names: the encoder without a pooler, the
prediction head (BERT: cls.predictions.transform.{dense,LayerNorm} and
cls.predictions.bias; DistilBERT: vocab_transform, vocab_layer_norm,
vocab_projector.bias) and the output projection tied to the word embeddings
(tie_word_embeddings), as HF's tie_weights() leaves it: one Parameter.

For each case it writes bert/testdata/<case>/:

    config.json        HF config with architectures [Bert|DistilBert]ForMaskedLM
    model.safetensors  F32 weights as HF's save_pretrained writes them: the tied
                       aliases (cls.predictions.decoder.weight and .bias,
                       vocab_projector.weight) left out
    pytorch_model.bin  torch.save of the full state dict, aliases included (one
                       shared storage each), as HF's .bin files carry them
    reference.json     inputs, labels, logits at the masked positions, loss,
                       gradients (schema in run_case)
"""

import collections
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_fixtures as gf  # noqa: E402

SEED = 20240917
MASK_ID = 4  # [MASK] in the fixtures' made-up vocabulary ([PAD]=0, [CLS]=2, [SEP]=3)


def fp32(x):
    """LayerNorm's input in float32 under bf16 autocast, as autocast does from
    PyTorch 2.0 on (layer_norm is on its CPU float32 list). 1.13's CPU autocast
    passes the bf16 activation through to layer_norm with float32 weights and
    fails ("expected scalar type BFloat16 but found Float"): the head is the
    only place where a LayerNorm sees a bf16 input, the encoder's add a float32
    residual first. Without autocast this is the identity."""
    return x.float() if x.dtype == torch.bfloat16 else x


class BertEncoderOnly(gf.BertModel):
    """BertModel(add_pooling_layer=False): BertForMaskedLM has no pooler."""

    def __init__(self, c):
        super().__init__(c)
        del self.pooler

    def forward(self, input_ids, attention_mask, token_type_ids):
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * gf.NEG_INF
        return self.encoder(self.embeddings(input_ids, token_type_ids), ext)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, x):
        return self.LayerNorm(fp32(F.gelu(self.dense(x))))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
        self.transform = BertPredictionHeadTransform(c)
        self.decoder = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.decoder.weight = word_embeddings.weight  # tie_weights()
        self.decoder.bias = self.bias

    def forward(self, x):
        return self.decoder(self.transform(x))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c, word_embeddings):
        super().__init__()
        self.predictions = BertLMPredictionHead(c, word_embeddings)

    def forward(self, x):
        return self.predictions(x)


class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vocab_size = c["vocab_size"]
        self.bert = BertEncoderOnly(c)
        self.cls = BertOnlyMLMHead(c, self.bert.embeddings.word_embeddings)

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.cls(self.bert(input_ids, attention_mask, token_type_ids))


class DistilBertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vocab_size = c["vocab_size"]
        self.distilbert = gf.DistilBertModel(c)
        self.vocab_transform = nn.Linear(c["dim"], c["dim"])
        self.vocab_layer_norm = nn.LayerNorm(c["dim"], eps=1e-12)
        self.vocab_projector = nn.Linear(c["dim"], c["vocab_size"])
        self.vocab_projector.weight = self.distilbert.embeddings.word_embeddings.weight

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        h = self.distilbert(input_ids, attention_mask)
        x = self.vocab_layer_norm(fp32(F.gelu(self.vocab_transform(h))))
        return self.vocab_projector(x)


def mlm_inputs(gen, vocab, with_types):
    """gen_fixtures' padded batch, masked as DataCollatorForLanguageModeling
    would, with more masked positions (about 1 in 3) so that the loss sees
    every kind: [MASK], a random token, the token unchanged. Specials and
    padding are never masked."""
    ids, mask, types, _ = gf.inputs(gen, vocab, with_types)
    labels = torch.full(ids.shape, -100, dtype=torch.int64)
    special = (ids == 0) | (ids == 2) | (ids == 3) | (mask == 0)
    pick = (torch.rand(ids.shape, generator=gen) < 0.35) & ~special
    kind = torch.rand(ids.shape, generator=gen)
    random_words = torch.randint(vocab, ids.shape, generator=gen)
    labels[pick] = ids[pick]
    masked = ids.clone()
    masked[pick & (kind < 0.6)] = MASK_ID
    rnd = pick & (kind >= 0.6) & (kind < 0.8)
    masked[rnd] = random_words[rnd]
    return masked, mask, types, labels


def tied_state(model, aliases):
    """The state dict as HF's safetensors holds it (the tied aliases left out)
    and as state_dict() returns it, aliases included (torch.save stores each
    shared storage once)."""
    full = collections.OrderedDict((k, v.detach()) for k, v in model.state_dict().items())
    for alias, target in aliases.items():
        assert full[alias].data_ptr() == full[target].data_ptr(), alias + " is not tied"
    state = collections.OrderedDict((k, v) for k, v in full.items() if k not in aliases)
    return state, full


def run_case(name, model, ids, mask, types, labels, grad_names, model_type):
    model.eval()  # dropout off
    model.zero_grad(set_to_none=True)
    scores = model(ids, mask, types)  # [B, L, V], every position, as HF computes it
    loss = F.cross_entropy(scores.view(-1, model.vocab_size), labels.view(-1))  # ignore_index -100
    loss.backward()
    sel = labels.view(-1) != -100
    logits = scores.view(-1, model.vocab_size)[sel]
    params = dict(model.named_parameters())
    grads = {g: gf.tolist(params[g].grad) for g in grad_names}
    with torch.no_grad():
        unmasked = model(ids, torch.ones_like(mask), types).view(-1, model.vocab_size)[sel]
    spread = (logits - logits.mean(dim=0)).abs().max().item()
    effect = (unmasked - logits).abs().max().item()
    print("%s: %d masked positions, logits spread %.3g, effect of the padding mask %.3g"
          % (name, int(sel.sum()), spread, effect), file=sys.stderr)
    if spread < 0.05 or effect < 0.01:
        raise SystemExit("%s: fixture too insensitive" % name)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = model(ids, mask, types).view(-1, model.vocab_size)[sel].float()
    return {
        "case": name,
        "model_type": model_type,
        "torch_version": torch.__version__,
        "seed": SEED,
        "init_std": gf.INIT_STD,
        "input_ids": gf.ints(ids),
        "attention_mask": gf.ints(mask),
        "token_type_ids": gf.ints(types),
        "mlm_labels": gf.ints(labels),
        "masked_positions": gf.ints(torch.nonzero(sel).view(-1)),
        "logits": gf.tolist(logits),
        "logits_bf16": gf.tolist(bf16),
        "loss": gf.tolist(loss),
        "grads": grads,
        "tolerance": {
            "logits_abs": 1e-4,
            "loss_abs": 1e-5,
            "grad_rel": 1e-4,
            "grad_rel_note": "max|got-want| <= grad_rel * max(max|want|, 1e-6) per tensor",
            "logits_bf16_abs": 1.5e-1,
        },
    }


def bert_config():
    c = gf.bert_hf_config(gf.BERT_CONFIG, "cls")
    for k in ("id2label", "label2id", "problem_type", "ddprun_pooling", "classifier_dropout"):
        del c[k]
    c["architectures"] = ["BertForMaskedLM"]
    return c


def distilbert_config():
    c = gf.distilbert_hf_config(gf.DISTILBERT_CONFIG, "cls")
    for k in ("id2label", "label2id", "problem_type", "ddprun_pooling"):
        del c[k]
    c["architectures"] = ["DistilBertForMaskedLM"]
    return c


def write(name, cfg, state, full, ref):
    d = os.path.join(gf.OUT, name)
    os.makedirs(d, exist_ok=True)
    gf.write_json(os.path.join(d, "config.json"), cfg)
    gf.write_safetensors(os.path.join(d, "model.safetensors"), state)
    gf.save_bin(os.path.join(d, "pytorch_model.bin"), full)
    gf.write_compact_json(os.path.join(d, "reference.json"), ref)


def main():
    torch.set_num_threads(1)
    torch.manual_seed(SEED)

    gen = torch.Generator().manual_seed(SEED)
    bert = BertForMaskedLM(gf.BERT_CONFIG)
    gf.hf_init(bert, gf.INIT_STD, gen)
    ids, mask, types, labels = mlm_inputs(gen, gf.BERT_CONFIG["vocab_size"], True)
    state, full = tied_state(bert, {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    })
    grads = [
        "cls.predictions.bias",
        "cls.predictions.transform.dense.weight",
        "cls.predictions.transform.dense.bias",
        "cls.predictions.transform.LayerNorm.weight",
        "cls.predictions.transform.LayerNorm.bias",
        "bert.embeddings.word_embeddings.weight",  # lookup + tied decoder
        "bert.embeddings.position_embeddings.weight",
        "bert.encoder.layer.0.attention.self.query.weight",
    ]
    ref = run_case("bert_mlm", bert, ids, mask, types, labels, grads, "bert")
    write("bert_mlm", bert_config(), state, full, ref)

    gen = torch.Generator().manual_seed(SEED + 1)
    distil = DistilBertForMaskedLM(gf.DISTILBERT_CONFIG)
    gf.hf_init(distil, gf.INIT_STD, gen)
    ids, mask, _, labels = mlm_inputs(gen, gf.DISTILBERT_CONFIG["vocab_size"], False)
    state, full = tied_state(distil, {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"})
    grads = [
        "vocab_projector.bias",
        "vocab_transform.weight",
        "vocab_layer_norm.weight",
        "distilbert.embeddings.word_embeddings.weight",
        "distilbert.embeddings.position_embeddings.weight",
        "distilbert.transformer.layer.0.attention.q_lin.weight",
    ]
    ref = run_case("distilbert_mlm", distil, ids, mask, None, labels, grads, "distilbert")
    write("distilbert_mlm", distilbert_config(), state, full, ref)


if __name__ == "__main__":
    main()
