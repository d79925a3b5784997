package wal

import "testing"

// A ref column whose varint overflows 64 bits (ten bytes, the last above 1)
// passes skipVarints' shape check; reading it must refuse the record as
// decoding does, not index the column at a negative position.
func TestDenseKeptRefOverflow(t *testing.T) {
	over := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	for _, refs := range [][]byte{
		append(append([]byte{}, over...), 0), // the first ref overflows
		append([]byte{2}, over...),           // a later delta overflows
	} {
		rec := []byte{byte(RecordDenseSamples), 2}
		rec = append(rec, refs...)
		rec = append(rec, 0, 0)    // timestamps 0, +0
		rec = append(rec, 0, 0, 0) // exponent 0, values 0, +0
		if _, err := DecodeSamples(rec, nil); err == nil {
			t.Fatal("test setup: the record decodes")
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("denseKept panics: %v", p)
				}
			}()
			if _, _, _, ok := denseKept(rec, func(uint64) bool { return true }, 0); ok {
				t.Error("denseKept reads a record decoding refuses")
			}
		}()
	}
}
