// Package block writes and reads the immutable blocks of the TSDB: a
// directory named by a ULID holding everything about one time range,
//
//	01HQKV3X5M2N4P6R8S0T/
//	  meta.json     meta.go: ULID, time range, stats, compaction level and sources
//	  index         stage05's index file, with each series' chunk list as payload
//	  chunks/000001 chunk segments (package chunks), ≤ 512 MiB each
//	  tombstones    tombstones.go: deleted time ranges per series
//
// A block is written to <ulid>.tmp, fsynced and renamed (writer.go), so a
// crash never leaves half a block under a block's name; it is read through
// mmap (reader.go). Everything but the tombstones is immutable: deleting
// rewrites the tombstones file (atomically too), and compaction writes a new
// block.
package block

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"github.com/oklog/ulid/v2"
)

// ErrCorrupt wraps every error about a malformed block.
var ErrCorrupt = errors.New("block: corrupt")

// ErrMetaMismatch is the damage of a meta.json that reads as valid JSON but
// cannot be the one the writer wrote: it fails its checksum, or it
// disagrees with the index (series or chunk counts, chunks outside its
// time range). It matches ErrCorrupt too. It is told apart because a wrong
// meta is acted on without a trace: the head drops WAL samples older than
// the newest block's MaxTime, so a MaxTime moved later costs head data.

// File names inside a block directory.
const (
	MetaFilename       = "meta.json"
	IndexFilename      = "index"
	ChunksDirname      = "chunks"
	TombstonesFilename = "tombstones"
	TmpSuffix          = ".tmp"
	metaVersion        = 1
)

// Meta is the content of meta.json. Times are milliseconds; MinTime is
// inclusive and MaxTime exclusive, as in Prometheus, so adjacent blocks
// share a boundary without overlapping.
type Meta struct {
	ULID       ulid.ULID  `json:"ulid"`
	MinTime    int64      `json:"minTime"`
	MaxTime    int64      `json:"maxTime"`
	Stats      Stats      `json:"stats"`
	Compaction Compaction `json:"compaction"`
	Version    int        `json:"version"`
	// Checksum is "crc32c:" and the CRC-32C, in hex, of the meta's JSON
	// (as writeMeta writes it) with Checksum empty. ReadMeta checks it and
	// returns the meta without it; a meta.json without one (written
	// before it existed) is read unchecked.
	Checksum string `json:"checksum,omitempty"`
}

// ErrMetaMismatch: see the variable's comment.
var ErrMetaMismatch = fmt.Errorf("%w: meta.json disagrees with the block", ErrCorrupt)

// encodeMeta is meta.json's bytes without the checksum field.
func encodeMeta(m Meta) ([]byte, error) {
	m.Checksum = ""
	b, err := json.MarshalIndent(m, "", "\t")
	return append(b, '\n'), err
}

func metaChecksum(b []byte) string {
	return fmt.Sprintf("crc32c:%08x", crc32.Checksum(b, castagnoli))
}

// Stats counts what a block holds.
type Stats struct {
	NumSamples    uint64 `json:"numSamples"`
	NumSeries     uint64 `json:"numSeries"`
	NumChunks     uint64 `json:"numChunks"`
	NumTombstones uint64 `json:"numTombstones,omitempty"`
}

// Compaction records how a block was made. A block cut from the head has
// level 1 and itself as its only source; a compacted block has the highest
// level of its parents plus one and the union of their sources, and names
// its parents, which is how Open recognises parents that a crash left
// behind after their child was written.
type Compaction struct {
	Level   int         `json:"level"`
	Sources []ulid.ULID `json:"sources"`
	Parents []BlockDesc `json:"parents,omitempty"`
}

// BlockDesc names a parent block and its time range, as Prometheus's
// meta.json does: {"ulid": …, "minTime": …, "maxTime": …}.
type BlockDesc struct {
	ULID    ulid.ULID `json:"ulid"`
	MinTime int64     `json:"minTime"`
	MaxTime int64     `json:"maxTime"`
}

// UnmarshalJSON reads a parent in Prometheus's shape or, from blocks
// written before this package used that shape, a bare ULID string (time
// range unknown: zero).
func (d *BlockDesc) UnmarshalJSON(b []byte) error {
	var id ulid.ULID
	if err := json.Unmarshal(b, &id); err == nil {
		*d = BlockDesc{ULID: id}
		return nil
	}
	type plain BlockDesc // without this method
	return json.Unmarshal(b, (*plain)(d))
}

// Overlaps reports whether the block has data in [mint, maxt] (inclusive).
func (m Meta) Overlaps(mint, maxt int64) bool { return m.MinTime <= maxt && m.MaxTime > mint }

// ReadMeta reads and checks dir/meta.json.
func ReadMeta(dir string) (Meta, error) {
	var m Meta
	b, err := os.ReadFile(filepath.Join(dir, MetaFilename))
	if errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("block %s: %w: meta.json missing", filepath.Base(dir), ErrCorrupt)
	}
	if err != nil {
		return m, fmt.Errorf("block %s: %w", filepath.Base(dir), err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("block %s: %w: meta.json: %v", filepath.Base(dir), ErrCorrupt, err)
	}
	if m.Checksum != "" {
		enc, err := encodeMeta(m)
		if err != nil {
			return m, fmt.Errorf("block %s: %w: meta.json: %v", filepath.Base(dir), ErrCorrupt, err)
		}
		if sum := metaChecksum(enc); sum != m.Checksum {
			return m, fmt.Errorf("block %s: %w: checksum %s, its content sums to %s", filepath.Base(dir), ErrMetaMismatch, m.Checksum, sum)
		}
		m.Checksum = ""
	}
	if m.Version != metaVersion {
		return m, fmt.Errorf("block %s: %w: meta.json version %d", filepath.Base(dir), ErrCorrupt, m.Version)
	}
	if m.MinTime >= m.MaxTime {
		return m, fmt.Errorf("block %s: %w: meta.json time range [%d, %d)", filepath.Base(dir), ErrCorrupt, m.MinTime, m.MaxTime)
	}
	if m.ULID.String() != filepath.Base(dir) {
		return m, fmt.Errorf("block %s: %w: meta.json names ULID %s", filepath.Base(dir), ErrCorrupt, m.ULID)
	}
	return m, nil
}

// writeMeta writes meta.json, with its checksum, and fsyncs it.
func writeMeta(dir string, m Meta) error {
	b, err := encodeMeta(m)
	if err != nil {
		return err
	}
	m.Checksum = metaChecksum(b)
	if b, err = json.MarshalIndent(m, "", "\t"); err != nil {
		return err
	}
	return writeFileSync(filepath.Join(dir, MetaFilename), append(b, '\n'))
}

// writeFileSync writes a file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
