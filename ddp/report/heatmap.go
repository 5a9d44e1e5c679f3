package report

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/ddprun/ddprun/ddp/metrics"
)

// heatmap renders the confusion matrix: rows are true classes, columns
// predictions; a cell's colour is its share of the row, its text the count
// and that share.
func heatmap(s *metrics.Summary) string {
	k := len(s.Confusion)
	cell := math.Max(22, math.Min(72, 560/float64(k)))
	labels := make([]string, k)
	labelW := 40.0
	for i, l := range s.Labels {
		labels[i] = ellipsis(l, 18)
		labelW = math.Max(labelW, textWidth(labels[i], 12)+14)
	}
	longest := 0.0
	for _, l := range labels {
		longest = math.Max(longest, textWidth(l, 12))
	}
	rotate := longest > cell-6
	topH, right := 46.0, 12.0
	if rotate { // labels at -45°, rising to the right of their column
		rise := longest * math.Sqrt2 / 2
		topH, right = 34+rise, math.Max(right, rise-cell/2+8)
	}
	x0, y0 := labelW+22, topH
	w, h := x0+cell*float64(k)+right, y0+cell*float64(k)+12
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" font-family="inherit">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="%.1f" y="14" text-anchor="middle" font-size="12" fill="%s" font-weight="600">predicted</text>`, x0+cell*float64(k)/2, colorTx)
	fmt.Fprintf(&b, `<text transform="translate(12 %.1f) rotate(-90)" text-anchor="middle" font-size="12" fill="%s" font-weight="600">true</text>`, y0+cell*float64(k)/2, colorTx)
	for j, l := range labels {
		cx := x0 + cell*(float64(j)+0.5)
		if rotate {
			fmt.Fprintf(&b, `<text transform="translate(%.1f %.1f) rotate(-45)" font-size="12" fill="%s">%s</text>`, cx, y0-6, colorTx, html.EscapeString(l))
		} else {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="12" fill="%s">%s</text>`, cx, y0-8, colorTx, html.EscapeString(l))
		}
	}
	for i, row := range s.Confusion {
		var total int64
		for _, v := range row {
			total += v
		}
		cy := y0 + cell*float64(i)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle" font-size="12" fill="%s">%s</text>`, x0-8, cy+cell/2, colorTx, html.EscapeString(labels[i]))
		for j, v := range row {
			f := 0.0
			if total > 0 {
				f = float64(v) / float64(total)
			}
			heatCell(&b, x0+cell*float64(j), cy, cell, v, f, i == j)
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func heatCell(b *strings.Builder, x, y, size float64, v int64, f float64, diag bool) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="#fff" stroke-width="1.5"><title>%d (%.1f%% of the row)</title></rect>`,
		x, y, size, size, blend(f), v, 100*f)
	if size < 30 {
		return
	}
	fg := "#111827"
	if f > 0.55 {
		fg = "#fff"
	}
	weight := "400"
	if diag {
		weight = "600"
	}
	if size < 44 { // the count alone, centred
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="central" font-size="12" font-weight="%s" fill="%s">%d</text>`, x+size/2, y+size/2, weight, fg, v)
		return
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="13" font-weight="%s" fill="%s">%d</text>`, x+size/2, y+size/2, weight, fg, v)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s" fill-opacity="0.8">%.0f%%</text>`, x+size/2, y+size/2+14, fg, 100*f)
}

// blend interpolates from a near-white to a deep blue.
func blend(f float64) string {
	from, to := [3]float64{247, 249, 252}, [3]float64{30, 64, 175}
	f = math.Sqrt(math.Max(0, math.Min(1, f))) // lift small shares into view
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(from[i] + (to[i]-from[i])*f))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
