package runlog

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2025, 1, 2, 15, 4, 5, 123e6, time.UTC)

func sample() []Entry {
	return []Entry{
		{Time: t0, Kind: Train, Step: 10, Epoch: 0.25, Fields: map[string]any{FieldLoss: 0.5, FieldLR: 4.9e-5}},
		{Time: t0.Add(time.Second), Kind: Eval, Step: 20, Epoch: 0.5, Fields: map[string]any{FieldLoss: 0.25, FieldAccuracy: 0.875}},
		{Time: t0.Add(2 * time.Second), Kind: Event, Step: 20, Epoch: 0.5, Fields: map[string]any{FieldMsg: "checkpoint", "path": "out/checkpoint-20"}},
		{Time: t0.Add(3 * time.Second), Kind: Train, Step: 30, Epoch: 0.75, Fields: map[string]any{FieldLoss: math.NaN(), FieldGradNorm: math.Inf(1)}},
	}
}

func writeAll(t *testing.T, path string, es []Entry) {
	t.Helper()
	w, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// opts compares entries by their numeric fields, with NaN equal to NaN.
var opts = cmp.Options{cmpopts.EquateNaNs(), cmp.Transformer("fields", func(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if f, ok := (Entry{Fields: m}).Float(k); ok {
			out[k] = f
		} else {
			out[k] = v
		}
	}
	return out
})}

func TestWriter_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	writeAll(t, path, sample())
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sample(), got, opts); d != "" {
		t.Errorf("Read (-want +got):\n%s", d)
	}
	b, _ := os.ReadFile(path)
	first := strings.SplitN(string(b), "\n", 2)[0]
	if want := `{"time":"2025-01-02T15:04:05.123Z","kind":"train","step":10,"epoch":0.25,"loss":0.5,"lr":0.000049}`; first != want {
		t.Errorf("first line\n got %s\nwant %s", first, want)
	}
	if !strings.Contains(string(b), `"grad_norm":"+Inf","loss":"NaN"`) {
		t.Errorf("non-finite values not written as strings:\n%s", b)
	}
}

func TestRead_TornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	writeAll(t, path, sample())
	b, _ := os.ReadFile(path)
	torn := append(b, `{"time":"2025-01-02T15:04:09Z","kind":"tra`...)
	if err := os.WriteFile(path, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatalf("torn last line: %v", err)
	}
	if len(got) != len(sample()) {
		t.Errorf("read %d entries, want %d", len(got), len(sample()))
	}

	// Open cuts the torn line off, so appending keeps the file valid.
	more := Entry{Time: t0.Add(time.Hour), Kind: Test, Step: 40, Fields: map[string]any{FieldAccuracy: 0.9}}
	writeAll(t, path, []Entry{more})
	got, err = Read(path)
	if err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if d := cmp.Diff(append(sample(), more), got, opts); d != "" {
		t.Errorf("after resume (-want +got):\n%s", d)
	}
}

func TestRead_Malformed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	writeAll(t, path, sample())
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	lines[2] = "{not json\n"
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644)
	got, err := Read(path)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), path+":3:") {
		t.Errorf("error %v, want ErrMalformed at %s:3", err, path)
	}
	if len(got) != 2 {
		t.Errorf("returned %d entries before the bad line, want 2", len(got))
	}
	// A complete last line (with its newline) that is bad is not torn.
	os.WriteFile(path, []byte(lines[0]+"{\"kind\":\n"), 0o644)
	if _, err := Read(path); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad complete last line: %v, want ErrMalformed", err)
	}
}

func TestOpen_Empty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	os.WriteFile(path, []byte(`{"kind":"tr`), 0o644) // only a torn line
	writeAll(t, path, sample()[:1])
	got, err := Read(path)
	if err != nil || len(got) != 1 {
		t.Errorf("Read = %d entries, %v; want 1", len(got), err)
	}
}

func TestWriter_Errors(t *testing.T) {
	w, err := Open(filepath.Join(t.TempDir(), "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log(Train, 1, 0, map[string]any{"step": 3}); err == nil {
		t.Error("reserved field accepted")
	}
	if err := w.Log(Train, 1, 0, map[string]any{"ch": make(chan int)}); err == nil {
		t.Error("unencodable field accepted")
	}
	w.Close()
	if err := w.Log(Train, 1, 0, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Log after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
