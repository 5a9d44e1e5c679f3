#!/usr/bin/python3
"""Side-by-side medians of ddprun ring vs PyTorch Gloo all-reduce runs.

Usage: /usr/bin/python3 bench/allreduce_compare.py DIR
DIR holds gloo-n<ranks>-<run>.jsonl and ring-n<ranks>-<run>.jsonl from bench/allreduce.sh.
Prints a Markdown table per world size: Gloo fp32 busbw, ring fp32 busbw and its ratio to
Gloo, ring bf16-wire algbw of the fp32 buffer and its ratio to Gloo's fp32 algbw.
"""
import collections
import glob
import json
import os
import statistics
import sys


def load(d):
    rows = collections.defaultdict(list)  # (backend, wire, ranks, size) -> [row]
    for path in glob.glob(os.path.join(d, "*.jsonl")):
        backend = os.path.basename(path).split("-")[0]
        for line in open(path):
            r = json.loads(line)
            rows[(backend, r["wire"], r["ranks"], r["size"])].append(r)
    return rows


def med(rows, key):
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def fmt_size(b):
    for unit, n in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if b >= n:
            return f"{b // n}{unit}"
    return str(b)


def main():
    rows = load(sys.argv[1])
    for ranks in sorted({k[2] for k in rows}):
        sizes = sorted({k[3] for k in rows if k[2] == ranks})
        runs = max(len(v) for k, v in rows.items() if k[2] == ranks)
        print(f"\n{ranks} ranks (medians of {runs} runs; GB/s; busbw = algbw x 2(n-1)/n)\n")
        print("| size | Gloo fp32 busbw | ring fp32 busbw | ratio | Gloo fp32 algbw | ring bf16-wire algbw | ratio | #wrong |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in sizes:
            g = rows[("gloo", "float32", ranks, s)]
            f = rows[("ring", "float32", ranks, s)]
            b = rows[("ring", "bfloat16", ranks, s)]
            wrong = sum(r["#wrong"] for r in g + f + b)
            gb, fb, ga, ba = med(g, "busbw"), med(f, "busbw"), med(g, "algbw"), med(b, "algbw")
            print(f"| {fmt_size(s)} | {gb:.3f} | {fb:.3f} | {fb / gb:.2f}x | {ga:.3f} | {ba:.3f} | {ba / ga:.2f}x | {wrong} |")


if __name__ == "__main__":
    main()
