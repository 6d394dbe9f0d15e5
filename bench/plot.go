package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strconv"
	"strings"
)

// The plot: four panels (p50, p90, p99, p99.9) of the non-streaming steps,
// latency on a log scale against the offered rate, one line per target.
// Drawn with the standard library only: a line rasteriser and a 5×7 bitmap
// font are all a chart like this needs.

const (
	plotW, plotH = 1200, 860
	fontScale    = 2
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{20, 20, 20, 255}
	gridColor = color.RGBA{225, 225, 225, 255}
	axisColor = color.RGBA{120, 120, 120, 255}
	// Colours per target, in report order.
	targetColors = map[string]color.RGBA{
		targetDirect:  {90, 90, 90, 255},
		targetEnvoy:   {31, 119, 180, 255},
		targetLLMvoy:  {230, 85, 13, 255},
		targetLiteLLM: {44, 160, 44, 255},
		targetRelay:   {150, 80, 160, 255},
	}
)

// writePlot draws latency.png from the chat steps of r.
func writePlot(path string, r *Results) error {
	img := renderPlot(r)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// series is one target's points in a panel: the value at each rate, NaN
// where it was not measured.
type series struct {
	target string
	values []float64
}

func renderPlot(r *Results) *image.RGBA {
	c := newCanvas(plotW, plotH)
	chat := stepsOf(r.Steps, scenarioChat)
	c.text(30, 16, "LLMVOY BENCHMARK: NON-STREAMING CHAT COMPLETION LATENCY (MS, LOG SCALE) VS OFFERED RATE", black)
	c.text(30, 40, "OPEN LOOP, FROM SCHEDULED SEND TIME. ALL PROCESSES SHARE THE SAME CPUS.", axisColor)

	// Legend.
	x := 30
	for _, t := range r.Targets {
		col := targetColors[t]
		c.fillRect(x, 70, x+28, 76, col)
		c.text(x+36, 66, t, black)
		x += 36 + c.textWidth(t) + 40
	}
	if len(chat) == 0 {
		c.text(30, 120, "NO NON-STREAMING STEPS IN THIS RUN", black)
		return c.img
	}

	rates := r.Settings.Rates
	panels := []struct {
		name string
		pick func(Percentiles) float64
	}{
		{"P50", func(p Percentiles) float64 { return p.P50 }},
		{"P90", func(p Percentiles) float64 { return p.P90 }},
		{"P99", func(p Percentiles) float64 { return p.P99 }},
		{"P99.9", func(p Percentiles) float64 { return p.P999 }},
	}
	const top, gap = 100, 20
	pw, ph := (plotW-3*gap)/2, (plotH-top-2*gap)/2
	for i, p := range panels {
		var ss []series
		for _, t := range r.Targets {
			s := series{target: t, values: make([]float64, len(rates))}
			for j, rate := range rates {
				s.values[j] = math.NaN()
				if st := findStep(chat, scenarioChat, t, rate); st != nil && st.OK > 0 {
					s.values[j] = p.pick(st.Latency)
				}
			}
			ss = append(ss, s)
		}
		x0 := gap + (i%2)*(pw+gap)
		y0 := top + (i/2)*(ph+gap)
		drawPanel(c, image.Rect(x0, y0, x0+pw, y0+ph), p.name, rates, ss)
	}
	return c.img
}

// drawPanel draws one percentile's chart inside frame.
func drawPanel(c *canvas, frame image.Rectangle, title string, rates []float64, ss []series) {
	area := image.Rect(frame.Min.X+80, frame.Min.Y+30, frame.Max.X-15, frame.Max.Y-50)
	c.text(frame.Min.X+80, frame.Min.Y+6, title, black)

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				v = max(v, 0.01)
				lo, hi = min(lo, v), max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.1, 1
	}
	ticks := logTicks(lo, hi)
	ymin, ymax := math.Log10(ticks[0]), math.Log10(ticks[len(ticks)-1])
	yOf := func(v float64) int {
		f := (math.Log10(max(v, 0.01)) - ymin) / (ymax - ymin)
		return area.Max.Y - int(math.Round(f*float64(area.Dy())))
	}
	xOf := func(i int) int {
		return area.Min.X + int((float64(i)+0.5)/float64(len(rates))*float64(area.Dx()))
	}

	for _, t := range ticks {
		y := yOf(t)
		c.line(area.Min.X, y, area.Max.X, y, 1, gridColor)
		label := strconv.FormatFloat(t, 'f', -1, 64)
		c.text(area.Min.X-8-c.textWidth(label), y-7, label, axisColor)
	}
	c.line(area.Min.X, area.Min.Y, area.Min.X, area.Max.Y, 1, axisColor)
	c.line(area.Min.X, area.Max.Y, area.Max.X, area.Max.Y, 1, axisColor)
	for i, r := range rates {
		label := fmtRate(r)
		c.text(xOf(i)-c.textWidth(label)/2, area.Max.Y+8, label, axisColor)
	}
	c.text(area.Min.X+area.Dx()/2-c.textWidth("OFFERED RPS")/2, area.Max.Y+28, "OFFERED RPS", axisColor)

	for _, s := range ss {
		col := targetColors[s.target]
		prevX, prevY, have := 0, 0, false
		for i, v := range s.values {
			if math.IsNaN(v) {
				have = false
				continue
			}
			x, y := xOf(i), yOf(v)
			if have {
				c.line(prevX, prevY, x, y, 3, col)
			}
			c.fillRect(x-4, y-4, x+4, y+4, col)
			prevX, prevY, have = x, y, true
		}
	}
}

