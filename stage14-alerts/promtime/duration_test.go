package promtime

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	ok := map[string]time.Duration{
		"0":           0,
		"0s":          0,
		"5m":          5 * time.Minute,
		"1h30m":       90 * time.Minute,
		"2d":          48 * time.Hour,
		"1w":          7 * 24 * time.Hour,
		"1y":          365 * 24 * time.Hour,
		"1m500ms":     time.Minute + 500*time.Millisecond,
		"1d2h3m4s5ms": 24*time.Hour + 2*time.Hour + 3*time.Minute + 4*time.Second + 5*time.Millisecond,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || time.Duration(got) != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, time.Duration(got), err, want)
		}
	}
	bad := map[string]string{
		"":       "empty duration string",
		"5":      `not a valid duration string: "5"`,
		"5x":     `unknown unit "x" in duration "5x"`,
		"30m1h":  `not a valid duration string: "30m1h"`,
		"1m1m":   `not a valid duration string: "1m1m"`,
		"-5m":    `not a valid duration string: "-5m"`,
		"1.5h":   `unknown unit "." in duration "1.5h"`,
		"300y":   "duration out of range",
		"h":      `not a valid duration string: "h"`,
		"5 m":    `unknown unit " m" in duration "5 m"`,
		"5m0x10": `unknown unit "x" in duration "5m0x10"`,
	}
	for in, want := range bad {
		_, err := ParseDuration(in)
		if err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error %v, want %q", in, err, want)
		}
	}
}

func TestDurationString(t *testing.T) {
	cases := map[time.Duration]string{
		0:                       "0s",
		90 * time.Minute:        "1h30m",
		10 * 24 * time.Hour:     "10d",
		14 * 24 * time.Hour:     "2w",
		365 * 24 * time.Hour:    "1y",
		1500 * time.Millisecond: "1s500ms",
		-5 * time.Minute:        "-5m",
	}
	for d, want := range cases {
		if got := Duration(d).String(); got != want {
			t.Errorf("%v prints %q, want %q", d, got, want)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		For Duration `yaml:"for"`
	}
	if err := yaml.Unmarshal([]byte("for: 1h5m\n"), &v); err != nil || time.Duration(v.For) != 65*time.Minute {
		t.Fatalf("got %v, %v", time.Duration(v.For), err)
	}
	err := yaml.Unmarshal([]byte("for: 5x\n"), &v)
	if err == nil || err.Error() != `unknown unit "x" in duration "5x"` {
		t.Errorf("bad duration error %v", err)
	}
	out, _ := yaml.Marshal(v)
	if string(out) != "for: 1h5m\n" {
		t.Errorf("marshalled %q", out)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 5e8),
		"2024-01-15T14:00:15Z": time.Date(2024, 1, 15, 14, 0, 15, 0, time.UTC),
	} {
		got, err := ParseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseTime("yesterday"); err == nil {
		t.Error("ParseTime accepted yesterday")
	}
}
