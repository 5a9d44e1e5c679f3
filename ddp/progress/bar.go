package progress

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Step is the state after one training step.
type Step struct {
	Done    int64   // steps done, counting steps done before a resume
	Epoch   float64 // fractional epoch
	Loss    float64 // this step's training loss; NaN when not known
	LR      float64 // learning rate; 0 hides it
	Samples int64   // examples this step consumed, across all ranks
}

// Bar is a progress bar. See the package doc.
type Bar struct {
	mu  sync.Mutex
	w   io.Writer
	cfg Config

	start, lastDraw, lastLine, lastRate time.Time
	startDone                           int64 // Done before the first update (a resumed run starts midway)
	started, fresh, finished            bool

	done, samples      int64
	rateDone, rateSamp int64 // counters at lastRate
	baseDone, baseSamp int64 // counters at baseT, the first update
	baseT              time.Time
	stepRate, sampRate float64
	epoch, lr          float64
	loss               ema
	training, hasLoss  bool
	lastLen            int // runes of the line on screen (Terminal)
	lastLogged         int64
}

// ema is an exponential moving average with TensorBoard's debiasing.
type ema struct {
	v, weight float64
	n         int
}

func (e *ema) add(x, beta float64) {
	e.v = beta*e.v + (1-beta)*x
	e.n++
	e.weight = 1 - math.Pow(beta, float64(e.n))
}

func (e *ema) value() float64 { return e.v / e.weight }

// New returns a Bar that writes to w.
func New(w io.Writer, cfg Config) *Bar {
	cfg = cfg.withDefaults(w)
	now := cfg.Now()
	return &Bar{w: w, cfg: cfg, start: now, lastLine: now, lastRate: now}
}

// Add records n more units of work done.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.first(b.done)
	b.done += n
	b.update()
}

// Set records that done units of work are done in all.
func (b *Bar) Set(done int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.first(done)
	b.done = done
	b.update()
}

// Step records a training step.
func (b *Bar) Step(s Step) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.first(s.Done - 1)
	b.training = true
	b.done, b.epoch, b.lr = s.Done, s.Epoch, s.LR
	b.samples += s.Samples
	if !math.IsNaN(s.Loss) {
		b.loss.add(s.Loss, b.cfg.Smoothing)
		b.hasLoss = true
	}
	b.update()
}

// first notes where counting starts, so that rates and ETA after a resume
// cover only this process's work.
func (b *Bar) first(before int64) {
	if !b.started {
		b.started, b.fresh = true, true
		b.startDone, b.lastLogged = before, before
	}
}

// update redraws or logs if it is time; b.mu is held.
func (b *Bar) update() {
	if b.finished {
		return
	}
	now := b.cfg.Now()
	if b.fresh {
		// Rates start after the first update: it may come after minutes of
		// set-up, and its own work took an unknown time.
		b.fresh = false
		b.rateDone, b.rateSamp, b.lastRate = b.done, b.samples, now
		b.baseDone, b.baseSamp, b.baseT = b.done, b.samples, now
		if b.cfg.Mode == Terminal {
			b.draw(now)
		}
		return
	}
	if b.cfg.Mode == Terminal {
		if now.Sub(b.lastDraw) >= b.cfg.Redraw || b.done == b.cfg.Total {
			b.measure(now)
			b.draw(now)
		}
		return
	}
	every := b.cfg.LogEvery > 0 && b.done/b.cfg.LogEvery > b.lastLogged/b.cfg.LogEvery
	if every || now.Sub(b.lastLine) >= b.cfg.LogInterval {
		b.measure(now)
		b.line(now)
	}
}

// measure folds the work since the last measurement into the rates.
func (b *Bar) measure(now time.Time) {
	dt := now.Sub(b.lastRate).Seconds()
	if dt <= 0 {
		return
	}
	steps := float64(b.done-b.rateDone) / dt
	samples := float64(b.samples-b.rateSamp) / dt
	if b.stepRate == 0 && b.sampRate == 0 {
		b.stepRate, b.sampRate = steps, samples
	} else {
		const a = 0.3 // tqdm's smoothing: weight of the newest measurement
		b.stepRate = a*steps + (1-a)*b.stepRate
		b.sampRate = a*samples + (1-a)*b.sampRate
	}
	b.rateDone, b.rateSamp, b.lastRate = b.done, b.samples, now
}

// average sets the rates to their averages since the first update, for
// the final line.
func (b *Bar) average(now time.Time) {
	if dt := now.Sub(b.baseT).Seconds(); b.started && dt > 0 {
		b.stepRate = float64(b.done-b.baseDone) / dt
		b.sampRate = float64(b.samples-b.baseSamp) / dt
	}
}

// draw redraws the terminal line.
func (b *Bar) draw(now time.Time) {
	s := b.render(now, b.cfg.Width-1)
	n := utf8.RuneCountInString(s)
	pad := max(0, b.lastLen-n)
	fmt.Fprintf(b.w, "\r%s%s", s, strings.Repeat(" ", pad))
	b.lastLen, b.lastDraw = n, now
}

// line writes one plain log line.
func (b *Bar) line(now time.Time) {
	fmt.Fprintln(b.w, b.plain(now))
	b.lastLine, b.lastLogged = now, b.done
}

// Println writes msg on a line of its own, above the bar on a terminal.
func (b *Bar) Println(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Mode == Terminal && b.lastLen > 0 && !b.finished {
		fmt.Fprintf(b.w, "\r%s\r%s\n", strings.Repeat(" ", b.lastLen), msg)
		b.lastLen = 0
		b.draw(b.cfg.Now())
		return
	}
	fmt.Fprintln(b.w, msg)
}

// Finish draws the final state and ends the line. Later calls do nothing.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	now := b.cfg.Now()
	b.average(now)
	if b.cfg.Mode == Terminal {
		b.draw(now)
		fmt.Fprintln(b.w)
	} else if b.done != b.lastLogged || b.lastLogged == b.startDone {
		b.line(now)
	}
	b.finished = true
}
