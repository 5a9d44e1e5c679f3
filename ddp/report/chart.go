package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// line is one series of a chart.
type line struct {
	name    string
	pts     []pt
	color   string
	width   float64
	opacity float64
	markers bool // a dot per point, for sparse series such as evaluations
}

// chart is a line chart with axes, grid, ticks and a legend.
type chart struct {
	yLabel     string
	xMax       float64 // the x axis spans [0, xMax]: the same steps on every chart
	lines      []line
	yFloorZero bool // start the y axis at 0 when all values are positive
}

const (
	chartW, chartH                = 560, 300
	padL, padR, padT, padB        = 62, 18, 34, 46
	plotW, plotH                  = chartW - padL - padR, chartH - padT - padB
	fontAxis                      = 11
	colorGrid, colorAxis, colorTx = "#e5e7eb", "#9ca3af", "#4b5563"
)

// svg renders c, or a placeholder when no series has a finite point.
func (c chart) svg() string {
	lo, hi, ok := c.yRange()
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" font-family="inherit">`, chartW, chartH, chartW, chartH)
	if !ok {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="13">no data logged</text></svg>`, chartW/2, chartH/2, colorAxis)
		return b.String()
	}
	yt, ylo, yhi := niceTicks(lo, hi, 6)
	xt, _, xhi := niceTicks(0, math.Max(c.xMax, 1), 6)
	sx := func(x float64) float64 { return padL + x/xhi*plotW }
	sy := func(y float64) float64 { return padT + (1-(y-ylo)/(yhi-ylo))*plotH }
	c.grid(&b, xt, yt, sx, sy)
	for _, l := range c.lines {
		c.path(&b, l, sx, sy)
	}
	c.legend(&b)
	b.WriteString(`</svg>`)
	return b.String()
}

// yRange returns the range of the finite y values.
func (c chart) yRange() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, l := range c.lines {
		for _, p := range l.pts {
			if finite(p.y) {
				lo, hi = math.Min(lo, p.y), math.Max(hi, p.y)
			}
		}
	}
	if lo > hi {
		return 0, 0, false
	}
	if c.yFloorZero && lo > 0 {
		lo = 0
	}
	return lo, hi, true
}

func (c chart) grid(b *strings.Builder, xt, yt []float64, sx, sy func(float64) float64) {
	ystep, xstep := yt[1]-yt[0], xt[1]-xt[0]
	for _, y := range yt {
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s"/>`, padL, padL+plotW, sy(y), sy(y), colorGrid)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" font-size="%d" fill="%s">%s</text>`,
			padL-6, sy(y), fontAxis, colorTx, html.EscapeString(tickLabel(y, ystep)))
	}
	for _, x := range xt {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="%s"/>`, sx(x), sx(x), padT, padT+plotH, colorGrid)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="%d" fill="%s">%s</text>`,
			sx(x), padT+plotH+16, fontAxis, colorTx, html.EscapeString(tickLabel(x, xstep)))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s"/>`, padL, padT, plotW, plotH, colorAxis)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-size="12" fill="%s">step</text>`, padL+plotW/2, chartH-8, colorTx)
	fmt.Fprintf(b, `<text transform="translate(14 %d) rotate(-90)" text-anchor="middle" font-size="12" fill="%s">%s</text>`,
		padT+plotH/2, colorTx, html.EscapeString(c.yLabel))
}

// path draws one series, breaking the line at non-finite values.
func (c chart) path(b *strings.Builder, l line, sx, sy func(float64) float64) {
	var d strings.Builder
	run := 0 // points in the current subpath
	dot := func() {
		if run == 1 { // a lone point: a zero-length segment, drawn as a dot by the round cap
			d.WriteString("h0")
		}
	}
	for _, p := range decimate(l.pts, plotW) {
		if !finite(p.y) {
			dot()
			run = 0
			continue
		}
		cmd := 'L'
		if run == 0 {
			cmd = 'M'
		}
		fmt.Fprintf(&d, "%c%.1f %.1f", cmd, sx(p.x), sy(p.y))
		run++
	}
	dot()
	op := l.opacity
	if op == 0 {
		op = 1
	}
	if d.Len() > 0 {
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-opacity="%.2f" stroke-linejoin="round" stroke-linecap="round"/>`,
			d.String(), l.color, l.width, op)
	}
	if l.markers && len(l.pts) <= 200 {
		for _, p := range l.pts {
			if finite(p.y) {
				fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#fff" stroke="%s" stroke-width="1.8"/>`, sx(p.x), sy(p.y), l.color)
			}
		}
	}
}

// legend lays the series' names out in a row above the plot, right-aligned.
func (c chart) legend(b *strings.Builder) {
	x := float64(padL + plotW)
	for i := len(c.lines) - 1; i >= 0; i-- {
		l := c.lines[i]
		if len(l.pts) == 0 {
			continue
		}
		w := textWidth(l.name, fontAxis) + 28
		x -= w
		op := math.Max(l.opacity, 0.75)
		if l.opacity == 0 {
			op = 1
		}
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="16" y2="16" stroke="%s" stroke-width="3" stroke-opacity="%.2f" stroke-linecap="round"/>`, x, x+16, l.color, op)
		fmt.Fprintf(b, `<text x="%.1f" y="16" dominant-baseline="middle" font-size="%d" fill="%s">%s</text>`, x+21, fontAxis, colorTx, html.EscapeString(l.name))
		x -= 6
	}
}

// textWidth estimates the width of s in a sans-serif font of size px.
func textWidth(s string, px float64) float64 {
	return float64(len([]rune(s))) * px * 0.55
}
