package progress

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// render returns the terminal line, at most width runes. Parts are dropped
// from the least useful up when the line does not fit; the bar takes what
// is left, from 10 to 40 columns.
func (b *Bar) render(now time.Time, width int) string {
	left := b.cfg.Desc
	if b.cfg.Total > 0 {
		left = fmt.Sprintf("%s %3.0f%%", left, 100*b.fraction())
	}
	right := b.parts(now, false)
	for {
		tail := strings.Join(right, " ")
		room := width - utf8.RuneCountInString(left) - utf8.RuneCountInString(tail) - 3
		if b.cfg.Total > 0 && room >= 10 {
			return left + "|" + bar(b.fraction(), min(room, 40)) + "| " + tail
		}
		if b.cfg.Total <= 0 && room >= 0 || len(right) <= 1 {
			return clip(left+" "+tail, width)
		}
		right = right[:len(right)-1]
	}
}

// parts returns the fields after the bar, most useful first.
func (b *Bar) parts(now time.Time, plain bool) []string {
	var p []string
	if b.cfg.Total > 0 {
		p = append(p, fmt.Sprintf("%d/%d", b.done, b.cfg.Total))
	} else {
		p = append(p, fmt.Sprintf("%d %s", b.done, b.unit()))
	}
	p = append(p, "["+clock(now.Sub(b.start))+"<"+b.eta()+"]")
	if b.hasLoss {
		p = append(p, fmt.Sprintf("ema loss %.4f", b.loss.value()))
	}
	p = append(p, b.rate())
	if b.training {
		ep := fmt.Sprintf("epoch %.2f", b.epoch)
		if b.cfg.Epochs > 0 {
			ep += "/" + epochs(b.cfg.Epochs)
		}
		p = append(p, ep)
		if b.lr != 0 {
			p = append(p, fmt.Sprintf("lr %.2e", b.lr))
		}
	}
	return p
}

// plain returns a log line for Plain mode.
func (b *Bar) plain(now time.Time) string {
	var s strings.Builder
	s.WriteString(b.cfg.Desc)
	if b.training {
		s.WriteString(" step")
	}
	fmt.Fprintf(&s, " %d", b.done)
	if b.cfg.Total > 0 {
		fmt.Fprintf(&s, "/%d", b.cfg.Total)
	}
	if !b.training {
		fmt.Fprintf(&s, " %s", b.unit())
	}
	if b.cfg.Total > 0 {
		fmt.Fprintf(&s, " (%.1f%%)", 100*b.fraction())
	}
	if b.training {
		fmt.Fprintf(&s, " epoch %.2f", b.epoch)
		if b.cfg.Epochs > 0 {
			fmt.Fprintf(&s, "/%s", epochs(b.cfg.Epochs))
		}
	}
	if b.hasLoss {
		fmt.Fprintf(&s, " ema loss %.4f", b.loss.value())
	}
	if b.training && b.lr != 0 {
		fmt.Fprintf(&s, " lr %.2e", b.lr)
	}
	fmt.Fprintf(&s, " %s elapsed %s eta %s", b.rate(), clock(now.Sub(b.start)), b.eta())
	return s.String()
}

// unit is Config.Unit, "steps" for training and "it" otherwise by default.
func (b *Bar) unit() string {
	switch {
	case b.cfg.Unit != "":
		return b.cfg.Unit
	case b.training:
		return "steps"
	}
	return "it"
}

func (b *Bar) fraction() float64 {
	if b.cfg.Total <= 0 {
		return 0
	}
	return min(1, max(0, float64(b.done)/float64(b.cfg.Total)))
}

// rate formats samples/s for training with sample counts, else units/s.
func (b *Bar) rate() string {
	if b.training && b.samples > 0 {
		return number(b.sampRate) + " samples/s"
	}
	return number(b.stepRate) + " " + b.unit() + "/s"
}

func number(x float64) string {
	switch {
	case x <= 0 || math.IsNaN(x) || math.IsInf(x, 0):
		return "?"
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func (b *Bar) eta() string {
	left := b.cfg.Total - b.done
	switch {
	case b.cfg.Total <= 0:
		return "?"
	case left <= 0:
		return clock(0)
	case b.stepRate <= 0:
		return "?"
	}
	sec := float64(left) / b.stepRate
	if sec > 1e7 {
		return "?"
	}
	return clock(time.Duration(sec * float64(time.Second)))
}

// clock formats d as mm:ss, or h:mm:ss from an hour up, like tqdm.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}

var eighths = []rune(" ▏▎▍▌▋▊▉")

// bar draws a fraction f of width cells with eighth-cell resolution.
func bar(f float64, width int) string {
	cells := int(f * float64(width) * 8)
	full, part := cells/8, cells%8
	var s strings.Builder
	s.WriteString(strings.Repeat("█", full))
	if full < width {
		s.WriteRune(eighths[part])
		s.WriteString(strings.Repeat(" ", width-full-1))
	}
	return s.String()
}

func clip(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width])
}

// epochs formats a total epoch count: "2", or "1.01" for a fraction.
func epochs(e float64) string {
	if e == math.Trunc(e) {
		return fmt.Sprintf("%.0f", e)
	}
	return fmt.Sprintf("%.2f", e)
}
