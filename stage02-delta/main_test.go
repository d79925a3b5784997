package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/cli"
)

func runCLI(args ...string) (stdout, stderr string, code int) { return cli.Capture(run, args...) }

func fileSize(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

func TestGenerateCompressDecompress(t *testing.T) {
	dir := t.TempDir()
	in, comp, back := filepath.Join(dir, "in.bin"), filepath.Join(dir, "out.compressed"), filepath.Join(dir, "back.bin")

	// Flags may follow the file name too.
	out, errOut, code := runCLI("generate", in, "--points", "20000")
	if code != 0 || fileSize(t, in) != 20000*16 {
		t.Fatalf("generate: code %d, %q %q", code, out, errOut)
	}

	out, errOut, code = runCLI("compress", in, comp)
	if code != 0 || errOut != "" {
		t.Fatalf("compress: code %d, stderr %q", code, errOut)
	}
	re := regexp.MustCompile(`^Original size: +([\d,]+) bytes \(([\d,]+) data points\)
Compressed size: +([\d,]+) bytes
Compression ratio: (\d+\.\d\d)x
Timestamps: avg delta = ([\d.]+)s, avg bits/delta = \d+\.\d
Values: avg delta = [\d.]+, avg bits/delta = \d+\.\d
$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("compress output does not have the guide's shape:\n%s", out)
	}
	num := func(s string) int { n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", "")); return n }
	if num(m[1]) != fileSize(t, in) || num(m[2]) != 20000 || num(m[3]) != fileSize(t, comp) {
		t.Errorf("sizes in the output %v disagree with the files (%d, %d)", m[1:4], fileSize(t, in), fileSize(t, comp))
	}
	if want := fmt.Sprintf("%.2f", float64(fileSize(t, in))/float64(fileSize(t, comp))); m[4] != want {
		t.Errorf("ratio %s, files give %s", m[4], want)
	}
	// The generator scrapes every 10 s, missing about one in 1,000.
	if d, _ := strconv.ParseFloat(m[5], 64); d < 10 || d > 10.1 {
		t.Errorf("timestamp avg delta %ss, want about 10s", m[5])
	}

	out, errOut, code = runCLI("decompress", comp, back)
	if code != 0 || out != "Decompressed 20,000 points\nVerification: PASSED (bit-exact match)\n" {
		t.Fatalf("decompress: code %d, %q, %q", code, out, errOut)
	}
	a, _ := os.ReadFile(in)
	b, _ := os.ReadFile(back)
	if !bytes.Equal(a, b) {
		t.Fatal("recovered file differs from the input")
	}
}

func TestDecompressBadFiles(t *testing.T) {
	dir := t.TempDir()
	in, comp := filepath.Join(dir, "in.bin"), filepath.Join(dir, "c")
	if _, e, code := runCLI("generate", "--points", "1000", in); code != 0 {
		t.Fatal(e)
	}
	if _, e, code := runCLI("compress", in, comp); code != 0 {
		t.Fatal(e)
	}
	good, _ := os.ReadFile(comp)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("truncated", func(t *testing.T) {
		p := write("truncated", good[:len(good)/2])
		out, errOut, code := runCLI("decompress", p, filepath.Join(dir, "x.bin"))
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "error: ") ||
			strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "corrupt") {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("checksum in header altered", func(t *testing.T) {
		bad := bytes.Clone(good)
		bad[5] ^= 0x01 // first byte of the CRC-32C
		p := write("badcrc", bad)
		out, errOut, code := runCLI("decompress", p, filepath.Join(dir, "y.bin"))
		if code != 1 || !strings.Contains(out, "Verification: FAILED") || !strings.HasPrefix(errOut, "error: ") {
			t.Fatalf("code %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("raw file with a partial point", func(t *testing.T) {
		p := write("odd.bin", make([]byte, 17))
		_, errOut, code := runCLI("compress", p, filepath.Join(dir, "z"))
		if code != 1 || !strings.Contains(errOut, "multiple of 16") {
			t.Fatalf("code %d, stderr %q", code, errOut)
		}
	})
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"compress", "-h"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"compress", "only-one"}, 2},
		{[]string{"generate", "--points", "x", "f"}, 2},
	} {
		out, errOut, code := runCLI(c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%q %q)", c.args, code, c.code, out, errOut)
		}
		if code == 2 && (!strings.HasPrefix(errOut, "error: ") || strings.Count(errOut, "\n") != 1) {
			t.Errorf("%v: stderr %q, want one error line", c.args, errOut)
		}
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCLI("--data-dir", dir, "--points", "5000")
	if code != 0 {
		t.Fatalf("demo: code %d, %s", code, errOut)
	}
	for _, want := range []string{"Compression ratio:", "Decompressed 5,000 points", "Verification: PASSED (bit-exact match)"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if fileSize(t, filepath.Join(dir, "input.bin")) != 5000*16 {
		t.Error("demo did not write its files into --data-dir")
	}
}

func TestFormatting(t *testing.T) {
	for ms, want := range map[float64]string{10000: "10s", 10008.88: "10.009s", 250: "250ms", 0.5: "0.5ms", 90000: "1m30s"} {
		if got := millis(ms); got != want {
			t.Errorf("millis(%v) = %q, want %q", ms, got, want)
		}
	}
}
