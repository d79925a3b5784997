package shard

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	at := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	for _, tc := range []struct {
		d        Duration
		t, start string
		id       string
	}{
		{Day, "2024-01-15T00:00:00Z", "2024-01-15T00:00:00Z", "shard_2024-01-15"},
		{Day, "2024-01-14T23:59:59.999Z", "2024-01-14T00:00:00Z", "shard_2024-01-14"},
		{Day, "2024-01-15T13:45:00+05:00", "2024-01-15T00:00:00Z", "shard_2024-01-15"}, // 08:45 UTC
		{Day, "1969-12-31T23:00:00Z", "1969-12-31T00:00:00Z", "shard_1969-12-31"},
		{Hour, "2024-01-15T13:59:59.999Z", "2024-01-15T13:00:00Z", "shard_2024-01-15T13"},
		{Hour, "2024-01-15T14:00:00Z", "2024-01-15T14:00:00Z", "shard_2024-01-15T14"},
		{Week, "2024-01-15T00:00:00Z", "2024-01-15T00:00:00Z", "shard_2024-W03"}, // a Monday
		{Week, "2024-01-21T23:59:59Z", "2024-01-15T00:00:00Z", "shard_2024-W03"}, // the Sunday after
		{Week, "2024-01-14T23:59:59Z", "2024-01-08T00:00:00Z", "shard_2024-W02"},
		{Week, "1970-01-01T00:00:00Z", "1969-12-29T00:00:00Z", "shard_1970-W01"},
	} {
		s := tc.d.Start(at(tc.t))
		if s != at(tc.start) || tc.d.ID(s) != tc.id {
			t.Errorf("%s %s: start %s id %s, want %s %s", tc.d, tc.t, time.UnixMilli(s).UTC(), tc.d.ID(s), tc.start, tc.id)
		}
	}
	for _, s := range []string{"hour", "day", "week"} {
		d, err := ParseDuration(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDuration(%q) = %v, %v", s, d, err)
		}
	}
	if _, err := ParseDuration("month"); err == nil {
		t.Error("month accepted")
	}
}

// TestManifestRejects: a damaged or inconsistent manifest is ErrCorrupt,
// not a panic or a silently empty store.
func TestManifestRejects(t *testing.T) {
	for _, bad := range []string{
		"{",
		`{"version":2,"engine":"tsm","shard_duration":"day","policy":{"warm_after":"0s","cold_after":"0s","retention":"0s"}}`,
		`{"version":1,"engine":"lsm","shard_duration":"day","policy":{"warm_after":"0s","cold_after":"0s","retention":"0s"}}`,
		`{"version":1,"engine":"tsm","shard_duration":"day","policy":{"warm_after":"0s","cold_after":"0s","retention":"0s"},
		  "shards":[{"id":"shard_2024-01-15","start":1705276800001,"end":1705363200001,"state":"hot"}]}`,
		`{"version":1,"engine":"tsm","shard_duration":"day","policy":{"warm_after":"0s","cold_after":"0s","retention":"0s"},
		  "shards":[{"id":"shard_2024-01-15","start":1705276800000,"end":1705363200000,"state":"lukewarm"}]}`,
	} {
		dir := t.TempDir()
		if err := writeFile(dir, bad); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir, Options{}); !errorsIs(err, ErrCorrupt) {
			t.Errorf("%.60s…: %v, want ErrCorrupt", bad, err)
		}
	}
}

func writeFile(dir, s string) error {
	return os.WriteFile(filepath.Join(dir, ManifestName), []byte(s), 0o644)
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
