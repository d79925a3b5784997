package index

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/RoaringBitmap/roaring/v2"
)

// The index file (README.md, "File format", documents it byte by byte):
//
//	header    "TSIX" version
//	symbols   body CRC      sorted distinct strings
//	postings  body CRC      per label pair in (name, value) order: name, value, roaring bitmap
//	series    body CRC      per series in ID order: ID gap, hash, pair references, payload
//	footer    section offsets and lengths, next ID, CRC, "TSIX"
//
// Everything an in-memory Index holds is in the file in the form it is held:
// pair references in the series section are positions in the postings
// section, and bitmaps are roaring's portable format, so opening is decoding,
// not re-indexing.
const (
	magic      = "TSIX"
	version    = 1
	headerSize = 5
	footerSize = 64
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PayloadFunc returns the opaque bytes stored with a series in the file (a
// later stage stores chunk references there); nil stores none.
type PayloadFunc func(id SeriesID) []byte

// WriteFile writes the index to path atomically: to a temporary file in the
// same directory, synced, then renamed over path.
func (ix *Index) WriteFile(path string, payload PayloadFunc) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = ix.WriteTo(f, payload); err != nil {
		return fmt.Errorf("index: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return nil
}

// fileWriter writes sections through a buffer, counting bytes and keeping
// the CRC-32C of the current section.
type fileWriter struct {
	w   *bufio.Writer
	n   int64
	crc uint32
	err error
}

func (fw *fileWriter) write(b []byte) {
	if fw.err != nil {
		return
	}
	var n int
	n, fw.err = fw.w.Write(b)
	fw.n += int64(n)
	fw.crc = crc32.Update(fw.crc, castagnoli, b)
}

// section writes the CRC of what was written since start and returns the
// section's offset and body length.
func (fw *fileWriter) section(start int64) [2]uint64 {
	crc := fw.crc
	fw.write(binary.LittleEndian.AppendUint32(nil, crc))
	fw.crc = 0
	return [2]uint64{uint64(start), uint64(fw.n - start - 4)}
}

// WriteTo writes the index file to w. Payloads come from payload, or, when it
// is nil, from the file the index was opened from (none for series added
// since). Writers wait while it runs; readers do not.
func (ix *Index) WriteTo(w io.Writer, payload PayloadFunc) (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if payload == nil {
		payload = ix.payload
	}

	// Symbols: every name and value.
	var strs []string
	for _, name := range ix.nameList {
		strs = append(strs, name)
		ix.names[name].values.each(func(r uint32) { strs = append(strs, ix.pairs.at(r).value) })
	}
	syms := newSymbolTable(strs)

	// File order of the pairs: by name, then value. fileRef maps a pair
	// reference in memory to its position in the file.
	fileRef := make([]uint32, ix.pairs.len())
	var order []uint32
	for _, name := range ix.nameList {
		for _, r := range ix.sortedRefs(ix.names[name]) {
			fileRef[r] = uint32(len(order))
			order = append(order, r)
		}
	}

	fw := &fileWriter{w: bufio.NewWriterSize(w, 1<<16)}
	fw.write(append([]byte(magic), version))
	fw.crc = 0

	start := fw.n
	fw.write(syms.appendTo(nil))
	symSec := fw.section(start)

	start = fw.n
	var b []byte
	b = binary.AppendUvarint(b[:0], uint64(len(order)))
	fw.write(b)
	for _, r := range order {
		p := ix.pairs.at(r)
		bm := p.clone()
		bm.RunOptimize()
		b = binary.AppendUvarint(b[:0], uint64(syms.refs[p.name.name]))
		b = binary.AppendUvarint(b, uint64(syms.refs[p.value]))
		b = binary.AppendUvarint(b, bm.GetSerializedSizeInBytes())
		fw.write(b)
		if fw.err == nil {
			b, fw.err = bm.ToBytes()
			fw.write(b)
		}
	}
	postSec := fw.section(start)

	start = fw.n
	b = binary.AppendUvarint(b[:0], ix.all.GetCardinality())
	fw.write(b)
	prev := int64(-1)
	it := ix.all.Iterator()
	for it.HasNext() && fw.err == nil {
		id := it.Next()
		b = binary.AppendUvarint(b[:0], uint64(int64(id)-prev-1))
		prev = int64(id)
		b = binary.LittleEndian.AppendUint64(b, ix.labels(id).Hash())
		refs := ix.series.get(id)
		b = binary.AppendUvarint(b, uint64(len(refs)))
		for _, r := range refs {
			b = binary.AppendUvarint(b, uint64(fileRef[r]))
		}
		pl := payload(id)
		b = binary.AppendUvarint(b, uint64(len(pl)))
		fw.write(b)
		fw.write(pl)
	}
	seriesSec := fw.section(start)

	var f []byte
	for _, s := range [][2]uint64{symSec, postSec, seriesSec} {
		f = binary.LittleEndian.AppendUint64(f, s[0])
		f = binary.LittleEndian.AppendUint64(f, s[1])
	}
	f = binary.LittleEndian.AppendUint64(f, ix.series.next)
	f = binary.LittleEndian.AppendUint32(f, crc32.Checksum(f, castagnoli))
	f = append(f, magic...)
	fw.write(f)
	if fw.err == nil {
		fw.err = fw.w.Flush()
	}
	return fw.n, fw.err
}

// Open reads an index file written by WriteFile.
func Open(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	ix, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("index: %s: %w", path, err)
	}
	return ix, nil
}

// Decode builds an Index from the bytes of an index file. Every error wraps
// ErrCorrupt; no input makes it panic. It checks the CRCs, the structure and
// the sort orders, and that the postings hold exactly as many entries as the
// series have labels, all of them live series; it trusts (the CRCs cover it)
// that each posting agrees with its series' labels, since checking that would
// cost as much as rebuilding the index. If the file has payloads, the index
// keeps a reference to data, which must then not be modified.
func Decode(data []byte) (ix *Index, err error) {
	defer func() {
		// Roaring's decoder is outside this package; a panic in it on input
		// that passed every check here is still a corrupt file to the caller.
		if r := recover(); r != nil {
			ix, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	if len(data) < headerSize+footerSize+12 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(data))
	}
	if string(data[:4]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, data[:4])
	}
	if data[4] != version {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, data[4])
	}
	foot := data[len(data)-footerSize:]
	if string(foot[60:]) != magic {
		return nil, fmt.Errorf("%w: bad footer magic %q", ErrCorrupt, foot[60:])
	}
	if got, want := crc32.Checksum(foot[:56], castagnoli), binary.LittleEndian.Uint32(foot[56:]); got != want {
		return nil, fmt.Errorf("%w: footer CRC %08x, want %08x", ErrCorrupt, got, want)
	}
	// The sections follow each other with no gap: check the footer agrees.
	var bodies [3][]byte
	names := [3]string{"symbols", "postings", "series"}
	next := uint64(headerSize)
	for i := range bodies {
		off, n := binary.LittleEndian.Uint64(foot[16*i:]), binary.LittleEndian.Uint64(foot[16*i+8:])
		if off != next || n > uint64(len(data)) || off+n+4 > uint64(len(data)-footerSize) {
			return nil, fmt.Errorf("%w: %s section at %d, %d bytes: out of place", ErrCorrupt, names[i], off, n)
		}
		body := data[off : off+n]
		if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[off+n:]); got != want {
			return nil, fmt.Errorf("%w: %s section CRC %08x, want %08x", ErrCorrupt, names[i], got, want)
		}
		bodies[i] = body
		next = off + n + 4
	}
	if next != uint64(len(data)-footerSize) {
		return nil, fmt.Errorf("%w: %d bytes between the sections and the footer", ErrCorrupt, uint64(len(data)-footerSize)-next)
	}
	nextID := binary.LittleEndian.Uint64(foot[48:])
	if nextID > math.MaxUint32+1 {
		return nil, fmt.Errorf("%w: next series ID %d out of range", ErrCorrupt, nextID)
	}

	syms, err := decodeSymbols(bodies[0])
	if err != nil {
		return nil, err
	}
	ix = New()
	postings, err := ix.decodePostings(bodies[1], syms, nextID)
	if err != nil {
		return nil, fmt.Errorf("postings: %w", err)
	}
	if err := ix.decodeSeries(bodies[2], nextID, postings); err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return ix, nil
}

