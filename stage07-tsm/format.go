package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads 1048576, 64MB, 256MiB, 1.5GB …
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q (want bytes or e.g. 64MB, 256MiB)", s)
	}
	return int64(f * mult), nil
}

// mb formats bytes the guide's way: 98MB, 3.2MB.
func mb(n int64) string {
	x := float64(n) / 1e6
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0fMB", x)
	case x >= 0.1:
		return fmt.Sprintf("%.1fMB", x)
	}
	return fmt.Sprintf("%.1fKB", float64(n)/1e3)
}
