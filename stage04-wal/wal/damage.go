package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ProblemKind is the kind of damage Check found.
type ProblemKind int

const (
	// TornTail: the end of the newest segment is a write torn by a crash
	// (no intact record follows, and the log was not closed cleanly). Its
	// record was never acknowledged; Open cuts it off by itself.
	TornTail ProblemKind = iota
	// Corrupt: damaged bytes in a segment or checkpoint that a crash
	// cannot explain: intact records follow them, or the file was complete
	// (a closed segment, a checkpoint, a cleanly closed log).
	Corrupt
	// MissingSegment: a segment numbered between others is gone.
	MissingSegment
	// MissingCheckpoint: the log starts after segment 0 without the
	// checkpoint of the segments before it (Options.CheckpointRequired).
	MissingCheckpoint
	// CutShort: the newest segment is shorter than at the last clean
	// Close, or segments it had then are gone.
	CutShort
)

func (k ProblemKind) String() string {
	switch k {
	case TornTail:
		return "torn tail"
	case Corrupt:
		return "corrupt"
	case MissingSegment:
		return "missing segment"
	case MissingCheckpoint:
		return "missing checkpoint"
	case CutShort:
		return "cut short"
	}
	return fmt.Sprintf("ProblemKind(%d)", int(k))
}

// Problem is one damaged place of a log.
type Problem struct {
	Kind ProblemKind
	File string // 00000003 or checkpoint.00000002
	// Offset is where the damage starts in File; Bytes how many bytes
	// are damaged (what Repair cuts out) or, for CutShort, missing.
	Offset, Bytes int64
	// Records is how many records the damage cost, as far as can be
	// told: 1 for a record whose frame header survived, at least 1 for
	// any other damaged run of bytes, 0 for a torn tail (never
	// acknowledged) and for missing files (their size is unknown).
	Records int
	Reason  string
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s: %s", p.File, p.Kind)
	if p.Kind != MissingSegment && p.Kind != MissingCheckpoint {
		s += fmt.Sprintf(" at offset %d (%d bytes", p.Offset, p.Bytes)
		if p.Records > 0 {
			s += fmt.Sprintf(", %d record(s)", p.Records)
		}
		s += ")"
	}
	if p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}

// Report is what Check found in a log, and what Repair did about it.
type Report struct {
	Problems []Problem // in log order
	// Records is the number of intact records: all of them are kept.
	Records int
	// LostRecords sums the Problems' Records: a lower bound of what the
	// damage cost.
	LostRecords int
	// CutBytes is the number of damaged bytes Repair removes from files.
	CutBytes int64
	// Rewritten are the files Repair rewrites without their damaged
	// bytes; each original is kept beside it as NAME.damaged.
	Rewritten []string
	// Created are the empty files Repair writes in place of missing
	// ones, so that the intact files after them are replayed.
	Created []string
	// Repaired is true once Repair has made the changes.
	Repaired bool
}

// Damaged reports whether Check found anything beyond a torn tail: what
// Open refuses and Repair must be asked for.
func (r Report) Damaged() bool {
	for _, p := range r.Problems {
		if p.Kind != TornTail {
			return true
		}
	}
	return false
}

// String is one line per problem, then the Summary.
func (r Report) String() string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	b.WriteString(r.Summary())
	return b.String()
}

// Summary is one line: what was (or would be) kept, lost, cut, rewritten
// and created.
func (r Report) Summary() string {
	var b strings.Builder
	verb := "would keep"
	if r.Repaired {
		verb = "kept"
	}
	fmt.Fprintf(&b, "%s %d intact records; %d damaged record(s) lost (at least), %d bytes cut", verb, r.Records, r.LostRecords, r.CutBytes)
	if len(r.Rewritten) > 0 {
		fmt.Fprintf(&b, "; rewritten without the damage: %s", strings.Join(r.Rewritten, ", "))
	}
	if len(r.Created) > 0 {
		fmt.Fprintf(&b, "; written empty in place of missing files: %s", strings.Join(r.Created, ", "))
	}
	return b.String()
}

// DamagedSuffix is added to the name of a file Repair rewrote: the
// original, damage and all, for whoever wants to look at it.
const DamagedSuffix = ".damaged"

// Check reads the whole log in dir and reports every damaged place,
// changing nothing. Only Options.CheckpointRequired is used.
//
// The rule is the one the reader and Open follow: damage at the end of
// the newest segment of a log that was not closed cleanly, with no intact
// record after it, is a torn write (TornTail); any other damage is
// corruption of data that was once whole.
func Check(dir string, opts Options) (Report, error) {
	rep, _, err := check(dir, opts)
	return rep, err
}

// fileFix is what Repair does to one file: keep the spans of keep, cut the rest.
type fileFix struct {
	path string
	name string
	size int64
	keep [][2]int64 // [start, end) of intact bytes, in order
	tail bool       // only the end is cut and it is a torn tail
}

