package main

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogTicks(t *testing.T) {
	require.Equal(t, []float64{0.1, 0.2, 0.5, 1, 2}, logTicks(0.15, 1.7))
	require.Equal(t, []float64{0.1, 0.2}, logTicks(0.2, 0.2))
	require.Equal(t, []float64{0.5, 1}, logTicks(1, 1))
	require.Equal(t, []float64{5, 10, 20, 50, 100, 200}, logTicks(8, 180))
}

func TestRenderPlot(t *testing.T) {
	steps := testSteps()
	r := &Results{Settings: settings{Rates: []float64{500, 1000}}, Targets: []string{targetDirect, targetEnvoy, targetLLMvoy}, Steps: steps}
	img := renderPlot(r)
	require.Equal(t, plotW, img.Bounds().Dx())
	require.Equal(t, plotH, img.Bounds().Dy())

	// Every target's colour is on the chart (legend and lines).
	seen := map[string]bool{}
	for y := 0; y < plotH; y++ {
		for x := 0; x < plotW; x++ {
			for name, col := range targetColors {
				if img.RGBAAt(x, y) == col {
					seen[name] = true
				}
			}
		}
	}
	require.True(t, seen[targetDirect] && seen[targetEnvoy] && seen[targetLLMvoy])

	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
}

func TestGlyphsFitFiveColumns(t *testing.T) {
	for r, g := range glyphs {
		for _, row := range g {
			require.Zero(t, row&^0x1F, "glyph %q", r)
		}
	}
}
