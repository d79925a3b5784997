package block

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// testSeries is what writeTestBlock stores: series i has chunks of 10
// samples at t = 1000·k, value i·100 + k.
type testSeries struct {
	lset   model.Labels
	chunks [][]model.Sample
}

func testData(nSeries, nChunks int) []testSeries {
	var out []testSeries
	for i := range nSeries {
		s := testSeries{lset: model.MustFromStrings(model.MetricName, "m", "i", fmt.Sprintf("%03d", i), "job", fmt.Sprint("j", i%2))}
		for c := range nChunks {
			var ss []model.Sample
			for k := c * 10; k < c*10+10; k++ {
				ss = append(ss, model.Sample{T: int64(k) * 1000, V: float64(i*100 + k)})
			}
			s.chunks = append(s.chunks, ss)
		}
		out = append(out, s)
	}
	return out
}

func encode(t testing.TB, ss []model.Sample) ChunkData {
	c, err := gorilla.NewChunk(gorilla.XOR)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Appender()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if err := a.Append(s.T, s.V); err != nil {
			t.Fatal(err)
		}
	}
	return ChunkData{MinT: ss[0].T, MaxT: ss[len(ss)-1].T, Data: c.Bytes(), Samples: len(ss)}
}

func writeTestBlock(t testing.TB, parent string, data []testSeries, segSize int64) Meta {
	t.Helper()
	w, err := NewWriter(parent, segSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range data {
		var cs []ChunkData
		for _, c := range s.chunks {
			cs = append(cs, encode(t, c))
		}
		if err := w.AddSeries(s.lset, cs); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(0, 1_000_000, 1, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readAll returns every series of an open block with its samples, checking
// chunk CRCs and decoding.
func readAll(b *Block) (map[string][]model.Sample, error) {
	out := map[string][]model.Sample{}
	var metas []chunks.Meta
	var err error
	b.Index().All().Iterate(func(id uint32) bool {
		ls, ok := b.Labels(id)
		if !ok {
			err = fmt.Errorf("series %d has no labels", id)
			return false
		}
		if metas, err = b.Chunks(id, metas); err != nil {
			return false
		}
		for _, m := range metas {
			var d []byte
			if d, err = b.Chunk(m.Ref); err != nil {
				return false
			}
			var ts []int64
			var vs []float64
			if ts, vs, err = gorilla.DecodeAll(d, nil, nil); err != nil {
				return false
			}
			for i := range ts {
				out[ls.String()] = append(out[ls.String()], model.Sample{T: ts[i], V: vs[i]})
			}
		}
		return true
	})
	return out, err
}

// TestBlockRoundTrip: a block written and reopened has the meta that was
// written (meta.json round trip), every series with its samples, and
// chunks spread over several segments when the segment size is small.
func TestBlockRoundTrip(t *testing.T) {
	parent := t.TempDir()
	data := testData(40, 5)
	m := writeTestBlock(t, parent, data, 2048)
	dir := filepath.Join(parent, m.ULID.String())
	if _, err := os.Stat(dir + TmpSuffix); !os.IsNotExist(err) {
		t.Fatalf("temp dir left: %v", err)
	}
	got, err := ReadMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("meta.json round trip:\n got %+v\nwant %+v", got, m)
	}
	want := Stats{NumSamples: 40 * 5 * 10, NumSeries: 40, NumChunks: 40 * 5}
	if m.Stats != want || m.Compaction.Level != 1 || !slices.Equal(m.Compaction.Sources, []ulid.ULID{m.ULID}) || m.Version != 1 {
		t.Fatalf("meta %+v", m)
	}
	segs, _ := os.ReadDir(filepath.Join(dir, ChunksDirname))
	if len(segs) < 3 {
		t.Fatalf("%d segments with a 2 KiB limit", len(segs))
	}
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	all, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(data) {
		t.Fatalf("%d series, want %d", len(all), len(data))
	}
	for i, s := range data {
		if ls, _ := b.Labels(uint32(i)); ls.String() != s.lset.String() {
			t.Fatalf("series ID %d is %s, want %s (IDs in label order)", i, ls, s.lset)
		}
		want := slices.Concat(s.chunks...)
		if !slices.Equal(all[s.lset.String()], want) {
			t.Fatalf("%s: samples differ", s.lset)
		}
	}
	ids := b.Index().Select(index.MustNewMatcher(index.MatchEqual, "job", "j1")).ToArray()
	if len(ids) != 20 {
		t.Fatalf("job=j1 selects %d series", len(ids))
	}
	// Delete, reopen: the tombstones persist; Size grows with them.
	if err := b.Delete(ids[:3], 5000, 15000); err != nil {
		t.Fatal(err)
	}
	b2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ts := b2.Tombstones()
	if len(ts) != 3 || !slices.Equal(ts[ids[0]], Intervals{{5000, 15000}}) {
		t.Fatalf("tombstones after reopen: %v", ts)
	}
}

func TestWriterRejects(t *testing.T) {
	parent := t.TempDir()
	w, err := NewWriter(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := testData(2, 1)
	if err := w.AddSeries(d[1].lset, []ChunkData{encode(t, d[1].chunks[0])}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddSeries(d[0].lset, []ChunkData{encode(t, d[0].chunks[0])}); err == nil {
		t.Fatal("series out of label order accepted")
	}
	if _, err := w.Finish(0, 5000, 1, nil, nil); err == nil {
		t.Fatal("block range not covering its samples accepted")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Fatalf("failed Finish left %d entries", len(ents))
	}
}

func TestReadMetaRejects(t *testing.T) {
	id := NewULID()
	good := Meta{ULID: id, MinTime: 0, MaxTime: 10, Version: 1, Compaction: Compaction{Level: 1, Sources: []ulid.ULID{id}}}
	for name, edit := range map[string]func(m *Meta) string{
		"version":    func(m *Meta) string { m.Version = 2; return "" },
		"range":      func(m *Meta) string { m.MaxTime = m.MinTime; return "" },
		"other-ulid": func(m *Meta) string { m.ULID = NewULID(); return "" },
		"not-json":   func(m *Meta) string { return "{\"ulid\": " },
		"bad-ulid":   func(m *Meta) string { return `{"ulid": "xyz", "version": 1}` },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), id.String())
			os.Mkdir(dir, 0o755)
			m := good
			raw := edit(&m)
			if raw == "" {
				b, _ := json.Marshal(m)
				raw = string(b)
			}
			os.WriteFile(filepath.Join(dir, MetaFilename), []byte(raw), 0o644)
			if _, err := ReadMeta(dir); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt", err)
			}
		})
	}
	dir := filepath.Join(t.TempDir(), id.String())
	os.Mkdir(dir, 0o755)
	if err := writeMeta(dir, good); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadMeta(dir); err != nil || !reflect.DeepEqual(got, good) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	// An edit that leaves valid JSON (a later maxTime) fails the checksum.
	path := filepath.Join(dir, MetaFilename)
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(`"checksum": "crc32c:`)) {
		t.Fatalf("meta.json has no checksum:\n%s", b)
	}
	os.WriteFile(path, bytes.Replace(b, []byte(`"maxTime": 10`), []byte(`"maxTime": 20`), 1), 0o644)
	if _, err := ReadMeta(dir); !errors.Is(err, ErrMetaMismatch) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("edited meta.json: %v, want ErrMetaMismatch", err)
	}
}

