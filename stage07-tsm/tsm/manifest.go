package tsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage04-wal/wal"
)

// The manifest (file MANIFEST in the data directory) is the single source of
// truth for which TSM files are live, and up to which WAL segment their data
// reaches. It is a small JSON document:
//
//	{"version": 1, "next_generation": 9, "wal_flushed_upto": 12,
//	 "files": ["000001-02.tsm", "000005-01.tsm"]}
//
// and it is only ever replaced whole (tmp file, fsync, rename, fsync of the
// directory), so every change to the file set — a flush adding a file, a
// compaction swapping four files for one — becomes visible in one atomic
// step. Files on disk that the manifest does not list are leftovers of a
// crash (a flush or compaction that had not committed) and are deleted by
// Open; a listed file is always complete, because it was fsynced and
// renamed before the manifest naming it was written. Segments of the WAL up
// to wal_flushed_upto are skipped on replay even if a crash left them.
type manifest struct {
	Version        int      `json:"version"`
	NextGen        int      `json:"next_generation"`
	WALFlushedUpto int      `json:"wal_flushed_upto"`
	Files          []string `json:"files"`
}

const manifestName = "MANIFEST"

func readManifest(dir string) (manifest, error) {
	m := manifest{Version: 1, NextGen: 1, WALFlushedUpto: -1}
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("tsm: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Version != 1 || m.NextGen < 1 {
		return m, fmt.Errorf("%w: %s: %v", ErrCorrupt, manifestName, err)
	}
	for _, f := range m.Files {
		if _, _, ok := parseFileName(f); !ok {
			return m, fmt.Errorf("%w: %s: bad file name %q", ErrCorrupt, manifestName, f)
		}
	}
	return m, nil
}

func writeManifest(dir string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, manifestName), append(b, '\n')); err != nil {
		return fmt.Errorf("tsm: manifest: %w", err)
	}
	return nil
}

// fileName is the name of the TSM file of a generation and level:
// 000042-02.tsm. Generations order the files by age (a compaction's output
// takes the oldest generation of its inputs), which is what "newest write
// wins" needs across files; the level keeps names unique.
func fileName(gen, level int) string { return fmt.Sprintf("%06d-%02d.tsm", gen, level) }

func parseFileName(name string) (gen, level int, ok bool) {
	base, found := strings.CutSuffix(name, ".tsm")
	if !found || strings.ContainsRune(base, '/') {
		return 0, 0, false
	}
	g, l, found := strings.Cut(base, "-")
	if !found {
		return 0, 0, false
	}
	gen, err1 := strconv.Atoi(g)
	level, err2 := strconv.Atoi(l)
	if err1 != nil || err2 != nil || gen < 1 || level < 1 {
		return 0, 0, false
	}
	return gen, level, true
}

// cleanDir removes what a crash may have left: temporary files, TSM files
// the manifest does not list, and tombstone files without their TSM file.
func cleanDir(dir string, m manifest) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tsm: %w", err)
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		var stale bool
		switch {
		case strings.HasSuffix(name, ".tmp"):
			stale = true
		case strings.HasSuffix(name, ".tsm"):
			stale = !slices.Contains(m.Files, name)
		case strings.HasSuffix(name, ".tombstone"):
			stale = !slices.Contains(m.Files, strings.TrimSuffix(name, ".tombstone")+".tsm")
		}
		if stale {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return removed, fmt.Errorf("tsm: %w", err)
			}
			removed = append(removed, name)
		}
	}
	if len(removed) > 0 {
		return removed, wal.SyncDir(dir)
	}
	return nil, nil
}
