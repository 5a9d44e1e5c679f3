#!/usr/bin/python3
"""Reference WordPiece ids for bert/wordpiece's parity test.

Regenerate (from the repository root) with:

    /usr/bin/python3 bert/testdata/gen_tokenizer_fixture.py \\
        "$(go list -m -f '{{.Dir}}' github.com/sugarme/tokenizer)/pretrained/model"

The argument is the folder holding the vocabularies sugarme/tokenizer v0.3.0
ships (bert-base-uncased-vocab.txt and the bert-large-cased one); they are not
copied into this repository. Output: bert/testdata/tokenizer_reference.json,
byte-identical from run to run.

python3 here has no `transformers`, so this file re-implements the slow
(pure-Python) transformers BertTokenizer path from its published rules:

  PreTrainedTokenizer.tokenize
    1. if do_lower_case: lowercase every character outside special tokens, one
       character at a time (re.sub with "(special)|(.+?)"; "." skips "\\n").
       One char at a time means no final-sigma rule: "Σ" -> "σ" everywhere.
    2. split out special tokens ([CLS] [SEP] [PAD] [UNK] [MASK]) verbatim.
  BasicTokenizer.tokenize, on each other piece
    3. clean: drop U+0000, U+FFFD and category C* except \\t \\n \\r;
       " ", \\t, \\n, \\r and category Zs become " ".
    4. put spaces around CJK ideographs (_is_chinese_char ranges).
    5. NFC.
    6. split on whitespace (str.split()).
    7. per token: lower() if do_lower_case; NFD + drop Mn if strip_accents
       (None means: same as do_lower_case).
    8. split off every punctuation character (ASCII 33-47, 58-64, 91-96,
       123-126, or category P*).
  WordpieceTokenizer.tokenize
    9. greedy longest match, "##" on non-initial pieces, words longer than
       100 code points -> [UNK], no match -> [UNK] for the whole word.
  build_inputs_with_special_tokens / truncate_sequences
   10. [CLS] A [SEP] (B [SEP]); type ids 0 for [CLS] A [SEP], 1 for B [SEP];
       truncation "longest_first" (the closed form in truncate_sequences): cut
       the longer sequence down to the shorter, then split what is left to
       remove, the pair losing the odd token; a single text is cut at the end.
"""

import hashlib
import json
import os
import sys
import unicodedata

SPECIALS = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tokenizer_reference.json")


def load_vocab(path):
    vocab = {}
    with open(path, "r", encoding="utf-8") as f:
        for index, line in enumerate(f):
            vocab[line.rstrip("\n")] = index
    return vocab


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def clean_text(text):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def space_chinese(text):
    return "".join(" %s " % ch if is_chinese(ord(ch)) else ch for ch in text)


def strip_accents(text):
    return "".join(ch for ch in unicodedata.normalize("NFD", text)
                   if unicodedata.category(ch) != "Mn")


def split_on_punc(text):
    out = []
    new_word = True
    for ch in text:
        if is_punctuation(ch):
            out.append(ch)
            new_word = True
        else:
            if new_word:
                out.append("")
            new_word = False
            out[-1] += ch
    return out


def basic_tokenize(text, lower, strip):
    text = clean_text(text)
    text = space_chinese(text)
    text = unicodedata.normalize("NFC", text)
    pieces = []
    for tok in text.split():
        if lower:
            tok = tok.lower()
            if strip is not False:
                tok = strip_accents(tok)
        elif strip:
            tok = strip_accents(tok)
        pieces.extend(split_on_punc(tok))
    return " ".join(pieces).split()


def wordpiece(word, vocab, max_chars=100):
    chars = list(word)
    if len(chars) > max_chars:
        return ["[UNK]"]
    out = []
    start = 0
    while start < len(chars):
        end = len(chars)
        cur = None
        while start < end:
            sub = "".join(chars[start:end])
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        out.append(cur)
        start = end
    return out


def split_specials(text):
    """The added-tokens trie, for special tokens with no lstrip/rstrip."""
    pieces = []
    i = last = 0
    while i < len(text):
        hit = next((s for s in SPECIALS if text.startswith(s, i)), None)
        if hit:
            pieces.append(text[last:i])
            pieces.append(hit)
            i += len(hit)
            last = i
        else:
            i += 1
    pieces.append(text[last:])
    return [p for p in pieces if p]


def lower_outside_specials(text):
    out = []
    i = 0
    while i < len(text):
        hit = next((s for s in SPECIALS if text.startswith(s, i)), None)
        if hit:
            out.append(hit)
            i += len(hit)
        else:
            ch = text[i]
            out.append(ch if ch == "\n" else ch.lower())
            i += 1
    return "".join(out)


def tokenize(text, vocab, lower, strip):
    if lower:
        text = lower_outside_specials(text)
    tokens = []
    for piece in split_specials(text):
        if piece in SPECIALS:
            tokens.append(piece)
            continue
        for word in basic_tokenize(piece, lower, strip):
            tokens.extend(wordpiece(word, vocab))
    return tokens