// TestOpenMissingFile: a block with any of its files gone is damaged
// (ErrCorrupt), found by Open, never by a later read: the chunk references
// of the index are checked against the segment files that exist.
func TestOpenMissingFile(t *testing.T) {
	src := t.TempDir()
	m := writeTestBlock(t, src, testData(6, 3), 250)
	segs, _ := os.ReadDir(filepath.Join(src, m.ULID.String(), ChunksDirname))
	last := ChunksDirname + "/" + segs[len(segs)-1].Name() // no gap in the numbering: only the references tell
	for _, name := range append(slices.Clone(damageFiles), last) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), m.ULID.String())
			if err := os.CopyFS(dir, os.DirFS(filepath.Join(src, m.ULID.String()))); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			if b, err := Open(dir); !errors.Is(err, ErrCorrupt) {
				if err == nil {
					b.Close()
				}
				t.Fatalf("Open without %s: %v, want ErrCorrupt", name, err)
			}
		})
	}
}

// damageFiles are the files of a test block a corruption may hit.
var damageFiles = []string{MetaFilename, IndexFilename, TombstonesFilename, ChunksDirname + "/" + chunks.SegmentName(1), ChunksDirname + "/" + chunks.SegmentName(2)}

// FuzzOpenCorrupt damages one file of a valid block (flips bits at an
// offset, or truncates it) and opens it: Open must fail with an error
// wrapping ErrCorrupt or succeed, never panic; a block that opens must read
// every chunk either correctly or with a chunks.ErrCorrupt error.
func FuzzOpenCorrupt(f *testing.F) {
	src := f.TempDir()
	m := writeTestBlock(f, src, testData(6, 3), 250)
	srcDir := filepath.Join(src, m.ULID.String())
	if _, err := os.Stat(filepath.Join(srcDir, damageFiles[4])); err != nil {
		f.Fatalf("the test block needs two segments: %v", err)
	}
	want := map[string][]model.Sample{}
	for _, s := range testData(6, 3) {
		want[s.lset.String()] = slices.Concat(s.chunks...)
	}
	for file := range len(damageFiles) {
		for _, off := range []uint32{0, 5, 17, 40, 100, 300, 1000} {
			f.Add(uint8(file), off, uint8(0x01), false)
			f.Add(uint8(file), off, uint8(0xff), false)
		}
		f.Add(uint8(file), uint32(10), uint8(0), true)
	}
	f.Fuzz(func(t *testing.T, file uint8, off uint32, xor uint8, truncate bool) {
		dir := filepath.Join(t.TempDir(), m.ULID.String())
		if err := os.CopyFS(dir, os.DirFS(srcDir)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, damageFiles[int(file)%len(damageFiles)])
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			return
		}
		i := int(off % uint32(len(b)))
		if truncate {
			b = b[:i]
		} else {
			b[i] ^= xor
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		blk, err := Open(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer blk.Close()
		got, err := readAll(blk)
		if err != nil {
			if !errors.Is(err, chunks.ErrCorrupt) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("read: %v", err)
			}
			if n, first := blk.Damage(); n == 0 || first == nil {
				t.Fatalf("a chunk failed on read, the block does not say so")
			}
			return
		}
		if n, _ := blk.Damage(); n != 0 {
			t.Fatalf("every chunk read, yet %d reported damaged", n)
		}
		// Damage Open does not see (meta.json stats, a ULID-neutral byte)
		// must not change the data.
		for k, ss := range got {
			if !slices.Equal(ss, want[k]) && !strings.Contains(path, MetaFilename) {
				t.Fatalf("%s: data changed by damage to %s at %d, undetected", k, filepath.Base(path), i)
			}
		}
	})
}

