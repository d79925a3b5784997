package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"

	"github.com/tsdb-course/stage15-tsdb/config"
)

// TestApplyRuntime: the configured GOGC and memory limit are applied,
// unless the environment variable says otherwise.
func TestApplyRuntime(t *testing.T) {
	gc0, lim0 := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(gc0); debug.SetMemoryLimit(lim0) })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	applyRuntime(config.RuntimeConfig{GOGC: 37, MemoryLimit: 3 << 30}, quiet)
	if gc := debug.SetGCPercent(100); gc != 37 {
		t.Errorf("GOGC %d after applying 37", gc)
	}
	if lim := debug.SetMemoryLimit(math.MaxInt64); lim != 3<<30 {
		t.Errorf("memory limit %d after applying 3 GiB", lim)
	}

	// The environment wins: the runtime applied it at start-up.
	t.Setenv("GOGC", "80")
	t.Setenv("GOMEMLIMIT", "1GiB")
	applyRuntime(config.RuntimeConfig{GOGC: 37, MemoryLimit: 3 << 30}, quiet)
	if gc := debug.SetGCPercent(100); gc != 100 {
		t.Errorf("GOGC %d with GOGC set in the environment, want it untouched (100)", gc)
	}
	if lim := debug.SetMemoryLimit(-1); lim != math.MaxInt64 {
		t.Errorf("memory limit %d with GOMEMLIMIT set in the environment, want it untouched", lim)
	}
}

// TestRuntimeConfigChecked: a GOGC of 0 (collect all the time) or a
// negative memory limit is refused at start.
func TestRuntimeConfigChecked(t *testing.T) {
	for _, bad := range []string{"runtime:\n  gogc: 0\n", "runtime:\n  gogc: -2\n", "runtime:\n  memory_limit: -1\n"} {
		if _, err := config.Parse([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	c, err := config.Parse([]byte("runtime:\n  gogc: 75\n  memory_limit: 1073741824\n"))
	if err != nil || c.Runtime.GOGC != 75 || c.Runtime.MemoryLimit != 1<<30 {
		t.Errorf("got %+v, %v", c.Runtime, err)
	}
	if config.Default().Runtime.GOGC != config.DefaultGOGC {
		t.Errorf("default GOGC %d", config.Default().Runtime.GOGC)
	}
}
