// Package config holds the server's settings: their defaults, the YAML file
// that may set them (`start --config FILE`), and the checks they must pass.
//
// A file sets any subset; flags given on the command line override the file;
// everything else keeps its default:
//
//	listen: 127.0.0.1:9090
//	data_dir: ./data
//	retention: 0s
//	query:
//	  timeout: 2m
//	  max_concurrency: 20
//	  max_samples: 50000000
//	  lookback_delta: 5m
//	write:
//	  max_body_bytes: 33554432
//	  out_of_order_window: 100y
//	  future_grace: 10m
//	  wal_sync: interval
//	  max_metadata: 10000
//	  max_metadata_per_metric: 10
//	web:
//	  enable_admin_api: false
//	  enable_pprof: false
//	  config_file: ""
//	runtime:
//	  gogc: 75
//	  memory_limit: 0
//	external_labels: {}
//
// tsdb.example.yml beside the command is this list with every key explained.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every error about a bad setting.
var ErrInvalid = errors.New("config: invalid")

// Config is the whole configuration of a server.
type Config struct {
	// Listen is the HTTP address. Defaults to 127.0.0.1:9090.
	Listen string `yaml:"listen"`
	// DataDir holds the blocks, the WAL and snapshots. Defaults to ./data.
	DataDir string `yaml:"data_dir"`
	// Retention drops the blocks whose data is all older than this,
	// measured from the clock, and refuses samples older than that.
	// Defaults to 0: keep everything (see DefaultRetention).
	Retention Duration `yaml:"retention"`
	// RetentionSize drops the oldest blocks while all take more bytes than
	// this. Defaults to 0: no limit.
	RetentionSize int64         `yaml:"retention_size"`
	Query         QueryConfig   `yaml:"query"`
	Write         WriteConfig   `yaml:"write"`
	Web           WebConfig     `yaml:"web"`
	Runtime       RuntimeConfig `yaml:"runtime"`
	// ExternalLabels are added to every series /federate exposes that does
	// not have the label already, as Prometheus's global.external_labels.
	ExternalLabels map[string]string `yaml:"external_labels"`
}

// WebConfig says who may do what over HTTP.
type WebConfig struct {
	// EnableAdminAPI serves the endpoints that change or copy the stored
	// data (/api/v1/admin/…: delete_series, clean_tombstones, snapshot,
	// compact). Defaults to false: they answer 503, as in Prometheus.
	EnableAdminAPI bool `yaml:"enable_admin_api"`
	// EnablePprof serves Go's profiler under /debug/pprof/. Defaults to
	// false: a CPU profile or trace costs the server CPU for as long as it
	// is asked to run, and the command line it shows may hold secrets.
	EnablePprof bool `yaml:"enable_pprof"`
	// ConfigFile is a web configuration file in Prometheus's format
	// (exporter-toolkit): TLS and basic-auth users. Defaults to none:
	// plain HTTP without authentication.
	ConfigFile string `yaml:"config_file"`
}

// RuntimeConfig sets the Go runtime's memory trade. The garbage collector
// lets the heap grow past what its last cycle found live before it runs
// again; that headroom is resident memory. The server's memory is mostly
// the head, which is live, so the headroom is GOGC percent of the head.
type RuntimeConfig struct {
	// GOGC is the collector's target, as the GOGC environment variable:
	// the heap grows this many percent past the live heap before the next
	// cycle. Defaults to 75, as Prometheus 3 (Go's own default is 100):
	// with 1M active series about 7 % less resident memory once settled
	// and 8 % less at the end of the load, for a third more collection
	// cycles while the head grows (each marks the head once). The GOGC
	// environment variable, when set, wins.
	GOGC int `yaml:"gogc"`
	// MemoryLimit is a soft limit on the process's Go memory, in bytes, as
	// GOMEMLIMIT: near it the collector runs as often as it must to stay
	// under, whatever GOGC says. Defaults to 0: none. The GOMEMLIMIT
	// environment variable, when set, wins.
	MemoryLimit int64 `yaml:"memory_limit"`
}

