package index

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// symbolTable is the string table of an index file: every distinct label
// name and value, sorted, stored once. The rest of the file refers to a
// string by its position in the table (a uvarint, usually 1-3 bytes), and
// because the table is sorted, comparing two references compares the
// strings: the file's sort orders can be checked on numbers alone.
type symbolTable struct {
	strs []string
	refs map[string]uint32
}

// newSymbolTable sorts and deduplicates strs (which it takes over).
func newSymbolTable(strs []string) *symbolTable {
	slices.Sort(strs)
	strs = slices.Compact(strs)
	t := &symbolTable{strs: strs, refs: make(map[string]uint32, len(strs))}
	for i, s := range strs {
		t.refs[s] = uint32(i)
	}
	return t
}

// appendTo encodes the table: uvarint count, then per string uvarint length
// and bytes.
func (t *symbolTable) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.strs)))
	for _, s := range t.strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeSymbols reads a table and checks that its strings are strictly
// increasing (sorted and unique), which the rest of the decoder relies on.
func decodeSymbols(body []byte) ([]string, error) {
	d := decoder{b: body}
	n := d.count(1)
	strs := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s := string(d.bytes())
		if i > 0 && s <= strs[i-1] {
			return nil, fmt.Errorf("%w: symbol %d %q not after %q", ErrCorrupt, i, s, strs[i-1])
		}
		strs = append(strs, s)
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("symbols: %w", err)
	}
	return strs, nil
}

// decoder reads uvarints and byte strings from a section body, remembering
// the first error so that a loop can check once per item.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: offset %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	if d.off < len(d.b) && d.b[d.off] < 0x80 { // the common one-byte case, inline
		d.off++
		return uint64(d.b[d.off-1])
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

// count reads an item count and rejects one that the remaining bytes could
// not hold at minSize bytes an item, so a corrupt count cannot make the
// decoder allocate gigabytes.
func (d *decoder) count(minSize int) int {
	v := d.uvarint()
	if v > uint64(len(d.b)-d.off)/uint64(minSize) {
		d.fail("count %d too large for %d remaining bytes", v, len(d.b)-d.off)
		return 0
	}
	return int(v)
}

// bytes reads a uvarint length and that many bytes (aliasing the body).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d past the end", n)
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// end returns the first error, or an error if bytes are left over.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}
