#!/usr/bin/python3
"""Writes a training CSV whose every row fills 128 tokens: 4,096 rows of 160
random whole words from bert-base-uncased's vocabulary, 3 labels, seed 1 (the
same file every time), for the throughput benchmarks.

  /usr/bin/python3 bench/random_csv.py OUT.csv   # from the repository root
"""
import random
import sys

random.seed(1)
words = [l.strip() for l in open("bert/wordpiece/vocab/bert-base-uncased-vocab.txt") if l.strip().isalpha()][2000:12000]
with open(sys.argv[1], "w") as f:
    f.write("text,label\n")
    for i in range(4096):
        f.write('"%s",%d\n' % (" ".join(random.choice(words) for _ in range(160)), i % 3))
