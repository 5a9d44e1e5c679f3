package progress

import (
	"io"
	"os"
	"strconv"
	"time"
)

// Mode chooses between redrawing in place and plain lines.
type Mode int

const (
	Auto     Mode = iota // Terminal if the writer is a terminal, else Plain
	Terminal             // redraw one line in place with \r
	Plain                // write a line now and then
)

// Config sets up a Bar. The zero value of each field picks the default in
// its comment.
type Config struct {
	Desc   string  // what is being done: "train", "tokenize"
	Total  int64   // units of work; 0 when unknown (no percentage, no ETA)
	Unit   string  // "steps" after Bar.Step, else "it"
	Epochs float64 // total epochs (fractions allowed) shown after Step.Epoch; 0 hides the total
	Mode   Mode    // Auto
	Width  int     // terminal columns: $COLUMNS, else 100

	LogEvery    int64         // Plain: a line whenever Done reaches a multiple; 0: by time only
	LogInterval time.Duration // Plain: a line at least this often while work goes on: 30s
	Redraw      time.Duration // Terminal: at most one redraw per Redraw: 100ms
	Smoothing   float64       // weight of the past in the loss's moving average: 0.9

	Now func() time.Time // the clock: time.Now
}

func (c Config) withDefaults(w io.Writer) Config {
	if c.Mode == Auto {
		c.Mode = Plain
		if IsTerminal(w) {
			c.Mode = Terminal
		}
	}
	if c.Width <= 0 {
		c.Width = columns()
	}
	if c.LogInterval <= 0 {
		c.LogInterval = 30 * time.Second
	}
	if c.Redraw <= 0 {
		c.Redraw = 100 * time.Millisecond
	}
	if c.Smoothing <= 0 || c.Smoothing >= 1 {
		c.Smoothing = 0.9
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// IsTerminal reports whether w is an *os.File on a character device, the
// test Go programs use without x/term. (/dev/null is one too; redrawing
// into it is harmless.)
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func columns() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	return 100
}
