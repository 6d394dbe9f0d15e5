package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCPUModel(t *testing.T) {
	cpuinfo := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	require.Equal(t, "AMD EPYC 7B13", cpuModel([]byte(cpuinfo)))
	require.Equal(t, "unknown CPU", cpuModel([]byte("processor\t: 0\n")))
}

func TestMemTotal(t *testing.T) {
	require.Equal(t, "23.5 GiB", memTotal([]byte("MemTotal:       24683520 kB\nMemFree:        22909312 kB\n")))
	require.Equal(t, "unknown", memTotal([]byte("MemFree: 1 kB\n")))
}
