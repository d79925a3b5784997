package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestParseOverDefaults(t *testing.T) {
	c, err := Parse([]byte("listen: 127.0.0.1:9999\nretention: 30d\nquery:\n  timeout: 10s\nwrite:\n  future_grace: 1h\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Listen = "127.0.0.1:9999"
	want.Retention = Duration(30 * 24 * time.Hour)
	want.Write.FutureGrace = Duration(time.Hour)
	want.Query.Timeout = Duration(10 * time.Second)
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

func TestParseEmptyIsDefault(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("got %+v", c)
	}
	if c.Retention != 0 || time.Duration(c.Write.FutureGrace) != 10*time.Minute || c.Listen != "127.0.0.1:9090" || c.DataDir != "./data" || c.Write.WALCompression != "snappy" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"listne: x\n",                    // unknown key
		"retention: 15 days\n",           // bad duration
		"listen: nohostport\n",           // no port
		"query:\n  max_concurrency: 0\n", // out of range
		"write:\n  max_body_bytes: -1\n",
		"data_dir: ''\n",
		"write:\n  wal_compression: lz4\n",
		"[1, 2",
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", in, err)
		}
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tsdb.yml")
	if err := os.WriteFile(p, []byte("data_dir: /tmp/x\nretention: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/tmp/x" || c.Retention != 0 {
		t.Fatalf("%+v", c)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Fatal("missing file: no error")
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"15d": 15 * 24 * time.Hour, "1h30m": 90 * time.Minute, "0": 0, "500ms": 500 * time.Millisecond} {
		d, err := ParseDuration(in)
		if err != nil || time.Duration(d) != want {
			t.Errorf("%s: %v %v", in, time.Duration(d), err)
		}
	}
	if _, err := ParseDuration("5x"); err == nil {
		t.Error("5x accepted")
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * 24 * time.Hour: "15d", 90 * time.Minute: "1h30m", 0: "0s"} {
		if got := Duration(d).String(); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
