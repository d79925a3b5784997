package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWritesResumeAfterDiskFull: on a real full file system (a small tmpfs
// this test mounts, so it needs root and skips without it), a write the
// WAL cannot log is a 500 and stores nothing; once space is freed, writes
// succeed again without a restart, and after a restart every acknowledged
// sample is there. The unit tests inject the same failure (stage04's
// TestLogResumesAfterFullDisk, stage06's TestHeadChunkWriteFailure); this
// one checks the whole server against the kernel's ENOSPC.
func TestWritesResumeAfterDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	})
	dataDir := filepath.Join(mnt, "data")
	s := startTest(t, dataDir)
	defer func() { s.Shutdown(context.Background()) }()
	base := "http://" + s.Addr()
	write := func(k int) (int, string) {
		// Values that are no short decimals (k + i/3) are stored as 8-byte
		// floats in the WAL: a request's record is larger than a page, so
		// on a full disk it cannot land in the last page's free bytes.
		var b strings.Builder
		for i := range 1000 {
			fmt.Fprintf(&b, "m{i=\"%d\"} %v %d\n", i, float64(k)+float64(i)/3, 1704067200+k)
		}
		return call(t, "POST", base+"/write", b.String())
	}
	acked := 0
	for ; acked < 3; acked++ {
		if code, body := write(acked); code != 200 {
			t.Fatalf("write %d: %d %s", acked, code, body)
		}
	}
	// Fill the file system.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for range 1000 { // 64 MiB at most: far more than the 4 MiB mount
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}
	for range 3 {
		if code, body := write(acked); code != 500 || !strings.Contains(body, "no space left on device") {
			t.Fatalf("write on a full disk: %d %s, want 500 naming the cause", code, body)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if code, body := write(acked); code != 200 {
			t.Fatalf("write %d after space was freed: %d %s", acked, code, body)
		}
		acked++
	}
	check := func(s *Server) {
		t.Helper()
		_, body := call(t, "GET", fmt.Sprintf("http://%s/api/v1/query?query=count_over_time(m[1h])&time=%d", s.Addr(), 1704067200+acked), "")
		if want := fmt.Sprintf(`,"%d"]`, acked); strings.Count(body, want) != 1000 {
			t.Fatalf("want 1000 series with %d samples each: %s", acked, body)
		}
	}
	check(s)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = startTest(t, dataDir)
	check(s)
}
