package shard_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ddprun/ddprun/shard"
)

// fuzzScan checks what must hold for any input: no panic, rows in file
// order with valid UTF-8 under PolicyReplace, non-empty texts and labels,
// no control characters in labels.
func fuzzScan(t *testing.T, name string, data []byte, lazy bool) {
	cfg := shard.ReadConfig{InvalidUTF8: shard.PolicyReplace, EmptyText: shard.PolicySkip, LazyQuotes: lazy, Pair: "pair"}
	// Two halves through a MultiReader, to cross buffer boundaries.
	r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), bytes.NewReader(data[len(data)/2:]))
	recs, _, err := shard.ReadAll(r, name, cfg)
	if err != nil {
		return
	}
	last := 0
	for _, rec := range recs {
		if rec.Line < last || rec.Line < 1 {
			t.Fatalf("line %d after %d", rec.Line, last)
		}
		last = rec.Line
		if !utf8.ValidString(rec.Text) || !utf8.ValidString(rec.Pair) || !utf8.ValidString(rec.Label) {
			t.Fatalf("invalid UTF-8 in %+v", rec)
		}
		if strings.TrimSpace(rec.Text) == "" || rec.Label == "" {
			t.Fatalf("empty text or label in %+v", rec)
		}
		if strings.ContainsFunc(rec.Label, unicode.IsControl) {
			t.Fatalf("control character in label %q", rec.Label)
		}
	}
	// Strict UTF-8 must fail exactly when some kept field was repaired.
	cfg.InvalidUTF8 = shard.PolicyError
	if _, _, err := shard.ReadAll(bytes.NewReader(data), name, cfg); err == nil && !utf8.Valid(data) && strings.HasSuffix(name, ".jsonl") {
		t.Fatalf("invalid UTF-8 accepted under PolicyError")
	}
}

func FuzzScanCSV(f *testing.F) {
	for _, s := range []string{
		"text,label\nhello,1\n",
		"\ufefftext,label,pair\r\n\"a\r\nb\",x,\"\"\"q\"\"\"\r\n",
		"text,label\n\"unterminated,1\n",
		"text,label\na,1,2\nb\n",
		"label,text\n1,\xff\xfe\n",
		"text,label\n \t,1\n",
		"text\tlabel\na\"b\t1\n",
		"text,label,pair\na,sp\x00am,\nb,\"x\ny\",\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, lazy bool) {
		fuzzScan(t, "f.csv", data, lazy)
		fuzzScan(t, "f.tsv", data, lazy)
	})
}

func FuzzScanJSONL(f *testing.F) {
	for _, s := range []string{
		"{\"text\":\"a\",\"label\":1}\n",
		"\ufeff{\"text\":\"a\\u0000\\ud800\",\"label\":\"x\",\"pair\":null}\r\n\n",
		"{\"text\":\"\xff\",\"label\":-3}",
		"[]\n{}\nnull\n",
		"{\"text\":\"a\",\"label\":1e3}\n",
		"{\"text\":\"a\",\"label\":\"\\u0000\"}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzScan(t, "f.jsonl", data, false)
	})
}