// QueryConfig configures the query engine and its limits.
type QueryConfig struct {
	// Timeout bounds one query. Defaults to 2m.
	Timeout Duration `yaml:"timeout"`
	// MaxConcurrency is how many queries run at once; more wait.
	// Defaults to 20.
	MaxConcurrency int `yaml:"max_concurrency"`
	// MaxSamples caps the samples one query may load. Defaults to 50,000,000.
	MaxSamples int `yaml:"max_samples"`
	// MaxMemory caps the bytes one query holds at once (its samples at 16
	// bytes each, the label sets and per-step arrays it makes). Defaults
	// to 1 GiB.
	MaxMemory int64 `yaml:"max_memory"`
	// MaxResponseBytes caps the JSON answer of /api/v1/query and
	// /api/v1/query_range. Defaults to 256 MiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// LookbackDelta is the instant-selector lookback. Defaults to 5m.
	LookbackDelta Duration `yaml:"lookback_delta"`
}

// WriteConfig configures ingestion.
type WriteConfig struct {
	// MaxBodyBytes caps a write request's body (after decompression for
	// remote write). Defaults to 32 MiB; larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// OutOfOrderWindow accepts samples up to this much older than the
	// newest sample stored, also those older than the newest block
	// (stage06's past stores). Defaults to DefaultOutOfOrderWindow; 0
	// refuses them, as Prometheus does by default.
	OutOfOrderWindow Duration `yaml:"out_of_order_window"`
	// FutureGrace is how far ahead of the server's clock a sample may be;
	// later ones are refused (400). Defaults to 10m, Mimir's
	// creation_grace_period.
	FutureGrace Duration `yaml:"future_grace"`
	// WALSync is when the WAL is fsynced, that is, what an acknowledged
	// write survives: "interval" (answered once written to the OS, fsynced
	// every 100 ms in the background: survives kill -9 and any crash of the
	// process, not a power cut; what Prometheus does), "batch" (group
	// commit: answered once on disk, so it survives a power cut too, at
	// about half the throughput: each request waits for an fsync), "always"
	// or "none". Defaults to interval.
	WALSync string `yaml:"wal_sync"`
	// WALCompression is how WAL records are stored: "snappy" (about a
	// third smaller, replay about as fast; the default, as Prometheus 3's
	// --storage.tsdb.wal-compression), "zstd" (about two thirds smaller,
	// dearer to write and replay) or "none". A WAL written with any
	// setting replays under any other.
	WALCompression string `yaml:"wal_compression"`
	// MaxMetadata caps the metric families whose remote-write metadata
	// (type, help, unit) is kept for /api/v1/metadata; metadata of further
	// families is dropped and counted. Defaults to 10,000.
	MaxMetadata int `yaml:"max_metadata"`
	// MaxMetadataPerMetric caps the distinct metadata entries kept per
	// family (Mimir's max_metadata_per_metric). Defaults to 10.
	MaxMetadataPerMetric int `yaml:"max_metadata_per_metric"`
}

// Defaults used for every field a file or flag leaves unset.
const (
	DefaultListen  = "127.0.0.1:9090"
	DefaultDataDir = "./data"
	// DefaultRetention is 0, keep everything, as InfluxDB's default
	// retention policy does (Prometheus's 15d is a flag away). Retention
	// is measured from the clock, so with 15d the guide's examples, dated
	// December 2023, and the TSBS files, dated 2024, would be refused as
	// too old; a store that deletes data needs the user to ask for it.
	DefaultRetention   = 0
	DefaultFutureGrace = 10 * time.Minute
	// DefaultOutOfOrderWindow is a century: any timestamp the retention
	// keeps is accepted in any order, as VictoriaMetrics and InfluxDB do,
	// so the guide's December 2023 examples, the TSBS import (2024) and a
	// write of "now" work in any order. Prometheus's default is 0. The
	// cost: an out-of-order sample takes a chunk of its own in the head,
	// and one older than the newest block makes compaction write a block
	// for it and merge that block with the ones it overlaps.
	DefaultOutOfOrderWindow = 100 * 365 * 24 * time.Hour
	DefaultQueryTimeout     = 2 * time.Minute
	DefaultMaxConcurrency   = 20
	DefaultMaxSamples       = 50_000_000
	DefaultMaxQueryMemory   = 1 << 30
	DefaultMaxResponse      = 256 << 20
	DefaultLookbackDelta    = 5 * time.Minute
	DefaultMaxBodyBytes     = 32 << 20
	DefaultWALSync          = "interval"
	DefaultWALCompression   = "snappy"
	DefaultMaxMetadata      = 10_000
	DefaultMaxMetaPerName   = 10
	DefaultGOGC             = 75
)

