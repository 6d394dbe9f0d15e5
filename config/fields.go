package config

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Readers for typed fields. Each reports its own errors and returns ok=false
// when the field is unset (null) or wrong, so callers keep the default.

// str reads a string, resolving an os.environ/NAME reference; name is the
// variable the value came from, if any. An unset variable is a warning and
// reads as "", as in LiteLLM. Messages never quote the value: it may be a
// credential.
func (p *parser) str(path string, v *value) (s, name string, ok bool) {
	if v.isNull() {
		return "", "", false
	}
	if v.kind != kindStr {
		p.errorf(v.line, path, "want a string, got %s", v.kind)
		return "", "", false
	}
	name, isRef := envRef(v.s)
	if !isRef {
		return v.s, "", true
	}
	if name == "" {
		p.errorf(v.line, path, "%s names no environment variable", v.s)
		return "", "", false
	}
	s, set := p.lookup(name)
	if !set {
		p.warnf(v.line, path, "environment variable %s is not set", name)
	}
	return s, name, true
}

// number reads a finite number. A string holding one counts too, as it does
// for LiteLLM's pydantic models ("30" for 30).
func (p *parser) number(path string, v *value) (float64, bool) {
	return p.numeric(path, v, "a number")
}

// integer reads a whole number that fits an int; 100.0 and "100" count.
func (p *parser) integer(path string, v *value) (int, bool) {
	if v != nil && v.kind == kindInt {
		if !v.i.IsInt64() || v.i.Int64() > math.MaxInt || v.i.Int64() < math.MinInt {
			p.errorf(v.line, path, "%s is too large", v.text)
			return 0, false
		}
		return int(v.i.Int64()), true
	}
	f, ok := p.numeric(path, v, "an integer")
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		p.errorf(v.line, path, "want an integer, got %s", describe(v, "", ""))
		return 0, false
	}
	return int(f), true
}

// numeric reads a finite number; want names the kind in messages.
func (p *parser) numeric(path string, v *value, want string) (float64, bool) {
	if v.isNull() {
		return 0, false
	}
	switch v.kind {
	case kindInt:
		f, _ := new(big.Float).SetInt(v.i).Float64()
		return f, true
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			p.errorf(v.line, path, "want %s, got %s", want, v.text)
			return 0, false
		}
		return v.f, true
	case kindStr:
		s, name, ok := p.str(path, v)
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			p.errorf(v.line, path, "want %s, got %s", want, describe(v, s, name))
			return 0, false
		}
		return f, true
	}
	p.errorf(v.line, path, "want %s, got %s", want, describe(v, "", ""))
	return 0, false
}

// Longer than time.Duration can hold; no LLM call needs it.
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

// seconds reads a duration in seconds (LiteLLM allows fractions, e.g. 0.5).
// Zero passes only when zeroOK.
func (p *parser) seconds(path string, v *value, zeroOK bool) (time.Duration, bool) {
	f, ok := p.number(path, v)
	if !ok {
		return 0, false
	}
	switch {
	case f < 0 || (f == 0 && !zeroOK):
		want := "> 0"
		if zeroOK {
			want = ">= 0"
		}
		p.errorf(v.line, path, "want seconds %s, got %s", want, formatNumber(f))
		return 0, false
	case f > maxSeconds:
		p.errorf(v.line, path, "%s seconds is too long", formatNumber(f))
		return 0, false
	}
	return time.Duration(math.Round(f * float64(time.Second))), true
}

// describe renders an offending value for a message: strings quoted, and
// nothing taken from an environment variable.
func describe(v *value, s, envName string) string {
	switch {
	case envName != "":
		return "the value of environment variable " + envName
	case v.kind == kindStr:
		if s == "" {
			s = v.s
		}
		return strconv.Quote(s)
	case v.kind == kindList || v.kind == kindDict:
		return v.kind.String()
	case s != "":
		return s
	}
	return v.text
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