// decodePostings fills the pair table and the label names, and returns the
// total number of postings entries.
func (ix *Index) decodePostings(body []byte, syms []string, nextID uint64) (uint64, error) {
	// One copy of the section for all bitmaps: roaring then reads them in
	// place (FromBuffer) and copies a container only if it is modified, and
	// the rest of the file can be freed.
	body = append([]byte(nil), body...)
	d := decoder{b: body}
	n := d.count(4)
	ix.pairs.reset(n)
	var total uint64
	var ln *labelName
	prevName, prevValue := uint64(0), uint64(0)
	for i := 0; i < n && d.err == nil; i++ {
		nameRef, valueRef, bmBytes := d.uvarint(), d.uvarint(), d.bytes()
		if d.err != nil {
			break
		}
		if nameRef >= uint64(len(syms)) || valueRef >= uint64(len(syms)) {
			return 0, fmt.Errorf("%w: pair %d: symbol reference out of range", ErrCorrupt, i)
		}
		name, value := syms[nameRef], syms[valueRef]
		if name == "" || value == "" {
			return 0, fmt.Errorf("%w: pair %d: empty name or value", ErrCorrupt, i)
		}
		if i > 0 && (nameRef < prevName || nameRef == prevName && valueRef <= prevValue) {
			return 0, fmt.Errorf("%w: pair %d %s=%q out of order", ErrCorrupt, i, name, value)
		}
		if ln == nil || ln.name != name {
			if ln != nil {
				ix.finishName(ln)
			}
			ln = &labelName{name: name}
			ix.names[name] = ln
			ix.nameList = append(ix.nameList, name)
		}
		prevName, prevValue = nameRef, valueRef
		if err := checkRoaring(bmBytes); err != nil {
			return 0, fmt.Errorf("%w: pair %d %s=%q: %v", ErrCorrupt, i, name, value, err)
		}
		bm := roaring.New()
		if used, err := bm.FromBuffer(bmBytes); err != nil || used != int64(len(bmBytes)) {
			return 0, fmt.Errorf("%w: pair %d %s=%q: bitmap of %d bytes: read %d: %v", ErrCorrupt, i, name, value, len(bmBytes), used, err)
		}
		if bm.IsEmpty() || uint64(bm.Maximum()) >= nextID {
			return 0, fmt.Errorf("%w: pair %d %s=%q: empty, or a series ID ≥ the next ID %d", ErrCorrupt, i, name, value, nextID)
		}
		n := bm.GetCardinality()
		total += n
		p := pair{name: ln, value: value, postings: bm}
		if n == 1 { // kept as a single ID, as Add keeps it
			p = pair{name: ln, value: value, one: bm.Minimum()}
		}
		ln.values.set(&ix.pairs, value, ix.pairs.add(p))
	}
	if ln != nil {
		ix.finishName(ln)
	}
	return total, d.end()
}

