package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// Defaults of HintsConfig.
const (
	DefaultHintMaxBytes = 64 << 20
	DefaultHintMaxAge   = 3 * time.Hour
)

// ErrHintsFull: the hints for a node reached HintsConfig.MaxBytes; the
// write is not kept for it (healing will stream what it missed).
var ErrHintsFull = errors.New("cluster: hints full")

// RecordHint is the stage04 record type of a hint (the WAL reserves only 0;
// 1-3 are a TSDB head's records).
const RecordHint wal.RecordType = 'H'

// HintsConfig configures OpenHints.
type HintsConfig struct {
	// Dir holds one stage04 WAL per node that has hints: Dir/<node ID>.
	Dir string
	// MaxBytes bounds each node's hints (0: DefaultHintMaxBytes).
	MaxBytes int64
	// MaxAge: hints older than this are dropped at replay, not sent
	// (0: DefaultHintMaxAge). Past it, healing's streaming is the
	// cheaper way to bring a node back.
	MaxAge time.Duration
	Now    func() time.Time
}

// Hints is hinted handoff: writes meant for a replica that did not take
// them, kept on the coordinator in a write-ahead log per replica and sent
// when it is back. A record is the type byte RecordHint, the write's time
// (8 bytes, unix ns, LE) and the remote write 1.0 request body. Safe for concurrent use.
type Hints struct {
	cfg    HintsConfig
	mu     sync.Mutex
	per    map[string]*hintLog
	closed bool
}

type hintLog struct {
	mu    sync.Mutex // held across a replay
	w     *wal.WAL
	bytes int64
	recs  int
}

// HintStats count what hints did.
type HintStats struct {
	Stored, Dropped, Replayed, Expired int
	// Refused: hints the node refused at replay (a 4xx, ErrNodeRefused),
	// dropped: it would refuse them again at every replay.
	Refused int
}

// OpenHints opens the hints directory, keeping the hints a previous run
// left.
func OpenHints(cfg HintsConfig) (*Hints, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultHintMaxBytes
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultHintMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: hints dir: %w", err)
	}
	h := &Hints{cfg: cfg, per: map[string]*hintLog{}}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("cluster: hints dir: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		l, err := h.open(e.Name())
		if err != nil {
			h.Close()
			return nil, err
		}
		h.per[e.Name()] = l
	}
	return h, nil
}

func (h *Hints) open(node string) (*hintLog, error) {
	dir := filepath.Join(h.cfg.Dir, node)
	w, err := wal.Open(dir, wal.Options{Sync: wal.SyncBatch})
	if err != nil {
		return nil, fmt.Errorf("cluster: hints for %s: %w", node, err)
	}
	l := &hintLog{w: w}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			l.bytes += info.Size()
		}
	}
	return l, nil
}

// ErrHintsClosed: Add after Close.
var ErrHintsClosed = errors.New("cluster: hints closed")

func (h *Hints) log(node string) (*hintLog, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrHintsClosed
	}
	if l, ok := h.per[node]; ok {
		return l, nil
	}
	if node == "" || node == "." || node == ".." || filepath.Base(node) != node {
		return nil, fmt.Errorf("cluster: hints: bad node ID %q", node)
	}
	l, err := h.open(node)
	if err != nil {
		return nil, err
	}
	h.per[node] = l
	return l, nil
}

// Add keeps series for node. It fails with ErrHintsFull past MaxBytes.
func (h *Hints) Add(node string, series []remote.Series) error {
	rec := binary.LittleEndian.AppendUint64([]byte{byte(RecordHint)}, uint64(h.cfg.Now().UnixNano()))
	rec = remote.AppendWriteRequest(rec, series)
	for {
		l, err := h.log(node)
		if err != nil {
			return err
		}
		l.mu.Lock()
		if l.w == nil {
			// A replay emptied and removed this log while we waited
			// for it: the next h.log opens a new one.
			l.mu.Unlock()
			continue
		}
		err = h.addTo(l, node, rec)
		l.mu.Unlock()
		return err
	}
}

