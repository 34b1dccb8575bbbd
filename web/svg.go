package web

import (
	"fmt"
	"html/template"
	"strings"
)

// Charts are inline SVG written on the server: no script, no external
// library, and they print. The CSP forbids style attributes, so shapes
// carry classes that app.css colours. Every text that reaches the SVG is
// escaped here, because it is inserted as template.HTML: a currency code
// from an invoice is outside input like any other.

// bar is one bar of a chart.
type bar struct {
	Label string // under the bar
	Value int64  // its height, relative to the largest
	Text  string // the value as people read it, shown above the bar
	// Tip is the tooltip; Label and Text when empty.
	Tip string
}

// Chart geometry, in viewBox units; the SVG scales to its container.
const (
	chartWidth  = 640
	chartHeight = 220
	chartTop    = 22 // room for the value above the tallest bar
	chartBottom = 24 // room for the labels
	chartSide   = 8
)

// barChart draws vertical bars scaled to the largest value. A chart whose
// values are all zero still draws its axis and labels.
func barChart(title string, bars []bar) template.HTML {
	esc := template.HTMLEscapeString
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s"><title>%s</title>`,
		chartWidth, chartHeight, esc(title), esc(title))
	plotH := chartHeight - chartTop - chartBottom
	base := chartHeight - chartBottom
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, chartSide, base, chartWidth-chartSide, base)
	if len(bars) == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	var top int64
	for _, br := range bars {
		top = max(top, br.Value)
	}
	slot := float64(chartWidth-2*chartSide) / float64(len(bars))
	width := slot * 0.7
	for i, br := range bars {
		x := float64(chartSide) + slot*float64(i) + (slot-width)/2
		h := 0.0
		if top > 0 && br.Value > 0 {
			// At least one unit high, so a small value is still visible.
			h = max(1, float64(br.Value)/float64(top)*float64(plotH))
		}
		y := float64(base) - h
		tip := br.Tip
		if tip == "" {
			tip = br.Label + ": " + br.Text
		}
		fmt.Fprintf(&b, `<g><title>%s</title><rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`,
			esc(tip), x, y, width, h)
		if br.Value > 0 {
			fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+width/2, y-5, esc(br.Text))
		}
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%d" text-anchor="middle">%s</text></g>`, x+width/2, chartHeight-7, esc(br.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// foundKnown is the overview's headline figure: of the apps in use and the
// apps in the IdP, how many are both, how many only in use (shadow IT),
// and how many only configured in the IdP with no use seen.
type foundKnown struct {
	Both        int // in use and inside the IdP
	OutsideOnly int // in use, outside every IdP
	IdPOnly     int // inside the IdP, no use seen
}

// Found is the number of apps with usage evidence; Known those inside the
// IdP.
func (f foundKnown) Found() int { return f.Both + f.OutsideOnly }
func (f foundKnown) Known() int { return f.Both + f.IdPOnly }

// figure draws the three groups as one horizontal bar, each part as wide
// as its share.
func (f foundKnown) figure() template.HTML {
	const w, h = chartWidth, 40
	total := f.Both + f.OutsideOnly + f.IdPOnly
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart found-known" viewBox="0 0 %d %d" role="img" aria-label="Apps in use and apps in the IdP"><title>Apps in use and apps in the IdP</title>`, w, h)
	if total == 0 {
		fmt.Fprintf(&b, `<rect class="seg-empty" x="0" y="0" width="%d" height="%d"/></svg>`, w, h)
		return template.HTML(b.String())
	}
	x := 0.0
	for _, seg := range []struct {
		class, tip string
		n          int
	}{
		{"seg-outside", "in use, outside the IdP", f.OutsideOnly},
		{"seg-both", "in use and in the IdP", f.Both},
		{"seg-idp", "in the IdP, no use seen", f.IdPOnly},
	} {
		if seg.n == 0 {
			continue
		}
		width := float64(seg.n) / float64(total) * w
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="0" width="%.1f" height="%d"><title>%d %s</title></rect>`,
			seg.class, x, width, h, seg.n, seg.tip)
		x += width
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
