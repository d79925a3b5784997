package parser

import (
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2/lexer"
)

// tokens lexes s with a definition, up to the end or the first error.
func tokens(def lexer.Definition, s string) ([]lexer.Token, error) {
	l, err := def.Lex("", strings.NewReader(s))
	if err != nil {
		return nil, err
	}
	var out []lexer.Token
	for {
		t, err := l.Next()
		if err != nil {
			return out, err
		}
		if t.EOF() {
			return out, nil
		}
		out = append(out, t)
	}
}

func checkScannerAgrees(t *testing.T, s string) {
	want, werr := tokens(promqlLexer, s)
	got, gerr := tokens(fastLexer, s)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: regexp lexer error %v, scanner error %v", s, werr, gerr)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d tokens from the scanner, %d from the regexps:\n%v\n%v", s, len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%q: token %d: scanner %#v, regexps %#v", s, i, got[i], want[i])
		}
	}
}

func TestScannerAgrees(t *testing.T) {
	for _, c := range canonical {
		checkScannerAgrees(t, c.in)
	}
	for _, c := range errorCases {
		checkScannerAgrees(t, c.in)
	}
	for _, s := range []string{query200, "5msx 5ms 5m3 1h30m 1y2w3d4h5m6s7ms 0x 0xg 1e 1e+ 1.e5 .5e-3 '\\\n' \"a\\\"b\" `x\ny` a:b :a ::", "é", "\"unterminated", "1m\n  # c\n\tfoo{a!~'x'} @ 5 [5m:]"} {
		checkScannerAgrees(t, s)
	}
}

func FuzzScannerAgrees(f *testing.F) {
	for _, c := range canonical {
		f.Add(c.in)
	}
	f.Add("5msx 1h30m 0x1F .5e-3 'a\\'b' ::a")
	f.Fuzz(func(t *testing.T, s string) {
		checkScannerAgrees(t, s)
	})
}

func benchLex(b *testing.B, def lexer.Definition) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		toks, err := tokens(def, query200)
		if err != nil {
			b.Fatal(err)
		}
		n = len(toks)
	}
	b.ReportMetric(float64(n), "tokens")
}

// The lexer alone, regexp rules versus the hand-written scanner.
func BenchmarkLexRegexp(b *testing.B)  { benchLex(b, promqlLexer) }
func BenchmarkLexScanner(b *testing.B) { benchLex(b, fastLexer) }