func (h *Hints) addTo(l *hintLog, node string, rec []byte) error {
	if l.bytes+int64(len(rec))+8 > h.cfg.MaxBytes {
		return fmt.Errorf("%w: %s has %d bytes of hints, limit %d", ErrHintsFull, node, l.bytes, h.cfg.MaxBytes)
	}
	if err := l.w.Log(rec); err != nil {
		return fmt.Errorf("cluster: hints for %s: %w", node, err)
	}
	l.bytes += int64(len(rec)) + 8 // the frame's header
	l.recs++
	return nil
}

// logs copies the table: a log's lock is never taken under h.mu, since
// Replay takes h.mu while holding its log's lock.
func (h *Hints) logs() map[string]*hintLog {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]*hintLog, len(h.per))
	for id, l := range h.per {
		out[id] = l
	}
	return out
}

// Pending is the bytes of hints kept per node.
func (h *Hints) Pending() map[string]int64 {
	out := map[string]int64{}
	for id, l := range h.logs() {
		l.mu.Lock()
		if l.bytes > 0 {
			out[id] = l.bytes
		}
		l.mu.Unlock()
	}
	return out
}

// Nodes lists the nodes that have hints.
func (h *Hints) Nodes() []string {
	var out []string
	for id := range h.Pending() {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Replay sends node's hints, oldest first, through send; those older
// than MaxAge are dropped, and so is one the node refuses (send's error
// is ErrNodeRefused). When every hint is sent (or dropped) the log is
// removed; on the first other error the log is kept whole (what was already
// sent will be sent again: node-to-node writes are idempotent).
func (h *Hints) Replay(ctx context.Context, node string, send func(context.Context, []remote.Series) error) (HintStats, error) {
	var st HintStats
	h.mu.Lock()
	l, ok := h.per[node]
	h.mu.Unlock()
	if !ok {
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return st, nil
	}
	dir := l.w.Dir()
	if err := l.w.Close(); err != nil {
		return st, fmt.Errorf("cluster: hints for %s: %w", node, err)
	}
	l.w = nil
	reopen := func(err error) (HintStats, error) {
		w, oerr := wal.Open(dir, wal.Options{Sync: wal.SyncBatch})
		if oerr != nil {
			return st, errors.Join(err, oerr)
		}
		l.w = w
		return st, err
	}
	r, err := wal.NewReader(dir)
	if err != nil {
		return reopen(fmt.Errorf("cluster: hints for %s: %w", node, err))
	}
	oldest := h.cfg.Now().Add(-h.cfg.MaxAge).UnixNano()
	var dec remote.Decoder
	for r.Next() {
		rec := r.Record()
		if len(rec) < 9 || wal.Type(rec) != RecordHint {
			continue
		}
		rec = rec[1:]
		if int64(binary.LittleEndian.Uint64(rec)) < oldest {
			st.Expired++
			continue
		}
		var series []remote.Series
		_, err := dec.Decode(rec[8:], func(ts *remote.TimeSeries) error {
			s, err := fromWire(ts)
			series = append(series, s)
			return err
		}, nil)
		if err != nil {
			continue // a damaged hint is dropped, not retried forever
		}
		if err := send(ctx, series); err != nil {
			if errors.Is(err, ErrNodeRefused) {
				st.Refused++ // refused now, refused at every replay
				continue
			}
			_ = r.Close()
			return reopen(fmt.Errorf("cluster: replay hints for %s: %w", node, err))
		}
		st.Replayed++
	}
	rerr := r.Err()
	_ = r.Close()
	if rerr != nil && !errors.Is(rerr, wal.ErrCorrupt) {
		return reopen(fmt.Errorf("cluster: hints for %s: %w", node, rerr))
	}
	if err := os.RemoveAll(dir); err != nil {
		return reopen(fmt.Errorf("cluster: hints for %s: %w", node, err))
	}
	h.mu.Lock()
	delete(h.per, node)
	h.mu.Unlock()
	return st, nil
}

// Close closes every log, keeping the hints on disk.
func (h *Hints) Close() error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	var errs []error
	for _, l := range h.logs() {
		l.mu.Lock()
		if l.w != nil {
			errs = append(errs, l.w.Close())
			l.w = nil
		}
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}
