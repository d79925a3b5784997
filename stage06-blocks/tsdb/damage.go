package tsdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/block"
)

// What Open does about damage on disk, by file (the README has the table):
//
//   - a torn write at the end of the newest WAL segment after a crash:
//     cut off, reported in Recovery().WALTruncated (it was never
//     acknowledged);
//   - any other WAL damage (a damaged record with intact ones after it, a
//     missing segment or checkpoint, a newest segment shorter than the
//     last clean shutdown left it): Open refuses with a *DamageError and
//     changes nothing; Repair (or Options.Repair) cuts out the damaged bytes
//     only, keeping every intact record after them;
//   - a block that cannot be read (index, tombstones, chunk files or a
//     meta.json that does not parse): moved into dir/corrupted/<ulid>,
//     never deleted, named in Recovery().Damaged and DB.Damage(), and every
//     query over its time range is warned (Querier.Warnings);
//   - a block whose meta.json reads but disagrees with the block (its
//     checksum, or its index's counts and time range): Open refuses,
//     because the head has already used that meta to decide which WAL
//     samples are in blocks; Repair moves the block aside;
//   - a chunk that fails its checksum when a query or compaction reads it:
//     the block stays, the chunk is left out of queries (with a warning) and
//     the block out of compaction (DB.Damage lists it).

// ErrDamaged marks Open's refusal to start on a damaged data directory.
var ErrDamaged = errors.New("tsdb: data directory damaged")

// CorruptedDirname is the directory blocks that cannot be read are moved
// to: dir/corrupted/<ulid>, with <ulid>.json beside it saying why.
const CorruptedDirname = "corrupted"

// BlockDamage is one damaged block.
type BlockDamage struct {
	ULID string `json:"ulid"`
	// Dir is where the block's files are now.
	Dir string `json:"dir"`
	// MinTime and MaxTime are its range as its meta.json says, both 0
	// when meta.json could not be read.
	MinTime int64  `json:"minTime"`
	MaxTime int64  `json:"maxTime"`
	Reason  string `json:"reason"`
	// Moved: the block was moved into dir/corrupted and is not served.
	// Otherwise it is served without its damaged chunks, and left out of
	// compaction.
	Moved bool `json:"moved"`
	// Chunks is how many chunk reads failed (blocks not moved).
	Chunks int       `json:"chunks,omitempty"`
	Found  time.Time `json:"found"`
}

func (d BlockDamage) String() string {
	s := "block " + d.ULID
	if d.MinTime != 0 || d.MaxTime != 0 {
		s += fmt.Sprintf(" [%d, %d)", d.MinTime, d.MaxTime)
	}
	s += ": " + d.Reason
	if d.Moved {
		s += "; moved to " + d.Dir + ", not served"
	} else if d.Chunks > 0 {
		s += fmt.Sprintf("; %d chunk read(s) failed: those chunks are left out of queries, the block out of compaction", d.Chunks)
	}
	return s
}

// overlaps reports whether the damage may hide data in [mint, maxt]: a
// block whose range is unknown may hide anything.
func (d BlockDamage) overlaps(mint, maxt int64) bool {
	return (d.MinTime == 0 && d.MaxTime == 0) || (d.MinTime <= maxt && d.MaxTime > mint)
}

// Damage is what Check found in a data directory, or what Repair did.
type Damage struct {
	WAL wal.Report
	// Blocks are the blocks that cannot be served as they are: moved
	// aside already (in dir/corrupted), or to be moved by Repair.
	Blocks []BlockDamage
	// Refused says whether Open, without Options.Repair, refuses the
	// directory (WAL damage beyond a torn tail, or a meta.json that
	// disagrees with its block).
	Refused bool
}

// String is one line per problem.
func (d Damage) String() string {
	var lines []string
	for _, p := range d.WAL.Problems {
		lines = append(lines, "wal/"+p.String())
	}
	for _, b := range d.Blocks {
		lines = append(lines, b.String())
	}
	if len(d.WAL.Problems) > 0 {
		lines = append(lines, "wal: "+d.WAL.Summary())
	}
	return strings.Join(lines, "\n")
}

// DamageError is Open's refusal: what is wrong, and that nothing was
// changed. It matches ErrDamaged.
type DamageError struct {
	Dir    string
	Damage Damage
}