// Default returns the configuration with every default applied.
func Default() Config {
	return Config{
		Listen:    DefaultListen,
		DataDir:   DefaultDataDir,
		Retention: Duration(DefaultRetention),
		Query: QueryConfig{
			Timeout:          Duration(DefaultQueryTimeout),
			MaxConcurrency:   DefaultMaxConcurrency,
			MaxSamples:       DefaultMaxSamples,
			MaxMemory:        DefaultMaxQueryMemory,
			MaxResponseBytes: DefaultMaxResponse,
			LookbackDelta:    Duration(DefaultLookbackDelta),
		},
		Write: WriteConfig{MaxBodyBytes: DefaultMaxBodyBytes, OutOfOrderWindow: Duration(DefaultOutOfOrderWindow), FutureGrace: Duration(DefaultFutureGrace), WALSync: DefaultWALSync, WALCompression: DefaultWALCompression,
			MaxMetadata: DefaultMaxMetadata, MaxMetadataPerMetric: DefaultMaxMetaPerName},
		Runtime: RuntimeConfig{GOGC: DefaultGOGC},
	}
}

// Load reads a YAML file over the defaults. Unknown keys are errors, so a
// misspelt setting is not silently ignored.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads YAML over the defaults and validates the result.
func Parse(data []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every setting.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrInvalid, c.Listen, err)
	}
	switch {
	case c.DataDir == "":
		return fmt.Errorf("%w: data_dir is empty", ErrInvalid)
	case c.Retention < 0:
		return fmt.Errorf("%w: retention %s is negative", ErrInvalid, c.Retention)
	case c.RetentionSize < 0:
		return fmt.Errorf("%w: retention_size %d is negative", ErrInvalid, c.RetentionSize)
	case c.Query.Timeout <= 0:
		return fmt.Errorf("%w: query.timeout must be positive", ErrInvalid)
	case c.Query.MaxConcurrency < 1:
		return fmt.Errorf("%w: query.max_concurrency must be at least 1", ErrInvalid)
	case c.Query.MaxSamples < 1:
		return fmt.Errorf("%w: query.max_samples must be at least 1", ErrInvalid)
	case c.Query.MaxMemory < 1:
		return fmt.Errorf("%w: query.max_memory must be at least 1", ErrInvalid)
	case c.Query.MaxResponseBytes < 1:
		return fmt.Errorf("%w: query.max_response_bytes must be at least 1", ErrInvalid)
	case c.Query.LookbackDelta <= 0:
		return fmt.Errorf("%w: query.lookback_delta must be positive", ErrInvalid)
	case c.Write.MaxBodyBytes < 1:
		return fmt.Errorf("%w: write.max_body_bytes must be at least 1", ErrInvalid)
	case c.Write.OutOfOrderWindow < 0:
		return fmt.Errorf("%w: write.out_of_order_window is negative", ErrInvalid)
	case c.Write.FutureGrace <= 0:
		return fmt.Errorf("%w: write.future_grace must be positive", ErrInvalid)
	case c.Write.MaxMetadata < 0:
		return fmt.Errorf("%w: write.max_metadata is negative", ErrInvalid)
	case c.Write.MaxMetadataPerMetric < 1:
		return fmt.Errorf("%w: write.max_metadata_per_metric must be at least 1", ErrInvalid)
	case c.Runtime.GOGC < -1 || c.Runtime.GOGC == 0:
		return fmt.Errorf("%w: runtime.gogc must be positive (or -1: no collection but at the memory limit)", ErrInvalid)
	case c.Runtime.MemoryLimit < 0:
		return fmt.Errorf("%w: runtime.memory_limit is negative", ErrInvalid)
	}
	for name := range c.ExternalLabels {
		if !validLabelName(name) {
			return fmt.Errorf("%w: external_labels: %q is not a valid label name", ErrInvalid, name)
		}
	}
	if _, err := wal.ParseSyncPolicy(c.Write.WALSync); err != nil {
		return fmt.Errorf("%w: write.wal_sync: %v", ErrInvalid, err)
	}
	if _, err := wal.ParseCompression(c.Write.WALCompression); err != nil {
		return fmt.Errorf("%w: write.wal_compression: %v", ErrInvalid, err)
	}
	return nil
}

// validLabelName is Prometheus's legacy label-name rule, which external
// labels must follow (they are written unquoted in the exposition format).
func validLabelName(s string) bool {
	if s == "" || s == "__name__" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}

// YAML writes the configuration as a file would give it: every key, the
// defaults included (/api/v1/status/config serves it).
func (c Config) YAML() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return ""
	}
	return string(b)
}