def truncate(a, b, max_len):
    """PreTrainedTokenizerBase.truncate_sequences, truncation_side "right"."""
    if max_len <= 0:
        return a, b
    remove = len(a) + (len(b) if b is not None else 0) + (3 if b is not None else 2) - max_len
    if remove <= 0:
        return a, b
    if b is None:
        if len(a) <= remove:
            # HF logs an error and does not truncate; bert/wordpiece returns an
            # error instead, so the fixture has no such case.
            raise ValueError("max_len %d leaves no room for the text" % max_len)
        return a[:-remove], None
    first = min(abs(len(b) - len(a)), remove)
    second = remove - first
    if len(a) > len(b):
        ra, rb = first + second // 2, second - second // 2
    else:
        ra, rb = second // 2, first + second - second // 2
    return (a[:-ra] if ra > 0 else a), (b[:-rb] if rb > 0 else b)


def encode(text, pair, max_len, vocab, lower, strip):
    a = tokenize(text, vocab, lower, strip)
    b = tokenize(pair, vocab, lower, strip) if pair is not None else None
    ta, tb = truncate(a, b, max_len)
    toks = ["[CLS]"] + ta + ["[SEP]"]
    types = [0] * len(toks)
    if tb is not None:
        toks += tb + ["[SEP]"]
        types += [1] * (len(tb) + 1)
    unk = vocab["[UNK]"]
    return a, b, [vocab.get(t, unk) for t in toks], types


# (name, text, why)
TEXTS = [
    ("empty", "", "no tokens: [CLS] [SEP]"),
    ("whitespace_only", " \t\n\r\u00a0\u3000 ", "all whitespace kinds, nothing left"),
    ("hello", "Hello, World!", "case and punctuation"),
    ("unaffable", "unaffable", "classic wordpiece split"),
    ("accents", "Café naïve Ångström résumé jalapeño Zoë", "accent stripping"),
    ("decomposed", "Cafe\u0301 A\u030angstro\u0308m", "combining marks, NFC then NFD"),
    ("mixed_case", "HeLLo WoRLD MiXeD CaSe iPhone McDonald's", "lowercasing"),
    ("punct_runs", "Wait...what?!?! --- (yes) [no] {maybe} <tag> ~~~ ^_^ `x`", "punctuation runs"),
    ("money", "$100.00 + 5% = \u00bf\u00a1qu\u00e9?! \u20ac20 \u00a35 \u00a5100", "currency is not punctuation (Sc)"),
    ("email_url", "Mail john.doe+tag@example.com or see https://www.example.org/a/b?q=1&r=two#frag", "emails and URLs"),
    ("chinese", "我爱北京天安门", "CJK ideographs one by one"),
    ("chinese_mixed", "BERT模型很好用ok", "CJK next to Latin"),
    ("japanese", "日本語のテキスト、カタカナとひらがな。", "kana are not CJK ideographs; 、。 are punctuation"),
    ("korean", "한국어 텍스트", "NFD splits Hangul into jamo"),
    ("cjk_ext_b", "\U00020000\U00020001x", "CJK outside the BMP"),
    ("cjk_compat", "\uf900\uf901", "CJK compatibility ideographs, NFC maps them"),
    ("emoji", "I \u2764\ufe0f \U0001f917 emoji \U0001f44d\U0001f3fd!", "emoji, VS16 (Mn), skin tone (Sk)"),
    ("controls", "a\x00b\x01c\u200bd\ufffde\x7ff\u00adg\u200dh\x0bi\x0cj\x85k\x1cl", "control and format chars removed"),
    ("private_unassigned", "x\ue000y\u0378z", "private use (Co) and unassigned (Cn) removed"),
    ("tabs_newlines", "line1\tline2\nline3\r\nline4\n\n\tend", "whitespace normalisation"),
    ("unicode_spaces", "a\u00a0b\u3000c\u2009d\u2028e\u2029f\u202fg\u1680h", "Zs, Zl, Zp separate words"),
    ("long_word", "a" * 150, "over 100 chars: [UNK]"),
    ("word_100", "ab" * 50, "exactly 100 chars: split"),
    ("word_101", "ab" * 50 + "c", "101 chars: [UNK]"),
    ("long_mixed", "x" * 120 + " ok " + "Ä" * 101, "[UNK] per long word, counted after accent stripping"),
    ("numbers", "3.14159 1,000,000 2024-06-01 42nd 0x1F 1e-9", "numbers"),
    ("specials", "[CLS] keep [SEP] these [MASK] as [UNK] specials [PAD]", "special tokens in text"),
    ("specials_glued", "hello[SEP]world[MASK]!", "special tokens without spaces"),
    ("specials_lower", "[cls] [Sep] are not special", "special tokens are case-sensitive"),
    ("greek_sigma", "ΟΔΟΣ ΣΊΣΥΦΟΣ σοφός", "no final-sigma rule (per-char lowercase)"),
    ("turkish_i", "\u0130stanbul \u0131s\u0131k", "İ lowercases to i + U+0307"),
    ("ligature_fullwidth", "ﬁne ｆｕｌｌ ＷＩＤＴＨ", "NFC keeps compatibility chars"),
    ("arabic", "مَرْحَبًا بالعالم", "harakat are Mn"),
    ("hebrew_devanagari", "שָׁלוֹם नमस्ते", "more marks"),
    ("math_symbols", "x\u00b2 + y\u00b3 = z\u00bd \u2260 \u221e \u2192 \u2190 \u00b1 \u00d7 \u00f7", "symbols (S*) are not punctuation"),
    ("quotes", "\u201csmart\u201d \u2018single\u2019 \u00abguillemets\u00bb \u2014 em\u2013dash\u2026", "Unicode punctuation (P*)"),
    ("apostrophes", "don't can't it's rock'n'roll", "apostrophe splits"),
    ("html", "<html><body class=\"x\">Tag&amp;</body></html>", "markup"),
    ("math_alnum", "\U0001d49c\U0001d4b7\U0001d4b8 \U0001d400\U0001d401", "letters outside the BMP"),
    ("cyrillic", "Привет, мир! ЁЖИК", "Cyrillic with case"),
    ("vietnamese", "Tiếng Việt có dấu", "stacked accents"),
    ("sharp_s", "Straße STRASSE \u1e9e", "ß and capital ẞ"),
]

