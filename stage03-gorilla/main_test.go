package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The CLI round trip prints the guide's lines, and a damaged file fails verification.
func TestCLIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in, gz, back := filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.gorilla"), filepath.Join(dir, "back.bin")
	var out, errb bytes.Buffer
	if code := run([]string{"generate", "--points", "20000", in}, &out, &errb); code != 0 {
		t.Fatalf("generate: %d %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"compress", in, gz}, &out, &errb); code != 0 {
		t.Fatalf("compress: %d %s", code, errb.String())
	}
	for _, re := range []string{
		`(?m)^Input:  320,000 bytes \(20,000 timestamp-value pairs\)$`,
		`(?m)^Output: +[0-9,]+ bytes$`,
		`(?m)^Compression ratio: [0-9.]+x$`,
		`(?m)^  Timestamps: [0-9.]+ bytes/point \(delta-of-delta encoding\)$`,
		`(?m)^  Values: +[0-9.]+ bytes/point \(XOR encoding\)$`,
		`(?m)^    - [0-9.]+% compressed to 1 bit \(identical to previous\)$`,
		`(?m)^    - [0-9.]+% compressed with '10' prefix \(avg [0-9.]+ bits\)$`,
		`(?m)^    - [0-9.]+% compressed with '11' prefix \(avg [0-9.]+ bits\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("compress output lacks %s:\n%s", re, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"decompress", gz, back}, &out, &errb); code != 0 {
		t.Fatalf("decompress: %d %s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)^Decompressed 20,000 points in [0-9.]+(µs|ms|s)\nVerification: PASSED$`).MatchString(out.String()) {
		t.Errorf("decompress output:\n%s", out.String())
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(back)
	if !bytes.Equal(a, b) {
		t.Fatal("recovered raw file differs from the input")
	}

	// Flip one bit of a value in the middle of the file: the chunk still
	// decodes (or not), but the checksum must catch it.
	data, _ := os.ReadFile(gz)
	data[len(data)/2] ^= 0x01
	os.WriteFile(gz, data, 0o644)
	out.Reset()
	errb.Reset()
	if code := run([]string{"decompress", gz, back}, &out, &errb); code == 0 {
		t.Fatalf("decompress of a damaged file exited 0:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Verification: FAILED") && !strings.HasPrefix(errb.String(), "error: ") {
		t.Fatalf("damaged file: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestCLIErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nope"},
		{"compress", "only-one-arg"},
		{"compress", "--encoding", "zip", "a", "b"},
		{"decompress", filepath.Join(t.TempDir(), "missing"), "x"},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
		if code == 0 || !strings.HasPrefix(lines[len(lines)-1], "error: ") {
			t.Errorf("%v: exit %d stderr %q", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"compress", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage:") {
		t.Errorf("compress -h: exit %d stderr %q", code, errb.String())
	}
}

// The demo ends with the histogram chunks' figures, measured, and their
// check against the input.
func TestDemoHistograms(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--points", "2000"}, &out, &errb); code != 0 {
		t.Fatalf("demo: %d %s", code, errb.String())
	}
	for _, re := range []string{
		`(?m)^Native histograms: 720 scrapes of a latency histogram \(schema 3, [0-9]+-[0-9]+ buckets\) in 6 chunks:$`,
		`(?m)^  [0-9,]+ bytes, [0-9.]+ bytes/scrape, [0-9.]+ bits per bucket per scrape; as 8-byte fields [0-9,]+ bytes \([0-9.]+x\)$`,
		`(?m)^  decoded: 720 histograms, every count and sum equal to the input$`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("demo output lacks %s:\n%s", re, out.String())
		}
	}
}
