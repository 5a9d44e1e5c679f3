package progress

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) tick(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock                { return &fakeClock{t: time.Unix(1700000000, 0)} }
func lines(b *bytes.Buffer) []string      { return strings.Split(strings.TrimRight(b.String(), "\n"), "\n") }
func frames(b *bytes.Buffer) []string     { return strings.Split(b.String(), "\r")[1:] }
func has(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q lacks %q", s, sub)
		}
	}
}

func TestBar_PlainEvery(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "train", Total: 100, Epochs: 2, Mode: Plain, LogEvery: 10, Now: c.now})
	for step := int64(1); step <= 20; step++ {
		c.tick(500 * time.Millisecond)
		b.Step(Step{Done: step, Epoch: float64(step) / 50, Loss: 0.5, LR: 3e-5, Samples: 32})
	}
	got := lines(&out)
	if len(got) != 2 {
		t.Fatalf("%d lines, want 2 (steps 10 and 20):\n%s", len(got), out.String())
	}
	// Step 1 at 0.5s is the baseline; 9 steps of 32 in 4.5s = 2 steps/s,
	// 64 samples/s; 90 steps left = 45s.
	if want := "train step 10/100 (10.0%) epoch 0.20/2 ema loss 0.5000 lr 3.00e-05 64.0 samples/s elapsed 00:05 eta 00:45"; got[0] != want {
		t.Errorf("line 1\n got %s\nwant %s", got[0], want)
	}
	has(t, got[1], "step 20/100 (20.0%)", "64.0 samples/s", "elapsed 00:10", "eta 00:40")
	b.Finish()
	b.Finish()
	if n := len(lines(&out)); n != 2 {
		t.Errorf("Finish after a logged step wrote again: %d lines", n)
	}
}

func TestBar_PlainInterval(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "tokenize", Total: 1000, Unit: "docs", Mode: Plain, LogInterval: 10 * time.Second, Now: c.now})
	for range 100 {
		c.tick(time.Second)
		b.Add(5)
	}
	b.Finish()
	got := lines(&out)
	if len(got) != 10 { // every 10s of 100s; Finish adds nothing new
		t.Fatalf("%d lines, want 10:\n%s", len(got), out.String())
	}
	has(t, got[0], "tokenize 50/1000 docs (5.0%) 5.00 docs/s elapsed 00:10 eta 03:10")
	has(t, got[9], "tokenize 500/1000 docs (50.0%)", "elapsed 01:40")
}

func TestBar_TerminalRateLimited(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "train", Total: 300, Mode: Terminal, Width: 80, Now: c.now})
	for step := int64(1); step <= 300; step++ {
		c.tick(10 * time.Millisecond) // 100 steps/s for 3s
		b.Step(Step{Done: step, Loss: 1, Samples: 8})
	}
	b.Finish()
	fr := frames(&out)
	// First update, one per 100ms for 3s, the last step, Finish.
	if len(fr) < 25 || len(fr) > 35 {
		t.Errorf("%d redraws in 3s, want about 30", len(fr))
	}
	for i, f := range fr {
		if n := utf8.RuneCountInString(strings.TrimRight(f, "\n")); n > 79 {
			t.Errorf("frame %d is %d wide, more than 79: %q", i, n, f)
		}
	}
	last := fr[len(fr)-1]
	has(t, last, "train 100%|████", "300/300", "[00:03<00:00]", "loss 1.0000", "800 samples/s")
	if !strings.HasSuffix(out.String(), "\n") {
		t.Error("Finish did not end the line")
	}
}

func TestBar_TerminalWidths(t *testing.T) {
	for _, width := range []int{30, 50, 80, 100, 110, 200} {
		var out bytes.Buffer
		c := newClock()
		b := New(&out, Config{Desc: "train", Total: 1000, Epochs: 3, Mode: Terminal, Width: width, Now: c.now})
		b.Step(Step{Done: 1, Epoch: 0.01, Loss: 0.7, LR: 5e-5, Samples: 64})
		c.tick(time.Second)
		b.Step(Step{Done: 421, Epoch: 1.26, Loss: 0.7, LR: 5e-5, Samples: 64})
		f := frames(&out)[1]
		if n := utf8.RuneCountInString(f); n > width-1 {
			t.Errorf("width %d: line is %d runes: %q", width, n, f)
		}
		has(t, f, "train  42%")
		if width >= 100 {
			has(t, f, "421/1000", "epoch 1.26/3", "ema loss 0.7000")
		}
		if width >= 110 {
			has(t, f, "lr 5.00e-05")
		}
		t.Logf("width %3d: %s", width, f)
	}
}

func TestBar_Resume(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "train", Total: 1000, Mode: Plain, LogEvery: 100, LogInterval: time.Hour, Now: c.now})
	for step := int64(501); step <= 600; step++ { // resumed at step 500
		c.tick(time.Second)
		b.Step(Step{Done: step, Loss: math.NaN()})
	}
	got := lines(&out)
	if len(got) != 1 {
		t.Fatalf("%d lines, want 1:\n%s", len(got), out.String())
	}
	// One step/s since the resume, not 600 steps in 100s.
	has(t, got[0], "step 600/1000", "1.00 steps/s", "eta 06:40")
	if strings.Contains(got[0], "loss") {
		t.Errorf("NaN loss shown: %s", got[0])
	}
}

func TestBar_Println(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "eval", Total: 10, Mode: Terminal, Width: 60, Now: c.now})
	b.Add(3)
	b.Println("checkpoint saved")
	has(t, out.String(), "\rcheckpoint saved\n\reval  30%")
}

func TestBar_UnknownTotal(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "read", Unit: "lines", Mode: Terminal, Width: 80, Now: c.now})
	b.Add(10)
	c.tick(time.Second)
	b.Add(90)
	b.Finish()
	fr := frames(&out)
	has(t, fr[len(fr)-1], "read 100 lines [00:01<?]", "90.0 lines/s")
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a bytes.Buffer is a terminal")
	}
	var out bytes.Buffer
	if b := New(&out, Config{}); b.cfg.Mode != Plain {
		t.Errorf("Auto on a buffer chose mode %d, want Plain", b.cfg.Mode)
	}
}

// A run capped at a fraction of an epoch shows that fraction as the
// total ("1.01"), not the rounded-up epoch count.
func TestBar_FractionalEpochs(t *testing.T) {
	var out bytes.Buffer
	c := newClock()
	b := New(&out, Config{Desc: "train", Total: 101, Epochs: 1.01, Mode: Plain, LogEvery: 7, Now: c.now})
	for step := int64(1); step <= 7; step++ {
		c.tick(time.Second)
		b.Step(Step{Done: step, Epoch: float64(step) / 100, Loss: 0.5, LR: 1e-5, Samples: 16})
	}
	has(t, out.String(), "epoch 0.07/1.01")
}
