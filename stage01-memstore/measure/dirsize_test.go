package measure

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDiskUsageCountsAllocatedBlocks: a 128 MiB sparse file with 4 KiB
// written counts what is allocated, not its length, while DirSize counts
// lengths; a missing directory is 0.
func TestDiskUsageCountsAllocatedBlocks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dense"), make([]byte, 10_000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "sub", "sparse"))
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
	if n, err := DirSize(dir); err != nil || n != 10_000+128<<20 {
		t.Fatalf("DirSize %d, %v; want %d", n, err, 10_000+128<<20)
	}
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 10_000+4096 {
		t.Fatalf("DiskUsage %d, less than the %d bytes written", got, 10_000+4096)
	}
	for _, size := range []func(string) (int64, error){DirSize, DiskUsage} {
		if n, err := size(filepath.Join(dir, "missing")); n != 0 || err != nil {
			t.Fatalf("missing directory: %d bytes, %v; want 0, nil", n, err)
		}
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		return // the fallback counts lengths
	}
	fi, err := os.Stat(filepath.Join(dir, "sub", "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if DiskBytes(fi) >= 128<<20 {
		t.Skip("this file system allocates sparse files in full")
	}
	if got >= 8<<20 {
		t.Fatalf("DiskUsage %d: the sparse file counted at its length (128 MiB)", got)
	}
}

// TestDirSizeFileVanishes: a file removed after the directory was listed
// but before it was looked at (what a compaction's rename does to a
// concurrent walk) is skipped, not an error.
func TestDirSizeFileVanishes(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed := false
	n, err := walkSize(dir, func(fi fs.FileInfo) int64 {
		if !removed {
			removed = true // WalkDir listed a, b, c before calling for a
			if err := os.Remove(filepath.Join(dir, "b")); err != nil {
				t.Fatal(err)
			}
		}
		return fi.Size()
	})
	if err != nil || n != 200 {
		t.Fatalf("got %d, %v; want 200 bytes (a and c), nil", n, err)
	}
}

// TestDiskUsageCountsHardLinksOnce: a file with two names (a snapshot's
// hard link) takes its blocks once, as du counts; DirSize counts each name.
func TestDiskUsageCountsHardLinksOnce(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no inode numbers here")
	}
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if err := os.WriteFile(a, make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	one, err := DiskUsage(dir)
	if err != nil || one < 64<<10 {
		t.Fatalf("one file: %d, %v", one, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "snap"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, filepath.Join(dir, "snap", "a")); err != nil {
		t.Fatal(err)
	}
	if two, err := DiskUsage(dir); err != nil || two != one {
		t.Fatalf("with a hard link: %d, %v; want %d", two, err, one)
	}
	if n, _ := DirSize(dir); n != 2*64<<10 {
		t.Fatalf("DirSize %d, want both names", n)
	}
}