func check(dir string, opts Options) (Report, []fileFix, error) {
	var rep Report
	c, err := listDir(dir)
	if err != nil {
		return rep, nil, err
	}
	var fixes []fileFix
	var missing []string
	cp, hasCP := c.lastCheckpoint()
	var segs []int
	for _, s := range c.segments {
		if !hasCP || s > cp {
			segs = append(segs, s)
		}
	}
	if opts.CheckpointRequired && !hasCP && len(segs) > 0 && segs[0] > 0 {
		name := CheckpointName(segs[0] - 1)
		rep.Problems = append(rep.Problems, Problem{Kind: MissingCheckpoint, File: name,
			Reason: fmt.Sprintf("the log starts at segment %s; the series and samples of the segments before it are lost", SegmentName(segs[0]))})
		missing = append(missing, name)
	}
	prev := -1
	if hasCP {
		prev = cp
	}
	var files []logFile
	if hasCP {
		files = append(files, logFile{path: filepath.Join(dir, CheckpointName(cp)), index: cp, checkpoint: true})
	}
	for _, s := range segs {
		if prev >= 0 || hasCP {
			for m := prev + 1; m < s; m++ {
				rep.Problems = append(rep.Problems, Problem{Kind: MissingSegment, File: SegmentName(m), Reason: "its records are lost; the segments after it are intact"})
				missing = append(missing, SegmentName(m))
			}
		}
		files = append(files, logFile{path: filepath.Join(dir, SegmentName(s)), index: s})
		prev = s
	}
	closed := c.closed
	if closed != nil && len(segs) > 0 && closed.segment < segs[len(segs)-1] {
		closed = nil // older than the log: not ours to trust
	}
	if closed != nil && (len(segs) == 0 || closed.segment > segs[len(segs)-1]) {
		from := 0
		if len(segs) > 0 {
			from = segs[len(segs)-1] + 1
		}
		rep.Problems = append(rep.Problems, Problem{Kind: CutShort, File: SegmentName(closed.segment),
			Reason: fmt.Sprintf("segments %s to %s are gone; the log ended with %s (%d bytes) at its last clean shutdown", SegmentName(from), SegmentName(closed.segment), SegmentName(closed.segment), closed.size)})
		closed = nil
	}
	for i, f := range files {
		b, err := os.ReadFile(f.path)
		if err != nil {
			return rep, nil, fmt.Errorf("wal: %w", err)
		}
		newest := i == len(files)-1 && !f.checkpoint
		fx := fileFix{path: f.path, name: f.name(), size: int64(len(b))}
		n, regions := scanFile(b)
		rep.Records += n
		start := int64(0)
		for _, r := range regions {
			p := Problem{Kind: Corrupt, File: f.name(), Offset: r.off, Bytes: r.end - r.off, Records: r.records, Reason: r.reason}
			if r.end == int64(len(b)) && newest && closed == nil && !r.undecodable {
				p.Kind, p.Records = TornTail, 0
				fx.tail = len(regions) == 1
			}
			rep.Problems = append(rep.Problems, p)
			rep.LostRecords += p.Records
			rep.CutBytes += p.Bytes
			if r.off > start {
				fx.keep = append(fx.keep, [2]int64{start, r.off})
			}
			start = r.end
		}
		if start < int64(len(b)) {
			fx.keep = append(fx.keep, [2]int64{start, int64(len(b))})
		}
		if newest && closed != nil && closed.segment == f.index && closed.size != int64(len(b)) {
			p := Problem{Kind: CutShort, File: f.name(), Offset: int64(len(b)), Bytes: closed.size - int64(len(b)),
				Reason: fmt.Sprintf("%d bytes, %d at the last clean shutdown", len(b), closed.size)}
			if p.Bytes < 0 {
				p.Kind, p.Offset, p.Bytes = Corrupt, closed.size, -p.Bytes
				p.Reason = fmt.Sprintf("%d bytes, %d at the last clean shutdown: bytes were added after it", len(b), closed.size)
			}
			rep.Problems = append(rep.Problems, p)
		}
		if len(regions) > 0 {
			if !fx.tail {
				rep.Rewritten = append(rep.Rewritten, f.name())
			}
			fixes = append(fixes, fx)
		}
	}
	rep.Created = missing
	return rep, fixes, nil
}

// region is a damaged run of bytes [off, end) of a file.
type region struct {
	off, end    int64
	records     int
	reason      string
	undecodable bool // a whole frame that does not decompress: never a torn write
}

// scanFile walks the frames of a whole file and returns the number of
// intact records and the damaged regions. After damage it resumes at the
// next intact record (resync); a record whose header survived is skipped
// by its length when an intact record follows it.
func scanFile(b []byte) (int, []region) {
	var regions []region
	n, off := 0, 0
	var scratch []byte
	for off < len(b) {
		rec, size, st := parseFrame(b[off:])
		if st == frameOK && compressed(rec) {
			var err error
			if _, scratch, err = decompress(rec, scratch); err != nil {
				// Checksum intact, contents not a record: cut out
				// this frame alone (its length is trustworthy).
				regions = append(regions, region{off: int64(off), end: int64(off + size), records: 1, reason: err.Error(), undecodable: true})
				off += size
				continue
			}
		}
		if st == frameOK {
			n++
			off += size
			continue
		}
		r := region{off: int64(off), end: int64(len(b)), records: 1, reason: st.String()}
		if next, ok := resync(b, off+1); ok {
			r.end = int64(next)
		}
		regions = append(regions, r)
		off = int(r.end)
	}
	return n, regions
}

