package shard

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// TestDirSizeCountsAllocatedBlocks: a 128 MiB sparse file with 4 KiB
// written counts what is allocated, not its length; a dense file counts
// at least its length (blocks round up).
func TestDirSizeCountsAllocatedBlocks(t *testing.T) {
	dir := t.TempDir()
	dense := make([]byte, 10_000)
	if err := os.WriteFile(filepath.Join(dir, "dense"), dense, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(128 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := dirSize(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 10_000+4096 {
		t.Fatalf("dirSize %d, less than the %d bytes written", got, 10_000+4096)
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return // the fallback counts lengths
	}
	fi, err := os.Stat(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if diskBytes(fi) >= 128<<20 {
		t.Skip("this file system allocates sparse files in full")
	}
	if got >= 8<<20 {
		t.Fatalf("dirSize %d: the sparse file counted at its length (128 MiB)", got)
	}
	if n, _ := dirSize(filepath.Join(dir, "missing")); n != 0 {
		t.Fatalf("missing directory: %d bytes, want 0", n)
	}
}

// TestShardSizeHotBlocks: a hot stage06 shard with 2,000 samples reports
// the bytes it occupies, not the length of its pre-sized head-chunks file.
func TestShardSizeHotBlocks(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("sizes are file lengths here")
	}
	c := &clock{day("2024-01-15")}
	m := openManager(t, t.TempDir(), EngineBlocks, c, Options{})
	defer m.Close()
	var ss []model.Sample
	for i := range 2000 {
		ss = append(ss, model.Sample{T: ms(day("2024-01-15")) + int64(i)*1000, V: float64(i)})
	}
	if err := m.Write([]Series{{Labels: gen{}.labels(0, 0), Samples: ss}}); err != nil {
		t.Fatal(err)
	}
	infos, err := m.Shards()
	if err != nil || len(infos) != 1 {
		t.Fatalf("%v, %v", infos, err)
	}
	var length int64
	err = filepath.WalkDir(infos[0].Dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			length += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if length < 8<<20 {
		t.Skipf("the shard's files are %d bytes long: nothing sparse to check", length)
	}
	if b := infos[0].Bytes; b <= 0 || b >= 8<<20 {
		t.Fatalf("hot shard with 2,000 samples: %d bytes (files %d bytes long), want the allocated few KiB", b, length)
	}
}
