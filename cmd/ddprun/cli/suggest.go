package cli

import (
	"flag"
	"strings"
)

// otherSpellings maps the flags of HF's Trainer (TrainingArguments and the
// example scripts' data arguments) and torchrun that ddprun spells
// differently, normalised by normFlag, to what to write instead. Those
// accepted as they are (aliases: train.go, launch.go) are not repeated.
var otherSpellings = map[string]string{
	// HF TrainingArguments.
	"evaluation-strategy":      "--eval-strategy",
	"lr-scheduler-type":        "--lr-scheduler",
	"load-best-model-at-end":   "--load-best-at-end",
	"metric-for-best-model":    "--metric-for-best",
	"overwrite-output-dir":     "--overwrite-output",
	"resume-from-checkpoint":   "--resume",
	"per-gpu-train-batch-size": "--batch-size",
	"per-gpu-eval-batch-size":  "--eval-batch-size",
	"train-batch-size":         "--batch-size",
	"dataloader-num-workers":   "--data-workers",
	"ddp-backend":              "--backend",
	"ddp-bucket-cap-mb":        "--bucket-cap-mb",
	"ddp-timeout":              "--collective-timeout",
	"bf16":                     "--precision bf16",
	"fp16":                     "--precision bf16",
	"use-cpu":                  "--device cpu",
	"no-cuda":                  "--device cpu",
	// HF example scripts (run_glue.py, run_classification.py).
	"model-name-or-path": "--model",
	"train-file":         "--train",
	"validation-file":    "--val",
	"test-file":          "--test",
	"max-seq-length":     "--max-length",
	"text-column-names":  "--text-column",
	"label-column-name":  "--label-column",
	// torchrun.
	"master-addr":   "--join",
	"master-port":   "--port",
	"rdzv-endpoint": "--join",
	"rdzv-id":       "--job-id",
}

// normFlag is a flag name without dashes, in lower case, with
// underscores (Python's spelling) as dashes.
func normFlag(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimLeft(name, "-")), "_", "-")
}

// suggest returns what the unknown flag name most likely meant among fs's
// flags, written as a user would type it ("--lr", "--precision bf16"), or
// "" when nothing is close: the same flag in another spelling (Python's
// underscores), a spelling of another trainer, else the nearest name by
// edit distance.
func suggest(fs *flag.FlagSet, name string) string {
	n := normFlag(name)
	if f := fs.Lookup(n); f != nil {
		return "--" + canonical(fs, f)
	}
	if s, ok := otherSpellings[n]; ok {
		if first, _, _ := strings.Cut(s, " "); fs.Lookup(first[2:]) != nil {
			return s
		}
	}
	best, bestDist := "", maxTypos(n)+1
	fs.VisitAll(func(f *flag.Flag) {
		if d := editDistance(n, f.Name); d < bestDist {
			best, bestDist = "--"+f.Name, d
		}
	})
	return best
}

// maxTypos is how far a name may be from a flag to suggest it: about one
// edit in three characters, between 1 and 3.
func maxTypos(name string) int { return min(max(len(name)/3, 1), 3) }

// canonical is f's name, or the name of the flag it is an alias of.
func canonical(fs *flag.FlagSet, f *flag.Flag) string {
	if orig := aliasOf(fs, f); orig != "" {
		return orig
	}
	return f.Name
}

// suggestCommand returns the registered command nearest to name, or "".
func suggestCommand(name string) string {
	registry.Lock()
	defer registry.Unlock()
	best, bestDist := "", maxTypos(name)+1
	for _, c := range registry.cmds {
		if d := editDistance(name, c.Name); !c.Hidden && d < bestDist {
			best, bestDist = c.Name, d
		}
	}
	return best
}

// editDistance is the number of single-byte insertions, deletions,
// substitutions and swaps of neighbours (the commonest typo: trian) that
// turn a into b: the optimal string alignment distance.
func editDistance(a, b string) int {
	pprev, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pprev[j-2]+1)
			}
		}
		pprev, prev, cur = prev, cur, pprev
	}
	return prev[len(b)]
}
