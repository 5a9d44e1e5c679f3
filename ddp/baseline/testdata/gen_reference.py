#!/usr/bin/python3
"""Reference values for package baseline's scikit-learn parity tests.

Regenerate (from the repository root) with:

    /usr/bin/python3 ddp/baseline/testdata/gen_reference.py

It needs scikit-learn (Debian: apt-get install python3-sklearn) and writes
ddp/baseline/testdata/reference.json, byte-identical from run to run. `go
test` only reads that file; it never runs Python.

What it pins down, for the same small corpora:

  * CountVectorizer() with its defaults (lowercase=True, token_pattern
    r"(?u)\\b\\w\\w+\\b", strip_accents=None): the analyzer's words for every
    text, in order, and the sorted vocabulary;
  * MultinomialNB(alpha) with fit_prior=True: class_log_prior_, and for the
    held-out texts predict_joint_log_proba (the joint log-likelihood),
    predict_log_proba and predict.

Non-finite floats (the log prior of a class with no examples) are written as
the strings "-Infinity" / "Infinity", since JSON has no such numbers.

Before writing anything it also checks, over every code point of this
Python's Unicode database, the two facts package baseline's word rule rests on
(see Note [Word characters] and Note [Lower-casing] in ../doc.go):

  1. re's \\w matches exactly the categories L*, N* and "_";
  2. str.lower() of one character is one character, except U+0130.
"""

import json
import os
import re
import sys
import unicodedata
import warnings

import numpy as np
import sklearn
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB


def check_unicode_assumptions():
    word = re.compile(r"\w")
    for cp in range(0x110000):
        ch = chr(cp)
        want = unicodedata.category(ch)[0] in "LN" or ch == "_"
        if bool(word.match(ch)) != want:
            sys.exit(f"re \\w disagrees with L*|N*|_ at U+{cp:04X}")
        if len(ch.lower()) != 1 and cp != 0x130:
            sys.exit(f"U+{cp:04X}.lower() is {len(ch.lower())} characters")


# Class 0: ham, 1: spam, 2: a rare "newsletter" class with three examples.
MAIN_TRAIN = [
    ("Hi Bob, lunch at 12:30 tomorrow? Let me know.", 0),
    ("The meeting is moved to Room 4B; bring the Q3 report.", 0),
    ("I think the naïve approach works. Naïve Bayes, that is!", 0),
    ("Café au lait at the café near the office? 5 min walk.", 0),
    ("Re: your e-mail about __init__ and snake_case names in module_2.py", 0),
    ("Thanks!! I'll review the patch (v2.1) tonight -- a I x y z", 0),
    ("Mom says hi. Dad says HI too. Hi hi HI!", 0),
    ("日本語のテキスト and 中文 text in the same message", 0),
    ("Straße closed; take the Umleitung via Ærøskøbing.", 0),
    ("ΟΔΟΣ ΣΟΦΟΣ: Σ alone, ΣΑΣ, and ΑΣ'Α with an apostrophe.", 0),
    ("İstanbul and KİTAP: the dotted capital I lower-cases to i + U+0307.", 0),
    ("Decomposed nai\u0308ve and cafe\u0301 split at the combining mark.", 0),
    ("x² and ½ and Ⅻ and ٣٤ and २०२४ are numbers; ① too.", 0),
    ("नमस्ते दुनिया, tabs\tand\nnewlines\u00a0and\u2003spaces", 0),
    ("Kelvin \u212a and ＦＵＬＬ ｗｉｄｔｈ letters", 0),
    ("WIN $1000 NOW!!! Click http://example.com/offer?id=42 now now now", 1),
    ("Cheap meds, cheap watches, CHEAP!!! Call 555-0199 today", 1),
    ("You have WON a prize: claim at win-prize.biz before 31/12", 1),
    ("URGENT: verify your account at secure-login.example.net", 1),
    ("Free $$$ free FREE free... no strings attached 100%", 1),
    ("Dear friend, I am a prince with $10,000,000 for you", 1),
    ("Lose 10kg in 10 days!!! 🙂🙂 Guaranteed results", 1),
    ("Make money fast: work from home, earn €5000 weekly", 1),
    ("café specials!!! Win a free café au lait, click now", 1),
    ("Weekly digest: 5 new posts in the forum_news section", 2),
    ("Newsletter #42 -- what's new in release 3.0 (digest)", 2),
    ("Your weekly digest: top posts, new members, forum news", 2),
]