// Repair makes the log in dir replayable again without giving up any
// intact record, and reports what it did (Check's report, Repaired set):
//
//   - damaged bytes are cut out of the file they are in: a torn tail is
//     truncated; any other damaged file is rewritten with its intact
//     records only (the original kept as NAME.damaged), and every file
//     after it is left as it is;
//   - a missing segment is written as an empty one, a missing checkpoint
//     as an empty checkpoint, so the files after them replay;
//   - the clean-shutdown marker is removed once the rest is done.
//
// Records lost to the damage stay lost: a sample whose series record was
// in them can no longer be placed (the caller, replaying, sees an unknown
// series ref). Repair must not run while a WAL is open on dir.
func Repair(dir string, opts Options) (Report, error) {
	rep, fixes, err := check(dir, opts)
	if err != nil {
		return rep, err
	}
	for _, fx := range fixes {
		if err := fx.apply(); err != nil {
			return rep, err
		}
	}
	for _, name := range rep.Created {
		if err := createEmpty(filepath.Join(dir, name)); err != nil {
			return rep, err
		}
	}
	if len(rep.Problems) > 0 {
		if err := removeClosedMarker(dir); err != nil {
			return rep, err
		}
		if err := SyncDir(dir); err != nil {
			return rep, err
		}
	}
	rep.Repaired = true
	return rep, nil
}

// apply cuts the damage out of one file. A torn tail is truncated in
// place; otherwise the intact spans go to NAME.tmp, which replaces the
// file after the original is linked to NAME.damaged: a crash at any point
// leaves either the old file or the new one under the name.
func (fx fileFix) apply() error {
	if fx.tail {
		end := int64(0)
		if len(fx.keep) > 0 {
			end = fx.keep[len(fx.keep)-1][1]
		}
		if err := truncateFile(fx.path, end); err != nil {
			return fmt.Errorf("wal: repair %s: %w", fx.name, err)
		}
		return nil
	}
	src, err := os.ReadFile(fx.path)
	if err != nil {
		return fmt.Errorf("wal: repair %s: %w", fx.name, err)
	}
	var out []byte
	for _, k := range fx.keep {
		out = append(out, src[k[0]:k[1]]...)
	}
	tmp := fx.path + tmpSuffix
	if err := writeFileSync(tmp, out); err != nil {
		return fmt.Errorf("wal: repair %s: %w", fx.name, err)
	}
	keep := fx.path + DamagedSuffix
	if err := os.Remove(keep); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("wal: repair %s: %w", fx.name, err)
	}
	if err := os.Link(fx.path, keep); err != nil {
		return fmt.Errorf("wal: repair %s: keep the original: %w", fx.name, err)
	}
	if err := os.Rename(tmp, fx.path); err != nil {
		return fmt.Errorf("wal: repair %s: %w", fx.name, err)
	}
	return nil
}

// createEmpty writes an empty file durably (the caller syncs the directory).
func createEmpty(path string) error { return writeFileSync(path, nil) }

// writeFileSync writes a file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkCheckpoint reports a log that has lost its checkpoint (see
// Options.CheckpointRequired) as a *CorruptionError.
func (c dirContents) checkCheckpoint(required bool) error {
	if _, ok := c.lastCheckpoint(); ok || !required || len(c.segments) == 0 || c.segments[0] == 0 {
		return nil
	}
	first := c.segments[0]
	return &CorruptionError{Segment: first - 1, Checkpoint: true,
		Reason: fmt.Sprintf("checkpoint missing: the log starts at segment %s, and the checkpoint of the segments before it is not there", SegmentName(first))}
}

// checkClosed compares the log with what its clean-shutdown marker says.
// A marker older than the newest segment is dropped from c (it cannot be
// ours); the caller then treats the log as one that was not closed cleanly.
func (c *dirContents) checkClosed(dir string) error {
	m := c.closed
	if m == nil {
		return nil
	}
	last := -1
	if n := len(c.segments); n > 0 {
		last = c.segments[n-1]
	}
	switch {
	case m.segment < last:
		c.closed = nil
		return nil
	case m.segment > last:
		return &CorruptionError{Segment: last + 1, Reason: fmt.Sprintf("segments %s to %s missing: the log ended with %s at its last clean shutdown", SegmentName(last+1), SegmentName(m.segment), SegmentName(m.segment))}
	}
	fi, err := os.Stat(segmentPath(dir, last))
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	if fi.Size() != m.size {
		return &CorruptionError{Segment: last, Offset: min(fi.Size(), m.size), Reason: fmt.Sprintf("cut short or grown: %d bytes, %d at the last clean shutdown", fi.Size(), m.size)}
	}
	return nil
}
