package chunks

import (
	"testing"
)

// A segment is flushed and fsynced every syncEvery bytes, not only when it
// is closed: 100 entries of 105 bytes (uvarint 1 + 100 + CRC 4) with a
// step of 1000 bytes sync after entries 10, 20, …, 100 (1050 bytes each
// time), then once more on Close: 11. At each sync everything written so
// far is in the file (the buffer was flushed first).
func TestSegmentWriterSyncsInSteps(t *testing.T) {
	dir := t.TempDir()
	w, err := NewSegmentWriter(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.syncEvery = 1000
	syncs := 0
	w.syncHook = func() {
		syncs++
		fi, err := w.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != w.off {
			t.Errorf("sync %d: file holds %d bytes, %d written", syncs, fi.Size(), w.off)
		}
	}
	data := make([]byte, 100)
	for i := range 100 {
		data[0] = byte(i)
		if _, err := w.WriteChunk(data); err != nil {
			t.Fatal(err)
		}
		if want := (i + 1) / 10; syncs != want {
			t.Fatalf("after entry %d: %d syncs, want %d", i+1, syncs, want)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if syncs != 11 {
		t.Fatalf("%d syncs in all, want 11", syncs)
	}
}
