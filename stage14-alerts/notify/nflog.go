package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// NotificationLog remembers, per group and receiver integration, which
// alerts the last successful notification said were firing and resolved,
// and when. A flush compares the group's alerts with it to decide whether
// anything is worth sending (deduplication); it is kept in a JSON file so
// that a restart does not notify everyone again.
type NotificationLog struct {
	mu      sync.Mutex
	path    string
	entries map[string]*LogEntry
}

// LogEntry is one notification that went out.
type LogEntry struct {
	GroupKey  string    `json:"groupKey"`
	Receiver  string    `json:"receiver"` // receiver/integration/index
	Firing    []uint64  `json:"firing"`   // alert fingerprints, sorted
	Resolved  []uint64  `json:"resolved"`
	Timestamp time.Time `json:"timestamp"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// OpenNotificationLog reads the log at path (missing: empty); "" keeps it
// in memory.
func OpenNotificationLog(path string) (*NotificationLog, error) {
	n := &NotificationLog{path: path, entries: map[string]*LogEntry{}}
	if path == "" {
		return n, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nflog: %w", err)
	}
	var list []*LogEntry
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("nflog: %s: %w", path, err)
	}
	for _, e := range list {
		n.entries[e.GroupKey+"\x00"+e.Receiver] = e
	}
	return n, nil
}

// Query returns the last entry for the group and receiver integration, if
// it has not expired by now.
func (n *NotificationLog) Query(groupKey, receiver string, now time.Time) (*LogEntry, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.entries[groupKey+"\x00"+receiver]
	if !ok || !e.ExpiresAt.After(now) {
		return nil, false
	}
	c := *e
	return &c, true
}

// Log records a notification sent at now; the entry expires after expiry.
func (n *NotificationLog) Log(groupKey, receiver string, firing, resolved []uint64, now time.Time, expiry time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	e := &LogEntry{
		GroupKey: groupKey, Receiver: receiver,
		Firing: sortedCopy(firing), Resolved: sortedCopy(resolved),
		Timestamp: now, ExpiresAt: now.Add(expiry),
	}
	n.entries[groupKey+"\x00"+receiver] = e
	// Expired entries go when the log is written.
	for k, x := range n.entries {
		if !x.ExpiresAt.After(now) {
			delete(n.entries, k)
		}
	}
	return n.saveLocked()
}

func (n *NotificationLog) saveLocked() error {
	if n.path == "" {
		return nil
	}
	list := make([]*LogEntry, 0, len(n.entries))
	for _, e := range n.entries {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *LogEntry) int {
		if c := strings.Compare(a.GroupKey, b.GroupKey); c != 0 {
			return c
		}
		return strings.Compare(a.Receiver, b.Receiver)
	})
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.path), 0o755); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	tmp := n.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	if err := os.Rename(tmp, n.path); err != nil {
		return fmt.Errorf("nflog: %w", err)
	}
	return nil
}

func sortedCopy(s []uint64) []uint64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// subset reports whether every element of a (sorted) is in b.
func subset(a []uint64, b map[uint64]bool) bool {
	for _, x := range a {
		if !b[x] {
			return false
		}
	}
	return true
}
