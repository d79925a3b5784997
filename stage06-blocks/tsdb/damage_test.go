package tsdb

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// damageFixture is a closed data directory with every kind of file: 20
// series of 1-minute samples over 7 h, two blocks [0, 2h) and [2h, 4h), a
// head [4h, 7h) whose full chunks are in chunks_head, and a WAL that starts
// with a checkpoint (of the head's series and samples up to 6 h) followed
// by 2 KiB segments (the last hour).
type damageFixture struct {
	dir    string
	o      oracle
	opts   Options
	blocks []string // block directories, oldest first
	segs   []string // WAL segment paths, oldest first
	cp     string   // the WAL checkpoint's path
	hc     []string // head-chunks file names, oldest first (those of truncated ranges are gone)
}

const damageSeries, damageEnd = 20, 7 * Hour

func buildDamageFixture(t *testing.T) damageFixture {
	t.Helper()
	f := damageFixture{dir: t.TempDir(), o: oracle{}, opts: testOpts()}
	f.opts.WALSegmentSize = 1 << 9 // dense samples records: ≥ 4 segments after the checkpoint
	db := openDB(t, f.dir, f.opts)
	ingest(t, db, f.o, damageSeries, 0, Minute, int(6*Hour/Minute))
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, f.o, damageSeries, 6*Hour, Minute, int(Hour/Minute))
	for _, b := range db.Blocks() {
		f.blocks = append(f.blocks, b.Dir)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.blocks) != 2 {
		t.Fatalf("fixture: %d blocks", len(f.blocks))
	}
	walDir := filepath.Join(f.dir, WALDirname)
	ents, _ := os.ReadDir(walDir)
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "checkpoint."):
			f.cp = filepath.Join(walDir, e.Name())
		case len(e.Name()) == 8:
			f.segs = append(f.segs, filepath.Join(walDir, e.Name()))
		}
	}
	hc, _ := os.ReadDir(filepath.Join(f.dir, HeadChunksDirname))
	for _, e := range hc {
		f.hc = append(f.hc, e.Name())
	}
	if f.cp == "" || len(f.segs) < 4 || len(hc) == 0 {
		t.Fatalf("fixture: checkpoint %q, %d segments, %d head-chunks files", f.cp, len(f.segs), len(hc))
	}
	return f
}

// clone copies the fixture into a new directory.
func (f damageFixture) clone(t *testing.T) damageFixture {
	t.Helper()
	g := f
	g.dir = t.TempDir()
	if err := os.CopyFS(g.dir, os.DirFS(f.dir)); err != nil {
		t.Fatal(err)
	}
	re := func(p string) string { return filepath.Join(g.dir, strings.TrimPrefix(p, f.dir)) }
	g.blocks, g.segs, g.cp = nil, nil, re(f.cp)
	for _, b := range f.blocks {
		g.blocks = append(g.blocks, re(b))
	}
	for _, s := range f.segs {
		g.segs = append(g.segs, re(s))
	}
	return g
}

