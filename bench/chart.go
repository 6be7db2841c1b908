package bench

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"strings"
)

// The chart: one horizontal bar of seconds per result row, grouped by
// contender (one color each), drawn with the standard library's image
// packages and a small embedded 5x7 bitmap font (upper case only; lower
// case letters are drawn upper case).

const (
	glyphW, glyphH = 5, 7
	fontScale      = 2                        // pixels per font dot
	charAdvance    = (glyphW + 1) * fontScale // 12 px
	textHeight     = glyphH * fontScale       // 14 px
)

// font5x7 maps a character to its rows, top first; bit 4 is the leftmost
// dot. Characters not in the map are drawn as a hollow box.
var font5x7 = map[rune][glyphH]uint8{
	'A':  {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},
	'B':  {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e},
	'C':  {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e},
	'D':  {0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e},
	'E':  {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f},
	'F':  {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10},
	'G':  {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f},
	'H':  {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},
	'I':  {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},
	'J':  {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c},
	'K':  {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},
	'L':  {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f},
	'M':  {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11},
	'N':  {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},
	'O':  {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},
	'P':  {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10},
	'Q':  {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d},
	'R':  {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11},
	'S':  {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e},
	'T':  {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},
	'U':  {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},
	'V':  {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04},
	'W':  {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a},
	'X':  {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11},
	'Y':  {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04},
	'Z':  {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f},
	'0':  {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e},
	'1':  {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e},
	'2':  {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f},
	'3':  {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e},
	'4':  {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02},
	'5':  {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e},
	'6':  {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e},
	'7':  {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
	'8':  {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e},
	'9':  {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c},
	'.':  {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c},
	',':  {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08},
	':':  {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00},
	'-':  {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00},
	'(':  {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},
	')':  {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},
	'/':  {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},
	'%':  {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},
	'+':  {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00},
	'=':  {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00},
	'_':  {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f},
	'<':  {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},
	'>':  {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},
	'\'': {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},
	'$':  {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04},
	'?':  {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},
}

var (
	chartBG    = color.RGBA{0xff, 0xff, 0xff, 0xff}
	chartInk   = color.RGBA{0x20, 0x20, 0x20, 0xff}
	chartGrid  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	chartFaint = color.RGBA{0x70, 0x70, 0x70, 0xff}
	chartFail  = color.RGBA{0xc0, 0x00, 0x00, 0xff}
)

// contenderColor gives each contender a fixed color.
func contenderColor(c string) color.RGBA {
	switch c {
	case "cdcmerge":
		return color.RGBA{0x1f, 0x77, 0xb4, 0xff} // blue
	case "cdcmerge merge-on-read":
		return color.RGBA{0x2c, 0xa0, 0x2c, 0xff} // green
	case "cdcmerge " + modeMergeOnReadPartitioned:
		return color.RGBA{0x17, 0xbe, 0xcf, 0xff} // teal
	case "duckdb":
		return color.RGBA{0xff, 0x7f, 0x0e, 0xff} // orange
	case floorDefault:
		return color.RGBA{0x7f, 0x7f, 0x7f, 0xff} // gray
	case floorTuned:
		return color.RGBA{0xbc, 0xbd, 0x22, 0xff} // olive
	}
	return color.RGBA{0x94, 0x67, 0xbd, 0xff} // purple
}

// drawText draws s with its top-left corner at (x, y) and returns the x
// after the last character.
func drawText(img draw.Image, x, y int, s string, c color.Color) int {
	u := image.NewUniform(c)
	for _, r := range strings.ToUpper(s) {
		g, ok := font5x7[r]
		if !ok && r != ' ' {
			g = [glyphH]uint8{0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f}
		}
		for row := range glyphH {
			for col := range glyphW {
				if g[row]&(1<<(glyphW-1-col)) != 0 {
					px := x + col*fontScale
					py := y + row*fontScale
					draw.Draw(img, image.Rect(px, py, px+fontScale, py+fontScale), u, image.Point{}, draw.Src)
				}
			}
		}
		x += charAdvance
	}
	return x
}

func textWidth(s string) int { return len([]rune(s)) * charAdvance }

func fillRect(img draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten giving
// about n ticks up to max.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// Chart renders the report's rows as a PNG: seconds per contender and phase.
func (r *Report) Chart() ([]byte, error) {
	type bar struct {
		label string
		secs  float64
		fail  bool
	}
	type group struct {
		name string
		bars []bar
	}
	var groups []*group
	byName := map[string]*group{}
	maxSec := 0.0
	for _, x := range r.Results {
		g := byName[x.Contender]
		if g == nil {
			g = &group{name: x.Contender}
			byName[x.Contender] = g
			groups = append(groups, g)
		}
		g.bars = append(g.bars, bar{label: x.Phase, secs: x.Seconds, fail: x.Error != ""})
		if x.Error == "" {
			maxSec = max(maxSec, x.Seconds)
		}
	}
	const (
		margin   = 20
		rowH     = 24
		barH     = 16
		headerH  = 30
		plotW    = 760
		valueW   = 160
		titleGap = 16
	)
	labelW := 0
	for _, g := range groups {
		for _, b := range g.bars {
			labelW = max(labelW, textWidth(b.label))
		}
	}
	labelW += 3 * charAdvance // indent under the group header
	title := fmt.Sprintf("cdcmerge bench %s: %d rows + %d changes", r.Size.Name, r.Size.Rows, r.Size.Changes)
	sub := fmt.Sprintf("seconds, lower is better. %d cores, %d round(s)", r.Machine.Cores, max(r.Repeat, 1))
	if r.DuckDB != nil && !r.DuckDB.Available {
		sub += ", DuckDB unavailable"
	}
	width := margin + labelW + plotW + valueW + margin
	width = max(width, margin*2+textWidth(title), margin*2+textWidth(sub))
	nBars := 0
	for _, g := range groups {
		nBars += len(g.bars)
	}
	top := margin + 2*textHeight + titleGap + 10
	height := top + len(groups)*headerH + nBars*rowH + 10 + textHeight + margin
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	fillRect(img, img.Bounds(), chartBG)
	drawText(img, margin, margin, title, chartInk)
	drawText(img, margin, margin+textHeight+6, sub, chartFaint)

	x0 := margin + labelW
	if maxSec <= 0 {
		maxSec = 1
	}
	step := niceStep(maxSec, 6)
	axisMax := math.Ceil(maxSec/step) * step
	px := func(s float64) int { return int(math.Round(s / axisMax * plotW)) }
	bottom := height - margin - textHeight - 4
	// Grid and tick labels.
	for t := 0.0; t <= axisMax+step/2; t += step {
		x := x0 + px(t)
		fillRect(img, image.Rect(x, top-4, x+1, bottom), chartGrid)
		lbl := trimFloat(t, step)
		drawText(img, x-textWidth(lbl)/2, bottom+4, lbl, chartFaint)
	}
	fillRect(img, image.Rect(x0, top-4, x0+1, bottom), chartInk)

	y := top
	for _, g := range groups {
		c := contenderColor(g.name)
		fillRect(img, image.Rect(margin, y+4, margin+textHeight, y+4+textHeight), c)
		drawText(img, margin+textHeight+8, y+4, g.name, c)
		y += headerH
		for _, b := range g.bars {
			ty := y + (rowH-textHeight)/2
			drawText(img, x0-10-textWidth(b.label), ty, b.label, chartInk)
			by := y + (rowH-barH)/2
			if b.fail {
				drawText(img, x0+6, ty, "FAILED", chartFail)
			} else {
				w := max(px(b.secs), 1)
				fillRect(img, image.Rect(x0+1, by, x0+1+w, by+barH), c)
				drawText(img, x0+w+8, ty, fmt.Sprintf("%.3f", b.secs), chartInk)
			}
			y += rowH
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// trimFloat formats a tick value with as many decimals as the step needs.
func trimFloat(v, step float64) string {
	dec := 0
	for s := step; s < 1 && dec < 4; s *= 10 {
		dec++
	}
	return fmt.Sprintf("%.*f", dec, v)
}

// WriteChart writes the report's chart as a PNG file.
func (r *Report) WriteChart(path string) error {
	b, err := r.Chart()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
