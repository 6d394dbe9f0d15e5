package main

import (
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a flag value of bytes: a number with an optional binary
// suffix, "1GiB", "512MiB", "768Mi" (Kubernetes' spelling) or "1073741824".
type byteSize uint64

var byteSuffixes = []struct {
	suffix string
	shift  uint
}{
	{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"Gi", 30}, {"Mi", 20}, {"Ki", 10}, {"B", 0},
}

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func (b byteSize) String() string {
	for _, u := range byteSuffixes[:3] {
		if b != 0 && uint64(b)%(1<<u.shift) == 0 {
			return strconv.FormatUint(uint64(b)>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(uint64(b), 10)
}

func parseByteSize(s string) (uint64, error) {
	num, shift := strings.TrimSpace(s), uint(0)
	for _, u := range byteSuffixes {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, shift = strings.TrimSpace(rest), u.shift
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > (^uint64(0))>>shift {
		return 0, fmt.Errorf("%q: want bytes, e.g. 1GiB, 512MiB or 1073741824", s)
	}
	return n << shift, nil
}