// finishName sets the sorted-values cache of a name read from a file: its
// pairs are consecutive and already in value order.
func (ix *Index) finishName(ln *labelName) {
	refs := make([]uint32, ln.values.len())
	first := uint32(ix.pairs.len() - len(refs))
	for i := range refs {
		refs[i] = first + uint32(i)
	}
	ln.sorted.Store(&refs)
}

// decodeSeries fills the series store, the hash map, the set of all series
// and the payloads, and checks them against the postings.
func (ix *Index) decodeSeries(body []byte, nextID uint64, postings uint64) error {
	d := decoder{b: body}
	n := d.count(12)
	hashes := make([]uint64, 0, n)
	ids := make([]uint32, 0, n)
	payloadOff := make([]uint32, 0, n)
	hasPayload := false
	var refs []uint32
	var labels uint64
	next := uint64(0) // lowest ID the next series may have
	for i := 0; i < n && d.err == nil; i++ {
		gap := d.uvarint()
		if gap >= nextID-next {
			d.fail("series %d: ID past the next ID %d", i, nextID)
			break
		}
		id := SeriesID(next + gap)
		next = uint64(id) + 1
		h := d.uint64()
		nl := d.count(1)
		if nl == 0 {
			d.fail("series %d: no labels", id)
		}
		refs = refs[:0]
		for j := 0; j < nl && d.err == nil; j++ {
			r := d.uvarint()
			if r >= uint64(ix.pairs.len()) {
				d.fail("series %d: pair reference %d out of range", id, r)
				break
			}
			// Pairs are sorted by name, then value; a series' labels by name
			// with no name twice, so its references strictly increase and
			// change name at each step.
			if j > 0 && (uint32(r) <= refs[j-1] || ix.pairs.at(uint32(r)).name == ix.pairs.at(refs[j-1]).name) {
				d.fail("series %d: labels out of order or repeated", id)
				break
			}
			refs = append(refs, uint32(r))
		}
		payloadOff = append(payloadOff, uint32(d.off))
		if p := d.bytes(); len(p) > 0 {
			hasPayload = true
		}
		if d.err != nil {
			break
		}
		labels += uint64(len(refs))
		ix.series.put(id, refs)
		hashes = append(hashes, h)
		ids = append(ids, id)
	}
	if err := d.end(); err != nil {
		return err
	}
	if labels != postings {
		return fmt.Errorf("%w: series have %d labels but postings hold %d entries", ErrCorrupt, labels, postings)
	}
	ix.all.AddMany(ids)
	for i := range ix.pairs.len() {
		if p := ix.pairs.at(uint32(i)); !p.within(ix.all) {
			return fmt.Errorf("%w: postings of %s=%q name a series not in the file", ErrCorrupt, p.name.name, p.value)
		}
	}
	ix.series.skipTo(nextID)
	ix.pendingHashes = hashes
	ix.pendingBytes = uint64(cap(hashes)) * 8
	ix.hashesPending.Store(true)
	if hasPayload {
		ix.payloadOff, ix.payloadBuf = payloadOff, body
		ix.payloadIDs = ix.all.Clone()
	}
	return nil
}

// Payload returns the payload stored with a series in the file the index was
// opened from; nil for series added since, or deleted, or without one. The
// slice aliases the file's bytes: do not modify it.
func (ix *Index) Payload(id SeriesID) []byte {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.all.Contains(id) {
		return nil
	}
	return ix.payload(id)
}

func (ix *Index) payload(id SeriesID) []byte {
	if ix.payloadIDs == nil || !ix.payloadIDs.Contains(id) {
		return nil
	}
	d := decoder{b: ix.payloadBuf, off: int(ix.payloadOff[ix.payloadIDs.Rank(id)-1])}
	return d.bytes()
}