MAIN_TEST = [
    "",
    "!!! ... ???",
    "a b c I x",
    "Totally unseen vocabulary: zyzzyva quixotic",
    "WIN a FREE café now!!!",
    "Lunch tomorrow at the café? Let me know, Bob.",
    "weekly digest of forum news",
    "Naïve nai\u0308ve NAÏVE naive",
    "ΟΔΟΣ οδος ΣΟΦΟΣ σοφος",
    "KİTAP İstanbul istanbul",
    "日本語 中文 テキスト",
    "cheap cheap cheap cheap cheap cheap cheap cheap cheap cheap",
    "snake_case __init__ module_2 _x x_",
    "x² ½ Ⅻ ٣٤ २०२४ ①",
    "free" + " free" * 40,
    "ΣΣ ΣΣΣ ΑΣ\u0301 ΑΣ\u0301Α ΑΣ.ΑΑ ΑΣ1",
    "zero\u200dwidth joiner, soft\u00adhyphen",
    "ß ẞẞ ǅǅ ＡＢＣ ℌℌ",
]

# Two identical classes: every score ties, and numpy's argmax picks class 0.
TIES_TRAIN = [
    ("alpha beta gamma", 0),
    ("alpha beta gamma", 1),
    ("delta epsilon", 0),
    ("delta epsilon", 1),
]
TIES_TEST = ["alpha", "delta gamma", "", "unseen words"]

CASES = [
    dict(name="alpha=1", corpus="main", k=3, alpha=1.0, classes=None,
         why="sklearn's defaults: Laplace smoothing, one rare class"),
    dict(name="alpha=0.5", corpus="main", k=3, alpha=0.5, classes=None,
         why="Lidstone smoothing: alpha appears in numerator and denominator"),
    dict(name="empty_class", corpus="main", k=4, alpha=1.0, classes=[0, 1, 2, 3],
         why="class 3 has no examples (partial_fit with classes=range(4)): "
             "log prior -inf, never predicted"),
    dict(name="ties", corpus="ties", k=2, alpha=1.0, classes=None,
         why="equal scores: the lowest class id wins, as numpy.argmax"),
]

CORPORA = {"main": (MAIN_TRAIN, MAIN_TEST), "ties": (TIES_TRAIN, TIES_TEST)}


def floats(a):
    """A list (of lists) of Python floats, non-finite ones as strings."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim > 1:
        return [floats(row) for row in a]
    return [float(x) if np.isfinite(x) else ("-Infinity" if x < 0 else "Infinity") for x in a]


def dumps(v, indent=""):
    """JSON with sorted keys, one key per line and lists of scalars on one line."""
    inner = indent + " "
    if isinstance(v, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v[k], inner)}" for k in sorted(v)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(v, list) and any(isinstance(x, (list, dict)) for x in v):
        return "[\n" + ",\n".join(inner + dumps(x, inner) for x in v) + "\n" + indent + "]"
    return json.dumps(v, ensure_ascii=False)


def joint_log_likelihood(nb, X):
    if hasattr(nb, "predict_joint_log_proba"):  # scikit-learn >= 1.2
        return nb.predict_joint_log_proba(X)
    return nb._joint_log_likelihood(X)


def run_case(case):
    train, test = CORPORA[case["corpus"]]
    texts = [t for t, _ in train]
    labels = np.array([y for _, y in train])
    cv = CountVectorizer()
    X = cv.fit_transform(texts)
    T = cv.transform(test)
    nb = MultinomialNB(alpha=case["alpha"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) for an empty class
        if case["classes"] is None:
            nb.fit(X, labels)
        else:
            nb.partial_fit(X, labels, classes=case["classes"])
        jll = joint_log_likelihood(nb, T)
        log_proba = nb.predict_log_proba(T)
        pred = nb.predict(T)
    if list(nb.classes_) != list(range(case["k"])):
        sys.exit(f"{case['name']}: classes_ {nb.classes_}, want 0..{case['k'] - 1}")
    return dict(
        name=case["name"],
        why=case["why"],
        corpus=case["corpus"],
        k=case["k"],
        alpha=case["alpha"],
        vocabulary=list(cv.get_feature_names_out()),
        class_log_prior=floats(nb.class_log_prior_),
        joint_log_likelihood=floats(jll),
        log_proba=floats(log_proba),
        predictions=[int(p) for p in pred],
    )


def corpus_json(name):
    train, test = CORPORA[name]
    analyze = CountVectorizer().build_analyzer()
    return dict(
        texts=[t for t, _ in train],
        labels=[y for _, y in train],
        words=[analyze(t) for t, _ in train],
        test_texts=test,
        test_words=[analyze(t) for t in test],
    )


def main():
    check_unicode_assumptions()
    out = dict(
        generator="ddp/baseline/testdata/gen_reference.py",
        versions=dict(
            python=sys.version.split()[0],
            unicode=unicodedata.unidata_version,
            sklearn=sklearn.__version__,
            numpy=np.__version__,
        ),
        corpora={name: corpus_json(name) for name in sorted(CORPORA)},
        cases=[run_case(c) for c in CASES],
    )
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(out) + "\n")


if __name__ == "__main__":
    main()
