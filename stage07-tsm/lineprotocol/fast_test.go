package lineprotocol

import (
	"bytes"
	"testing"
)

// FuzzFastParse holds the fast path to the scan: a line fastParse takes
// parses to the same point by the scan alone, and a line the scan takes
// with no backslash and no double quote, fastParse takes too (so the fast
// path is not silently skipping the common line). ParseFields, given a
// line whose key the scan accepted, agrees with both.
func FuzzFastParse(f *testing.F) {
	for _, s := range []string{
		`cpu,hostname=host_0,region=eu-central-1,rack=6 usage_user=58i,usage_system=2i 1704067200000000000`,
		`m v=-1.5e3,w=-0 -42`, `m v=1 10 ` + "\r", `m,a=b v=t,w=F,x=7u  12  `, `a=b,c=d e=1`,
		`m,a=b=c v=1`, `m,=b v=1`, `m,a= v=1`, `m,a=b, v=1`, `,a=b v=1`, `#m v=1`, `m v=1,`, `m v=`, `m =1`,
		`m v=1x`, `m v=1 12x`, `m v=1 12 3`, `m  v=1`, `m v=1=2`, `m v=99999999999999999999i`, `m v="s"`,
		`m\ x v=1`, ` m v=1`, `m`, `m `, `m v=1 `, "m v=1\t", `m v=tru`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // Parse takes one line
		}
		var fast, scan Point
		ok := fastParse(line, &fast)
		err := (&parser{line: line, p: &scan}).parse()
		switch {
		case ok && err != nil:
			t.Fatalf("%q: the fast path took it, the scan says %v", line, err)
		case ok && (!samePoint(&fast, &scan) || string(fast.Key) != string(scan.Key)):
			t.Fatalf("%q: fast path %+v, scan %+v", line, fast, scan)
		case !ok && err == nil && !bytes.ContainsAny(line, "\\\""):
			t.Fatalf("%q: a plain line the fast path did not take", line)
		}
		if err != nil {
			return // ParseFields is only for lines whose key Parse accepted
		}
		// The same line with its key known: the same point, without tags.
		var known Point
		switch kok := ParseFields(line, &known); {
		case kok != ok:
			t.Fatalf("%q: ParseFields says %v, the fast path %v", line, kok, ok)
		case kok:
			scan.Tags = nil
			if !samePoint(&known, &scan) || string(known.Key) != string(scan.Key) {
				t.Fatalf("%q: ParseFields %+v, scan %+v", line, known, scan)
			}
		}
	})
}
