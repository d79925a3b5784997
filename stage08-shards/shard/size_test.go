package shard

import (
	"io/fs"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

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