// meta.json names a compacted block's parents as Prometheus does, objects
// with their ULID and time range, and still reads the bare ULIDs that older
// blocks of this package hold.
func TestMetaParentsShape(t *testing.T) {
	parent := t.TempDir()
	w, err := NewWriter(parent, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := testData(1, 1)
	if err := w.AddSeries(d[0].lset, []ChunkData{encode(t, d[0].chunks[0])}); err != nil {
		t.Fatal(err)
	}
	p1, p2 := NewULID(), NewULID()
	parents := []BlockDesc{{ULID: p1, MinTime: 0, MaxTime: 7_200_000}, {ULID: p2, MinTime: 7_200_000, MaxTime: 14_400_000}}
	m, err := w.Finish(0, 14_400_000, 2, []ulid.ULID{p1, p2}, parents)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, m.ULID.String())
	raw, err := os.ReadFile(filepath.Join(dir, MetaFilename))
	if err != nil {
		t.Fatal(err)
	}
	// The file as Prometheus's tooling reads it: decoded into plain maps.
	var generic struct {
		Compaction struct {
			Parents []map[string]any `json:"parents"`
		} `json:"compaction"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("parents are not objects: %v\n%s", err, raw)
	}
	want := []map[string]any{
		{"ulid": p1.String(), "minTime": float64(0), "maxTime": float64(7_200_000)},
		{"ulid": p2.String(), "minTime": float64(7_200_000), "maxTime": float64(14_400_000)},
	}
	if !reflect.DeepEqual(generic.Compaction.Parents, want) {
		t.Fatalf("parents in meta.json = %v, want %v", generic.Compaction.Parents, want)
	}
	if got, err := ReadMeta(dir); err != nil || !reflect.DeepEqual(got.Compaction.Parents, parents) {
		t.Fatalf("ReadMeta parents = %+v, %v", got.Compaction.Parents, err)
	}

	// An older meta.json: parents as bare ULID strings.
	var oldMeta map[string]any
	if err := json.Unmarshal(raw, &oldMeta); err != nil {
		t.Fatal(err)
	}
	oldMeta["compaction"].(map[string]any)["parents"] = []string{p1.String(), p2.String()}
	delete(oldMeta, "checksum") // older files have none
	b, _ := json.Marshal(oldMeta)
	if err := os.WriteFile(filepath.Join(dir, MetaFilename), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Compaction.Parents) != 2 || got.Compaction.Parents[0].ULID != p1 || got.Compaction.Parents[1].ULID != p2 {
		t.Fatalf("old-format parents read as %+v", got.Compaction.Parents)
	}
}
