package shard_test

import (
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ddprun/ddprun/shard"
	"github.com/google/go-cmp/cmp"
)

func TestScan_Good(t *testing.T) {
	for _, c := range []struct {
		name, file, data string
		cfg              shard.ReadConfig
		want             []shard.Record
	}{
		{"plain", "a.csv", "text,label\nhello,1\nworld,0\n", shard.ReadConfig{},
			[]shard.Record{{Text: "hello", Label: "1", Line: 2}, {Text: "world", Label: "0", Line: 3}}},
		{"bom crlf", "a.csv", "\ufefftext,label\r\nhello,1\r\nworld,0\r\n", shard.ReadConfig{},
			[]shard.Record{{Text: "hello", Label: "1", Line: 2}, {Text: "world", Label: "0", Line: 3}}},
		{"quotes newlines commas", "a.csv", "label,text\nspam,\"line one\r\nline \"\"two\"\", three\"\nham,\"x\"\n", shard.ReadConfig{},
			[]shard.Record{{Text: "line one\nline \"two\", three", Label: "spam", Line: 2}, {Text: "x", Label: "ham", Line: 4}}},
		{"no final newline, padded header", "a.csv", " text , label ,extra\nhi,a,1", shard.ReadConfig{},
			[]shard.Record{{Text: "hi", Label: "a", Line: 2}}},
		{"blank lines skipped", "a.csv", "text,label\n\nhi,a\n\n\nho,b\n", shard.ReadConfig{},
			[]shard.Record{{Text: "hi", Label: "a", Line: 3}, {Text: "ho", Label: "b", Line: 6}}},
		{"other columns and pair", "a.csv", "s1,s2,y\nthe cat,a dog,yes\n", shard.ReadConfig{Text: "s1", Pair: "s2", Label: "y"},
			[]shard.Record{{Text: "the cat", Pair: "a dog", Label: "yes", Line: 2}}},
		{"id column", "a.csv", "id,text\nmsg-7,hello\n", shard.ReadConfig{ID: "id", NoLabel: true},
			[]shard.Record{{Text: "hello", ID: "msg-7", Line: 2}}},
		{"jsonl id", "a.jsonl", "{\"text\":\"a\",\"id\":42}\n{\"text\":\"b\",\"id\":\"x\"}\n", shard.ReadConfig{ID: "id", NoLabel: true},
			[]shard.Record{{Text: "a", ID: "42", Line: 1}, {Text: "b", ID: "x", Line: 2}}},
		{"tsv", "a.tsv", "text\tlabel\na, b\t1\n\"tab\there\"\t2\n", shard.ReadConfig{},
			[]shard.Record{{Text: "a, b", Label: "1", Line: 2}, {Text: "tab\there", Label: "2", Line: 3}}},
		{"tsv lazy quotes", "a.tsv", "text\tlabel\nhe said \"hi\"\t1\n", shard.ReadConfig{LazyQuotes: true},
			[]shard.Record{{Text: "he said \"hi\"", Label: "1", Line: 2}}},
		{"jsonl", "a.jsonl", "{\"text\":\"hi\\nthere\",\"label\":2}\n\n{\"label\":\"neg\",\"text\":\"é\",\"x\":[1]}\r\n", shard.ReadConfig{},
			[]shard.Record{{Text: "hi\nthere", Label: "2", Line: 1}, {Text: "é", Label: "neg", Line: 3}}},
		{"jsonl by flag, no labels", "data.txt", "{\"text\":\"a\"}", shard.ReadConfig{Format: shard.FormatJSONL, NoLabel: true},
			[]shard.Record{{Text: "a", Line: 1}}},
		{"skip empty", "a.csv", "text,label\n  ,1\nok,2\n", shard.ReadConfig{EmptyText: shard.PolicySkip},
			[]shard.Record{{Text: "ok", Label: "2", Line: 3}}},
		{"replace utf8", "a.csv", "text,label\nbad\xff,1\n", shard.ReadConfig{InvalidUTF8: shard.PolicyReplace},
			[]shard.Record{{Text: "bad\ufffd", Label: "1", Line: 2}}},
		{"labels: non-ASCII, inner space, control characters only around", "a.tsv", "text\tlabel\na\t\"\tnégatif \"\r\nb\tnot spam\n", shard.ReadConfig{},
			[]shard.Record{{Text: "a", Label: "négatif", Line: 2}, {Text: "b", Label: "not spam", Line: 3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, r := range []func(string) *strings.Reader{strings.NewReader} {
				got, _, err := shard.ReadAll(iotest.OneByteReader(r(c.data)), c.file, c.cfg)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestScan_Stats(t *testing.T) {
	_, st, err := shard.ReadAll(strings.NewReader("text,label\n,1\nok\xfe,2\n\" \",3\nfine,4\n"), "a.csv",
		shard.ReadConfig{EmptyText: shard.PolicySkip, InvalidUTF8: shard.PolicyReplace})
	if err != nil {
		t.Fatal(err)
	}
	if want := (shard.ReadStats{Rows: 2, SkippedEmpty: 2, ReplacedUTF8: 1}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestScan_Bad(t *testing.T) {
	for _, c := range []struct {
		name, file, data string
		cfg              shard.ReadConfig
		sentinel         error
		msg              string // the error must contain it
	}{
		{"empty file", "e.csv", "", shard.ReadConfig{}, shard.ErrEmpty, "e.csv"},
		{"header only", "e.csv", "text,label\n", shard.ReadConfig{}, shard.ErrEmpty, "e.csv"},
		{"bom only", "e.csv", "\ufeff", shard.ReadConfig{}, shard.ErrEmpty, "e.csv"},
		{"missing column", "m.csv", "txt,label\na,1\n", shard.ReadConfig{}, shard.ErrMissingColumn, `m.csv:1: column "text"`},
		{"missing field", "m.csv", "text,label\na,1\nb\n", shard.ReadConfig{}, nil, "m.csv:3:"},
		{"extra field", "m.csv", "text,label\na,1,2\n", shard.ReadConfig{}, nil, "m.csv:2:"},
		{"bare quote", "q.csv", "text,label\nsay \"hi\",1\n", shard.ReadConfig{}, nil, "q.csv:2:5"},
		{"unterminated quote", "q.csv", "text,label\n\"open,1\nmore\n", shard.ReadConfig{}, nil, "q.csv:"},
		{"empty text", "t.csv", "text,label\na,1\n\"\",2\n", shard.ReadConfig{}, shard.ErrEmptyText, "t.csv:3"},
		{"empty label", "t.csv", "text,label\na,\n", shard.ReadConfig{}, shard.ErrBadLabel, "t.csv:2"},
		{"invalid utf8", "u.csv", "text,label\na,1\nb\xc3\x28,1\n", shard.ReadConfig{}, shard.ErrInvalidUTF8, `u.csv:3: column "text"`},
		{"duplicate column", "d.csv", "text,text,label\na,b,1\n", shard.ReadConfig{}, nil, "twice"},
		{"jsonl not json", "j.jsonl", "{\"text\":\"a\",\"label\":1}\n{oops}\n", shard.ReadConfig{}, nil, "j.jsonl:2"},
		{"jsonl array", "j.jsonl", "[1,2]\n", shard.ReadConfig{}, nil, "j.jsonl:1: want a JSON object"},
		{"jsonl missing text", "j.jsonl", "{\"label\":1}\n", shard.ReadConfig{}, shard.ErrMissingColumn, `j.jsonl:1: column "text"`},
		{"jsonl text not string", "j.jsonl", "{\"text\":3,\"label\":1}\n", shard.ReadConfig{}, nil, "want a string"},
		{"jsonl float label", "j.jsonl", "{\"text\":\"a\",\"label\":1.5}\n", shard.ReadConfig{}, shard.ErrBadLabel, "j.jsonl:1"},
		{"jsonl invalid utf8", "j.jsonl", "{\"text\":\"\xff\",\"label\":1}\n", shard.ReadConfig{}, shard.ErrInvalidUTF8, "j.jsonl:1"},
		{"nul in label", "c.csv", "text,label\na,1\nb,sp\x00am\n", shard.ReadConfig{}, shard.ErrBadLabel, `c.csv:3: column "label": label "sp\x00am" holds control character U+0000`},
		{"line break in quoted label", "c.csv", "text,label\na,\"sp\nam\"\n", shard.ReadConfig{}, shard.ErrBadLabel, "c.csv:2: column \"label\""},
		{"open quote swallows rows into a label", "c.csv", "text,label\na,1\nb,\"oops\nc,3\nd,4\n", shard.ReadConfig{LazyQuotes: true}, shard.ErrBadLabel, "c.csv:3:"},
		{"tsv control character in label", "c.tsv", "text\tlabel\na\tsp\x1bam\n", shard.ReadConfig{}, shard.ErrBadLabel, "c.tsv:2: column \"label\""},
		{"jsonl nul in label", "c.jsonl", "{\"text\":\"a\",\"label\":\"sp\\u0000am\"}\n", shard.ReadConfig{}, shard.ErrBadLabel, "c.jsonl:1: column \"label\""},
		{"bad policy", "p.csv", "text,label\na,1\n", shard.ReadConfig{EmptyText: shard.PolicyReplace}, nil, "empty-text policy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := shard.ReadAll(strings.NewReader(c.data), c.file, c.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if c.sentinel != nil && !errors.Is(err, c.sentinel) {
				t.Errorf("error %q does not wrap %v", err, c.sentinel)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
		})
	}
}

// TestScan_OpenQuoteNamesItsLine checks that a quote left open is
// reported at the line where its record starts, not at the end of the
// file where encoding/csv finds it.
func TestScan_OpenQuoteNamesItsLine(t *testing.T) {
	for _, c := range []struct{ name, file, data, want string }{
		{"first row", "q.csv", "text,label\n\"open,1\nmore\n", "read q.csv:2: "},
		{"after a good multi-line row", "q.csv", "text,label\na,1\n\"x\ny\",2\nb,\"oops\nc,3\nd,4\n", "read q.csv:5: "},
		{"tsv", "q.tsv", "text\tlabel\na\t1\n\"open\t2\nb\t3\nc\t4\n", "read q.tsv:3: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := shard.ReadAll(strings.NewReader(c.data), c.file, shard.ReadConfig{})
			if !errors.Is(err, csv.ErrQuote) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %q: want csv.ErrQuote, starting %q", err, c.want)
			}
		})
	}
}

// TestScan_ErrorsClipInput checks that errors quote at most a short piece
// of the input, with its length, however long the input is.
func TestScan_ErrorsClipInput(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	for _, c := range []struct{ name, file, data string }{
		{"csv header on one line", "h.csv", huge + ",label\n"},
		{"tsv header on one line", "h.tsv", "a\t" + huge + "\n"},
		{"jsonl text not a string", "h.jsonl", `{"text":["` + huge + `"],"label":1}`},
		{"jsonl label not a string", "h.jsonl", `{"text":"a","label":{"` + huge + `":1}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := shard.ReadAll(strings.NewReader(c.data), c.file, shard.ReadConfig{})
			checkClipped(t, err, c.file)
		})
	}
	t.Run("unknown label", func(t *testing.T) {
		scan := func(fn func(shard.Record) error) (shard.ReadStats, error) {
			return shard.ReadStats{Rows: 1}, fn(shard.Record{Text: "a", Label: huge, Line: 2})
		}
		ds, err := shard.Tokenize(t.Context(), "v.csv", scan, shard.TokenizeConfig{Tokenizer: wordTokenizer{}, MaxLen: 8})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := shard.NewLabelMap([]string{"ham", strings.Repeat("y", 1000)})
		err = ds.ApplyLabels(m)
		if !errors.Is(err, shard.ErrUnknownLabel) {
			t.Fatalf("ApplyLabels: %v, want ErrUnknownLabel", err)
		}
		checkClipped(t, err, "v.csv:2")
	})
}

// checkClipped checks that err names where and is short, but says that
// it left something out.
func checkClipped(t *testing.T, err error, where string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if len(msg) > 400 || !strings.Contains(msg, where) || !strings.Contains(msg, "bytes)") {
		t.Fatalf("error of %d bytes, want under 400 naming %s and the clipped length: %.500s", len(msg), where, msg)
	}
}

func TestFormat_SetAndOf(t *testing.T) {
	var f shard.Format
	if err := f.Set("TSV"); err != nil || f != shard.FormatTSV {
		t.Fatalf("Set(TSV) = %v, %v", f, err)
	}
	if err := f.Set("parquet"); err == nil {
		t.Fatal("Set(parquet) succeeded")
	}
	for name, want := range map[string]shard.Format{"a.CSV": shard.FormatCSV, "b.tsv": shard.FormatTSV, "c.ndjson": shard.FormatJSONL, "d": shard.FormatCSV} {
		if got := shard.FormatOf(name); got != want {
			t.Errorf("FormatOf(%q) = %v, want %v", name, got, want)
		}
	}
	var p shard.Policy
	if err := p.Set("skip"); err != nil || p != shard.PolicySkip || p.String() != "skip" {
		t.Fatalf("Policy.Set(skip) = %v, %v", p, err)
	}
}