PAIRS = [
    ("pair_fits", "How old are you?", "I am six.", 32),
    ("pair_no_limit", "The first text.", "And the second one.", 0),
    ("pair_trunc_first", "The quick brown fox jumps over the lazy dog again and again", "A short pair", 12),
    ("pair_trunc_second", "Short", "the pair is the much longer one of the two texts here", 10),
    ("pair_trunc_equal", "one two three four five", "six seven eight nine ten", 9),
    ("pair_trunc_both", "alpha beta gamma delta epsilon zeta", "eta theta iota kappa lambda mu nu", 11),
    ("pair_trunc_min", "many words on the left side", "and on the right", 3),
    ("single_trunc", "The quick brown fox jumps over the lazy dog", None, 6),
    ("single_trunc_wordpieces", "unaffable unbelievably", None, 4),
    ("single_exact", "one two three", None, 5),
    ("single_min", "", None, 2),
]

CASED = [
    ("cased_accents", "Café naïve Ångström", "no lowercase, no accent stripping"),
    ("cased_decomposed", "Cafe\u0301 re\u0301sume\u0301", "NFC composes e + U+0301"),
    ("cased_mixed", "HeLLo WoRLD iPhone", "case kept"),
    ("cased_specials", "[CLS] x [SEP] [cls]", "special tokens"),
    ("cased_greek", "ΟΔΟΣ Σίσυφος", "no lowercase"),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gen_tokenizer_fixture.py SUGARME_PRETRAINED_MODEL_DIR")
    vocab_dir = sys.argv[1]
    vocab_files = {
        "uncased": "bert-base-uncased-vocab.txt",
        "cased": "bert-large-cased-whole-word-masking-finetuned-squad-vocab.txt",
    }
    vocabs, sums = {}, {}
    for key, name in vocab_files.items():
        path = os.path.join(vocab_dir, name)
        vocabs[key] = load_vocab(path)
        with open(path, "rb") as f:
            sums[key] = hashlib.sha256(f.read()).hexdigest()

    cases = []

    def add(name, why, vocab, lower, strip, text, pair, max_len):
        a, b, ids, types = encode(text, pair, max_len, vocabs[vocab], lower, strip)
        cases.append({
            "name": name,
            "why": why,
            "vocab": vocab,
            "lowercase": lower,
            "strip_accents": strip,
            "text": text,
            "pair": pair,
            "max_len": max_len,
            "tokens": a,
            "pair_tokens": b,
            "input_ids": ids,
            "token_type_ids": types,
        })

    for name, text, why in TEXTS:
        add(name, why, "uncased", True, None, text, None, 0)
    for name, text, why in TEXTS:
        if name in ("accents", "decomposed", "turkish_i", "vietnamese", "arabic", "korean"):
            add(name + "_keep_accents", why + "; strip_accents=False", "uncased", True, False,
                text, None, 0)
    for name, text, pair, max_len in PAIRS:
        add(name, "truncation", "uncased", True, None, text, pair, max_len)
    for name, text, why in CASED:
        add(name, why, "cased", False, None, text, None, 0)

    out = {
        "generator": "bert/testdata/gen_tokenizer_fixture.py",
        "unicodedata_version": unicodedata.unidata_version,
        "vocab_files": vocab_files,
        "vocab_sha256": sums,
        "cases": cases,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