// logTicks returns 1-2-5 ticks from the largest one below lo to the
// smallest one at or above hi, e.g. 0.1 0.2 0.5 1 2 for [0.15, 1.7].
func logTicks(lo, hi float64) []float64 {
	var ticks []float64
	for d := math.Floor(math.Log10(lo)) - 1; ; d++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, d)
			if v < lo {
				ticks = []float64{v}
				continue
			}
			ticks = append(ticks, v)
			if v >= hi {
				return ticks
			}
		}
	}
}

// canvas is an RGBA image with the few primitives a chart needs.
type canvas struct{ img *image.RGBA }

func newCanvas(w, h int) *canvas {
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, w, h))}
	c.fillRect(0, 0, w, h, white)
	return c
}

func (c *canvas) fillRect(x0, y0, x1, y1 int, col color.RGBA) {
	r := image.Rect(x0, y0, x1, y1).Intersect(c.img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.img.SetRGBA(x, y, col)
		}
	}
}

// line draws a width-pixel line with Bresenham's algorithm.
func (c *canvas) line(x0, y0, x1, y1, width int, col color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		c.fillRect(x0-width/2, y0-width/2, x0-width/2+width, y0-width/2+width, col)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else {
			e += dx
			y0 += sy
		}
	}
}

// text draws s (upper-cased) with its top-left corner at x, y.
func (c *canvas) text(x, y int, s string, col color.RGBA) {
	for _, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			g = glyphs['?']
		}
		for row, bits := range g {
			for bit := range 5 {
				if bits&(0x10>>bit) != 0 {
					px, py := x+bit*fontScale, y+row*fontScale
					c.fillRect(px, py, px+fontScale, py+fontScale, col)
				}
			}
		}
		x += 6 * fontScale
	}
}

func (c *canvas) textWidth(s string) int { return len([]rune(s))*6*fontScale - fontScale }

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// glyphs is a 5×7 font (the HD44780 LCD's shapes): seven rows per glyph,
// the five low bits of each row from left (0x10) to right (0x01).
var glyphs = map[rune][7]uint8{
	' ':  {},
	'0':  {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},
	'1':  {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'2':  {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},
	'3':  {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
	'4':  {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},
	'5':  {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
	'6':  {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},
	'7':  {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8':  {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},
	'9':  {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
	'A':  {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11},
	'B':  {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E},
	'C':  {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E},
	'D':  {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C},
	'E':  {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
	'F':  {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10},
	'G':  {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F},
	'H':  {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
	'I':  {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E},
	'J':  {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C},
	'K':  {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
	'L':  {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F},
	'M':  {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11},
	'N':  {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O':  {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'P':  {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10},
	'Q':  {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D},
	'R':  {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11},
	'S':  {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
	'T':  {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U':  {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
	'V':  {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04},
	'W':  {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A},
	'X':  {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11},
	'Y':  {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04},
	'Z':  {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F},
	'.':  {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},
	',':  {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08},
	':':  {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00},
	'-':  {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},
	'+':  {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00},
	'/':  {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},
	'(':  {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
	')':  {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
	'%':  {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
	'=':  {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00},
	'\'': {0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},
	'?':  {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},
}