// dirState is every file under dir with a checksum of its bytes.
func dirState(t *testing.T, dir string) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[strings.TrimPrefix(p, dir)] = crc32.ChecksumIEEE(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// walTimes returns the timestamps of the samples in the records of a WAL
// file (segment or checkpoint) whose frames overlap bytes [from, to): what
// damage to those bytes can cost. It reads a copy with the WAL's reader.
func walTimes(t *testing.T, path string, from, to int64) map[int64]bool {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, wal.SegmentName(0)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := wal.NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[int64]bool{}
	for r.Next() {
		rec := r.Record()
		_, _, off := r.Position()
		if off >= to || off+int64(len(rec))+8 <= from || (wal.Type(rec) != wal.RecordSamples && wal.Type(rec) != wal.RecordDenseSamples) {
			continue
		}
		ss, err := wal.DecodeSamples(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			out[s.T] = true
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lost checks what db serves against the oracle: every sample served is
// the oracle's, and every sample missing has a timestamp for which may
// says it may be lost. It returns the timestamps missing.
func lost(t *testing.T, db *DB, o oracle, may func(ts int64) bool) map[int64]bool {
	t.Helper()
	got := collect(t, db, math.MinInt64, math.MaxInt64)
	want := o.expect(math.MinInt64, math.MaxInt64, nil)
	missing := map[int64]bool{}
	for name, ws := range want {
		gs := got[name]
		i := 0
		for _, w := range ws {
			if i < len(gs) && gs[i].T == w.T {
				if gs[i].V != w.V {
					t.Fatalf("%s at %d: %v, want %v", name, w.T, gs[i].V, w.V)
				}
				i++
				continue
			}
			if !may(w.T) {
				t.Fatalf("%s: the sample at %d (%.1f h) is lost", name, w.T, float64(w.T)/float64(Hour))
			}
			missing[w.T] = true
		}
		if i != len(gs) {
			t.Fatalf("%s: %d samples served that were never written", name, len(gs)-i)
		}
	}
	for name := range got {
		if want[name] == nil {
			t.Fatalf("series %s served, never written", name)
		}
	}
	return missing
}

func warnings(t *testing.T, db *DB, mint, maxt int64) []string {
	t.Helper()
	q, err := db.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	collectQ(t, q)
	return q.Warnings()
}

func editFile(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func none(int64) bool { return false }

// TestDamageTable damages each file of a data directory in turn, in the
// style of Prometheus's TestWALRepair_ReadingError, and states what Open
// must do: open and serve everything that is intact (naming what it left
// out, and warning the queries it concerns), or refuse, naming the damage
// and changing nothing, after which Repair loses no more than the damaged
// bytes held. The outcome of each case is worked out from the fixture's
// layout, and what damage may cost from the damaged bytes themselves
// (walTimes), never from the code under test.
func TestDamageTable(t *testing.T) {
	base := buildDamageFixture(t)
	crash := func(t *testing.T, f damageFixture) { // as after kill -9: no clean-shutdown marker
		if err := os.Remove(filepath.Join(f.dir, WALDirname, wal.ClosedMarkerName)); err != nil {
			t.Fatal(err)
		}
	}
	inBlock := func(i int) func(int64) bool {
		return func(ts int64) bool { return ts >= int64(i)*2*Hour && ts < int64(i+1)*2*Hour }
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, f damageFixture) (may func(int64) bool)
		// refuse: Open fails with ErrDamaged, its message contains
		// these, and the directory is unchanged; then Open with Repair.
		refuse []string
		check  func(t *testing.T, f damageFixture, db *DB, may func(int64) bool)
	}{
		{name: "intact", damage: func(*testing.T, damageFixture) func(int64) bool { return none },
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				if len(lost(t, db, f.o, may)) != 0 || len(db.Damage()) != 0 || len(warnings(t, db, 0, damageEnd)) != 0 {
					t.Fatal("intact data directory reported damaged")
				}
			}},
		{name: "wal: newest segment torn by a crash",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				crash(t, f)
				editFile(t, f.segs[len(f.segs)-1], func(b []byte) []byte { return append(b, 0x30, 0, 0, 0, 1, 2, 3, 4, 1, 9) })
				return none // the torn record was never acknowledged
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				if tr := db.Recovery().WALTruncated; tr == nil || tr.Bytes != 10 {
					t.Fatalf("WALTruncated = %+v", tr)
				}
			}},
		{name: "wal: bit flip in a middle segment",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				s := f.segs[1]
				fi, _ := os.Stat(s)
				ts := walTimes(t, s, fi.Size()/2, fi.Size()/2+1)
				editFile(t, s, func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b })
				return func(t int64) bool { return ts[t] }
			},
			refuse: []string{"wal/" + "SEG1", "corrupt", "checksum mismatch"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				rep := db.Recovery().Repaired.WAL
				if rep.LostRecords != 1 || len(rep.Rewritten) != 1 {
					t.Fatalf("repair: %s", rep.String())
				}
				for _, s := range f.segs {
					if _, err := os.Stat(s); err != nil {
						t.Fatalf("segment removed by the repair: %v", err)
					}
				}
			}},
		{name: "wal: oldest segment zeroed",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				ts := walTimes(t, f.segs[0], 0, math.MaxInt64)
				editFile(t, f.segs[0], func(b []byte) []byte { clear(b); return b })
				return func(t int64) bool { return ts[t] }
			},
			refuse: []string{"wal/SEG0", "corrupt"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
			}},
		{name: "wal: middle segment deleted",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				ts := walTimes(t, f.segs[2], 0, math.MaxInt64)
				if err := os.Remove(f.segs[2]); err != nil {
					t.Fatal(err)
				}
				return func(t int64) bool { return ts[t] }
			},
			refuse: []string{"wal/SEG2", "missing segment"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
			}},
		{name: "wal: newest segment cut in half after a clean shutdown",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				s := f.segs[len(f.segs)-1]
				fi, _ := os.Stat(s)
				ts := walTimes(t, s, fi.Size()/2, math.MaxInt64)
				editFile(t, s, func(b []byte) []byte { return b[:len(b)/2] })
				return func(t int64) bool { return ts[t] }
			},
			refuse: []string{"wal/SEGN", "cut short"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				if len(lost(t, db, f.o, may)) == 0 {
					t.Fatal("the cut-off half held samples only the WAL had; none is reported lost")
				}
			}},
		{name: "wal: checkpoint deleted",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				if err := os.Remove(f.cp); err != nil {
					t.Fatal(err)
				}
				// The checkpoint held the head's series records: without
				// them no head sample can be placed.
				return func(t int64) bool { return t >= 4*Hour }
			},
			refuse: []string{"missing checkpoint"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				if db.Recovery().UnknownRefs == 0 {
					t.Fatal("samples of series the checkpoint defined are not reported (UnknownRefs)")
				}
			}},
		{name: "wal: 64 bytes flipped in the checkpoint",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				fi, _ := os.Stat(f.cp)
				at := fi.Size() * 3 / 4
				ts := walTimes(t, f.cp, at, at+64)
				editFile(t, f.cp, func(b []byte) []byte {
					for i := at; i < at+64; i++ {
						b[i] ^= 0xff
					}
					return b
				})
				return func(t int64) bool { return ts[t] }
			},
			refuse: []string{"wal/checkpoint.", "corrupt"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				for _, s := range f.segs {
					if _, err := os.Stat(s); err != nil {
						t.Fatalf("segment after the checkpoint removed: %v", err)
					}
				}
			}},
		{name: "wal: head chunks file damaged",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.dir, HeadChunksDirname, f.hc[0]), func(b []byte) []byte {
					for i := 100; i < 108; i++ {
						b[i] ^= 0xff
					}
					return b
				})
				return none // the WAL holds every sample of the head chunks
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				if db.Recovery().HeadChunksErr == nil {
					t.Fatal("HeadChunksErr not set")
				}
			}},
		{name: "block: meta.json claims a later maxTime",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[1], block.MetaFilename), func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"maxTime": 14400000`), []byte(`"maxTime": 28800000`), 1)
				})
				// Repair moves the block aside; its samples may still be in
				// chunks_head, which the head then maps again.
				return inBlock(1)
			},
			refuse: []string{"block BLOCK1 [7200000, 28800000): meta.json disagrees with the block: checksum"},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				assertMovedAside(t, f, db, 1)
			}},
		{name: "block: index bytes flipped",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[0], block.IndexFilename), func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
				return inBlock(0)
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				assertMovedAside(t, f, db, 0)
			}},
		{name: "block: 4 bytes flipped in tombstones",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[1], block.TombstonesFilename), func(b []byte) []byte {
					for i := 0; i < 4; i++ {
						b[len(b)-1-i] ^= 0x01
					}
					return b
				})
				return inBlock(1)
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				d := assertMovedAside(t, f, db, 1)
				if !strings.Contains(d.Reason, "tombstones") {
					t.Fatalf("reason %q does not name the tombstones", d.Reason)
				}
			}},
		{name: "block: meta.json unreadable",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[0], block.MetaFilename), func(b []byte) []byte { return b[:len(b)/2] })
				return inBlock(0)
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				assertMovedAside(t, f, db, 0)
				// Its time range is unknown: every query is warned.
				if w := warnings(t, db, 5*Hour, 6*Hour); len(w) != 1 {
					t.Fatalf("warnings %v", w)
				}
			}},
		{name: "block: chunk file deleted",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				if err := os.Remove(filepath.Join(f.blocks[1], block.ChunksDirname, chunks.SegmentName(1))); err != nil {
					t.Fatal(err)
				}
				return inBlock(1)
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				lost(t, db, f.o, may)
				assertMovedAside(t, f, db, 1)
			}},
		{name: "block: chunk bytes flipped (found on first read)",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[0], block.ChunksDirname, chunks.SegmentName(1)), func(b []byte) []byte {
					b[len(b)/2] ^= 0xff
					return b
				})
				return inBlock(0) // a chunk of one series: found by the checksum, left out
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				if len(db.Damage()) != 0 {
					t.Fatal("chunk damage reported before any read")
				}
				missing := lost(t, db, f.o, may)
				if len(missing) == 0 || len(missing) > SamplesPerChunk {
					t.Fatalf("%d timestamps missing, want those of one chunk", len(missing))
				}
				d := db.Damage()
				if len(d) != 1 || d[0].Moved || d[0].Chunks == 0 || d[0].ULID != filepath.Base(f.blocks[0]) || !strings.Contains(d[0].Reason, "checksum") {
					t.Fatalf("Damage() = %+v", d)
				}
				if w := warnings(t, db, 0, Hour); len(w) != 1 || !strings.Contains(w[0], d[0].ULID) {
					t.Fatalf("warnings %v", w)
				}
				if w := warnings(t, db, 5*Hour, 6*Hour); len(w) != 0 {
					t.Fatalf("a query away from the block is warned: %v", w)
				}
				// Compaction goes on around the block and never deletes it.
				ingest(t, db, nil, damageSeries, damageEnd, Minute, int(4*Hour/Minute))
				if err := db.Compact(); err != nil {
					t.Fatalf("compaction stopped by the damaged block: %v", err)
				}
				if _, err := os.Stat(f.blocks[0]); err != nil || !slices.ContainsFunc(db.Blocks(), func(b BlockInfo) bool { return b.Dir == f.blocks[0] }) {
					t.Fatalf("the damaged block is gone: %v", err)
				}
				// The blocks after it were merged (level 2) without it.
				merged := false
				for _, b := range db.Blocks() {
					merged = merged || (b.Compaction.Level == 2 && b.MinTime == 2*Hour)
				}
				if !merged {
					t.Fatalf("the blocks beside the damaged one were not compacted: %+v", db.Blocks())
				}
			}},
		{name: "block: chunk bytes flipped in a block with tombstones",
			damage: func(t *testing.T, f damageFixture) func(int64) bool {
				editFile(t, filepath.Join(f.blocks[0], block.ChunksDirname, chunks.SegmentName(1)), func(b []byte) []byte {
					b[len(b)/2] ^= 0xff
					return b
				})
				return inBlock(0)
			},
			check: func(t *testing.T, f damageFixture, db *DB, may func(int64) bool) {
				// A deletion makes compaction rewrite the block, merging
				// its chunks one by one: the damaged one reads as empty
				// there too, and the rewrite must then not replace the block.
				if err := db.Delete(0, Minute, index.MustNewMatcher(index.MatchEqual, "__name__", "m")); err != nil {
					t.Fatal(err)
				}
				f.o.del(0, Minute, func(string) bool { return true })
				if err := db.Compact(); err != nil {
					t.Fatalf("compaction stopped by the damaged block: %v", err)
				}
				if d := db.Damage(); len(d) != 1 || d[0].ULID != filepath.Base(f.blocks[0]) {
					t.Fatalf("Damage() = %+v", d)
				}
				if !slices.ContainsFunc(db.Blocks(), func(b BlockInfo) bool { return b.Dir == f.blocks[0] }) {
					t.Fatal("the damaged block was replaced by a rewrite without its damaged chunk")
				}
				lost(t, db, f.o, may)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base.clone(t)
			may := tc.damage(t, f)
			if tc.refuse != nil {
				before := dirState(t, f.dir)
				_, err := Open(f.dir, f.opts)
				var de *DamageError
				if !errors.Is(err, ErrDamaged) || !errors.As(err, &de) {
					t.Fatalf("Open: %v, want ErrDamaged", err)
				}
				for _, s := range tc.refuse {
					s = strings.NewReplacer("SEG0", filepath.Base(f.segs[0]), "SEG1", filepath.Base(f.segs[1]), "SEG2", filepath.Base(f.segs[2]),
						"SEGN", filepath.Base(f.segs[len(f.segs)-1]), "BLOCK1", filepath.Base(f.blocks[1])).Replace(s)
					if !strings.Contains(err.Error(), s) {
						t.Errorf("the refusal does not say %q:\n%v", s, err)
					}
				}
				if after := dirState(t, f.dir); !mapsEqualU(before, after) {
					t.Fatalf("a refused Open changed the directory")
				}
				check, err := Check(f.dir, f.opts)
				if err != nil || !check.Refused {
					t.Fatalf("Check: %v refused=%v", err, check.Refused)
				}
				if after := dirState(t, f.dir); !mapsEqualU(before, after) {
					t.Fatalf("Check changed the directory")
				}
				f.opts.Repair = true
			}
			db := openDB(t, f.dir, f.opts)
			defer db.Close()
			if tc.refuse != nil && db.Recovery().Repaired == nil {
				t.Fatal("Recovery().Repaired not set")
			}
			tc.check(t, f, db, may)
			// The data directory is whole again: a second Open neither
			// refuses nor repairs.
			f.opts.Repair = false
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db2 := openDB(t, f.dir, f.opts)
			if r := db2.Recovery(); r.WALTruncated != nil || r.Repaired != nil {
				t.Fatalf("second Open found more to do: %+v", r)
			}
			db2.Close()
		})
	}
}

// assertMovedAside checks that block i was moved into dir/corrupted, is
// named with its range in Recovery and Damage, is not served, and that
// queries over its range (and only those) are warned.
func assertMovedAside(t *testing.T, f damageFixture, db *DB, i int) BlockDamage {
	t.Helper()
	id := filepath.Base(f.blocks[i])
	moved := filepath.Join(f.dir, CorruptedDirname, id)
	if _, err := os.Stat(filepath.Join(moved, block.IndexFilename)); err != nil {
		t.Fatalf("the damaged block is not in corrupted/: %v", err)
	}
	if _, err := os.Stat(f.blocks[i]); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the damaged block is still in place: %v", err)
	}
	d := db.Damage()
	if len(d) != 1 || d[0].ULID != id || !d[0].Moved || d[0].Dir != moved || d[0].Reason == "" {
		t.Fatalf("Damage() = %+v", d)
	}
	if r := db.Recovery(); len(r.Damaged) != 1 || r.Damaged[0].ULID != id {
		t.Fatalf("Recovery().Damaged = %+v", r.Damaged)
	}
	if w := warnings(t, db, int64(i)*2*Hour, int64(i)*2*Hour+Minute); len(w) != 1 || !strings.Contains(w[0], id) {
		t.Fatalf("warnings over the block: %v", w)
	}
	if d[0].MaxTime != 0 {
		if w := warnings(t, db, 4*Hour+d[0].MaxTime, 4*Hour+d[0].MaxTime+Minute); len(w) != 0 {
			t.Fatalf("a query away from the block is warned: %v", w)
		}
	}
	return d[0]
}

func mapsEqualU(a, b map[string]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
