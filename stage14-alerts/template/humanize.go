package template

import (
	"fmt"
	"math"
)

// Humanize prints a number with an SI prefix and 4 significant digits:
// 1234567 → "1.235M", 0.0012 → "1.2m".
func Humanize(i any) (string, error) {
	v, err := toFloat(i)
	if err != nil {
		return "", err
	}
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v), nil
	}
	prefix := ""
	if math.Abs(v) >= 1 {
		for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
			if math.Abs(v) < 1000 {
				break
			}
			prefix, v = p, v/1000
		}
	} else {
		for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
			if math.Abs(v) >= 1 {
				break
			}
			prefix, v = p, v*1000
		}
	}
	return fmt.Sprintf("%.4g%s", v, prefix), nil
}

// Humanize1024 is Humanize with binary prefixes: 1536 → "1.5ki".
func Humanize1024(i any) (string, error) {
	v, err := toFloat(i)
	if err != nil {
		return "", err
	}
	if math.Abs(v) <= 1 || math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprintf("%.4g", v), nil
	}
	prefix := ""
	for _, p := range []string{"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"} {
		if math.Abs(v) < 1024 {
			break
		}
		prefix, v = p, v/1024
	}
	return fmt.Sprintf("%.4g%s", v, prefix), nil
}

// HumanizeDuration prints seconds as "1d 2h 3m 4s" (whole seconds from a
// minute up), "4.5s", or with an SI prefix below a second ("12ms").
func HumanizeDuration(i any) (string, error) {
	v, err := toFloat(i)
	if err != nil {
		return "", err
	}
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("%.4g", v), nil
	case v == 0:
		return fmt.Sprintf("%.4gs", v), nil
	}
	if math.Abs(v) >= 1 {
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		whole := int64(v)
		s, m, h, d := whole%60, whole/60%60, whole/3600%24, whole/86400
		switch {
		case d != 0:
			return fmt.Sprintf("%s%dd %dh %dm %ds", sign, d, h, m, s), nil
		case h != 0:
			return fmt.Sprintf("%s%dh %dm %ds", sign, h, m, s), nil
		case m != 0:
			return fmt.Sprintf("%s%dm %ds", sign, m, s), nil
		}
		return fmt.Sprintf("%s%.4gs", sign, v), nil
	}
	prefix := ""
	for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
		if math.Abs(v) >= 1 {
			break
		}
		prefix, v = p, v*1000
	}
	return fmt.Sprintf("%.4g%ss", v, prefix), nil
}

// HumanizePercentage prints a ratio as a percentage: 0.8512 → "85.12%".
func HumanizePercentage(i any) (string, error) {
	v, err := toFloat(i)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%.4g%%", v*100), nil
}

// HumanizeTimestamp prints seconds since the epoch as a UTC time,
// "2024-01-15 14:00:15 +0000 UTC".
func HumanizeTimestamp(i any) (string, error) {
	v, err := toFloat(i)
	if err != nil {
		return "", err
	}
	t, err := floatToTime(v)
	switch {
	case err == errNaNOrInf:
		return fmt.Sprintf("%.4g", v), nil
	case err != nil:
		return "", err
	}
	return t.Format("2006-01-02 15:04:05.999999999 -0700 MST"), nil
}