func (e *DamageError) Error() string {
	return fmt.Sprintf("tsdb: %s is damaged; nothing was changed:\n  %s\nRepair cuts out only the damage listed, keeping every intact record and moving damaged blocks into %s (run the repair command to see what it drops, or open with the repair option)",
		e.Dir, strings.ReplaceAll(e.Damage.String(), "\n", "\n  "), filepath.Join(e.Dir, CorruptedDirname))
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// walOptions are the WAL options Open, Check and Repair share: the head
// removes segments only by checkpointing them, so a missing checkpoint is
// damage.
func walOptions(opts Options) wal.Options {
	return wal.Options{Sync: opts.WALSync, SegmentSize: opts.WALSegmentSize, Compression: opts.WALCompression, CheckpointRequired: true}
}

// Check reports the damage in dir without changing anything: every WAL
// problem (wal.Check), every block that Open would move aside or refuse,
// and the blocks moved aside before. Run by a repair command before it
// asks to go ahead. It must not run while a DB is open on dir.
func Check(dir string, opts Options) (Damage, error) {
	return checkDir(dir, opts, false)
}

// Repair does what Check reports: the WAL is repaired (wal.Repair: damaged
// bytes cut out, empty files stood in for missing ones, nothing intact
// dropped) and damaged blocks are moved into dir/corrupted. While a DB is
// open on dir it refuses (ErrLocked).
func Repair(dir string, opts Options) (Damage, error) {
	if _, err := os.Stat(dir); err != nil {
		return Damage{}, fmt.Errorf("tsdb: %w", err)
	}
	unlock, err := lockDir(dir) // it changes the directory: not under an open DB
	if err != nil {
		return Damage{}, err
	}
	defer unlock()
	return checkDir(dir, opts, true)
}

func checkDir(dir string, opts Options, repair bool) (Damage, error) {
	var d Damage
	if _, err := os.Stat(dir); err != nil {
		return d, fmt.Errorf("tsdb: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return d, fmt.Errorf("tsdb: %w", err)
	}
	if d.Blocks, err = listCorrupted(dir); err != nil {
		return d, err
	}
	for _, e := range ents {
		if _, err := ulid.ParseStrict(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		bd := filepath.Join(dir, e.Name())
		b, err := block.Open(bd)
		if err == nil {
			b.Close()
			continue
		}
		if !errors.Is(err, block.ErrCorrupt) {
			return d, err
		}
		if errors.Is(err, block.ErrMetaMismatch) {
			d.Refused = true
		}
		dmg := newBlockDamage(bd, err)
		if repair {
			if dmg, err = quarantine(dir, bd, err); err != nil {
				return d, err
			}
		}
		d.Blocks = append(d.Blocks, dmg)
	}
	walDir := filepath.Join(dir, WALDirname)
	if _, err := os.Stat(walDir); err == nil {
		if repair {
			d.WAL, err = wal.Repair(walDir, walOptions(opts))
		} else {
			d.WAL, err = wal.Check(walDir, walOptions(opts))
		}
		if err != nil {
			return d, fmt.Errorf("tsdb: %w", err)
		}
		d.Refused = d.Refused || d.WAL.Damaged()
	}
	return d, nil
}

// newBlockDamage describes the block in dir that failed to open with err.
func newBlockDamage(dir string, err error) BlockDamage {
	d := BlockDamage{ULID: filepath.Base(dir), Dir: dir, Reason: reason(err), Found: time.Now().UTC()}
	if m, _ := block.ReadMeta(dir); m.MinTime < m.MaxTime {
		d.MinTime, d.MaxTime = m.MinTime, m.MaxTime
	}
	return d
}

// reason is err without the "block <ulid>: " and "block: corrupt: " its
// text starts with: the block is named beside it.
func reason(err error) string {
	s := err.Error()
	for strings.HasPrefix(s, "block") {
		_, rest, ok := strings.Cut(s, ": ")
		if !ok {
			break
		}
		s = strings.TrimPrefix(rest, "corrupt: ")
	}
	return s
}

// quarantine moves the damaged block in blockDir into dir/corrupted and
// writes beside it why, so that the reason outlives the process. The block
// is never deleted: its intact chunks may be worth saving by hand.
func quarantine(dir, blockDir string, cause error) (BlockDamage, error) {
	d := newBlockDamage(blockDir, cause)
	cdir := filepath.Join(dir, CorruptedDirname)
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		return d, fmt.Errorf("tsdb: %w", err)
	}
	name := d.ULID
	for i := 1; ; i++ {
		if _, err := os.Stat(filepath.Join(cdir, name)); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s.%d", d.ULID, i)
	}
	d.Dir, d.Moved = filepath.Join(cdir, name), true
	b, err := json.MarshalIndent(d, "", "\t")
	if err == nil {
		err = os.WriteFile(d.Dir+".json", append(b, '\n'), 0o644)
	}
	if err == nil {
		err = os.Rename(blockDir, d.Dir)
	}
	if err == nil {
		err = wal.SyncDir(cdir)
	}
	if err == nil {
		err = wal.SyncDir(dir)
	}
	if err != nil {
		return d, fmt.Errorf("tsdb: move damaged block %s aside: %w", d.ULID, err)
	}
	return d, nil
}

// listCorrupted lists the blocks moved into dir/corrupted, with the reason
// recorded when they were.
func listCorrupted(dir string) ([]BlockDamage, error) {
	cdir := filepath.Join(dir, CorruptedDirname)
	ents, err := os.ReadDir(cdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tsdb: %w", err)
	}
	var out []BlockDamage
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		d := BlockDamage{ULID: e.Name(), Dir: filepath.Join(cdir, e.Name()), Moved: true, Reason: "moved aside (no record of why)"}
		if b, err := os.ReadFile(d.Dir + ".json"); err == nil {
			_ = json.Unmarshal(b, &d)
			d.Dir, d.Moved = filepath.Join(cdir, e.Name()), true
		}
		out = append(out, d)
	}
	return out, nil
}

// Damage lists the damaged blocks: those moved aside (at this Open or
// before) and those whose chunks failed on read since.
func (db *DB) Damage() []BlockDamage {
	out := append([]BlockDamage(nil), db.recovery.Damaged...)
	db.mu.RLock()
	defer db.mu.RUnlock()
	for _, b := range db.blocks {
		if n, err := b.Damage(); n > 0 {
			m := b.Meta()
			out = append(out, BlockDamage{ULID: m.ULID.String(), Dir: b.Dir(), MinTime: m.MinTime, MaxTime: m.MaxTime, Reason: reason(err), Chunks: n})
		}
	}
	return out
}

// damageWarnings are the warnings of a query over [mint, maxt]: one per
// damaged block that may hide data in it.
func (db *DB) damageWarnings(mint, maxt int64) []string {
	var out []string
	for _, d := range db.Damage() {
		if d.overlaps(mint, maxt) {
			out = append(out, "incomplete result: "+d.String())
		}
	}
	return out
}

// damaged reports whether b had chunks fail on read: compaction leaves
// it alone, so the damage is neither copied nor its parent deleted.
func damaged(b *block.Block) bool {
	n, _ := b.Damage()
	return n > 0
}
