package notify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage14-alerts/clock"
)

// Silence mutes the alerts its matchers all match between StartsAt and
// EndsAt. Its JSON is Alertmanager's API v2 silence.
type Silence struct {
	ID        string           `json:"id"`
	Matchers  []SilenceMatcher `json:"matchers"`
	StartsAt  time.Time        `json:"startsAt"`
	EndsAt    time.Time        `json:"endsAt"`
	UpdatedAt time.Time        `json:"updatedAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
	Status    *SilenceStatus   `json:"status,omitempty"`
}

// SilenceMatcher is one matcher in Alertmanager's API form.
type SilenceMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// SilenceStatus is "pending", "active" or "expired".
type SilenceStatus struct {
	State string `json:"state"`
}

// State at t: pending before StartsAt, expired from EndsAt on.
func (s *Silence) State(t time.Time) string {
	switch {
	case !s.EndsAt.After(t):
		return "expired"
	case s.StartsAt.After(t):
		return "pending"
	}
	return "active"
}

// MatchersOf turns parsed matchers into a silence's.
func MatchersOf(ms Matchers) []SilenceMatcher {
	out := make([]SilenceMatcher, len(ms))
	for i, m := range ms {
		t := m.Type()
		out[i] = SilenceMatcher{
			Name:    m.Name(),
			Value:   m.Value(),
			IsRegex: t == index.MatchRegexp || t == index.MatchNotRegexp,
			IsEqual: t == index.MatchEqual || t == index.MatchRegexp,
		}
	}
	return out
}

func (s *Silence) matchers() (Matchers, error) {
	out := make(Matchers, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		t := index.MatchEqual
		switch {
		case m.IsRegex && m.IsEqual:
			t = index.MatchRegexp
		case m.IsRegex:
			t = index.MatchNotRegexp
		case !m.IsEqual:
			t = index.MatchNotEqual
		}
		nm, err := NewMatcher(t, m.Name, m.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, nm)
	}
	return out, nil
}

// Errors of the silence store.
var (
	ErrSilenceNotFound = errors.New("silence not found")
	ErrBadSilence      = errors.New("bad silence")
)

// Silences is the set of silences, kept in a JSON file so that they survive
// restarts and so that `silence add|expire`, run as another process, reaches
// a running notifier: the store re-reads the file when it changes.
type Silences struct {
	mu        sync.Mutex
	path      string // "": in memory only
	clock     clock.Clock
	list      []*Silence
	matchers  map[string]Matchers
	fileStamp time.Time
	fileSize  int64
	// Retention is how long an expired silence is kept. Defaults to 120h,
	// Alertmanager's data retention.
	Retention time.Duration
}

// OpenSilences reads the silences stored at path (missing: none yet). An
// empty path keeps them in memory.
func OpenSilences(path string, clk clock.Clock) (*Silences, error) {
	if clk == nil {
		clk = clock.Real()
	}
	s := &Silences{path: path, clock: clk, matchers: map[string]Matchers{}, Retention: 120 * time.Hour}
	if err := s.reloadLocked(true); err != nil {
		return nil, err
	}
	return s, nil
}

// reloadLocked re-reads the file if it changed (or always, with force).
func (s *Silences) reloadLocked(force bool) error {
	if s.path == "" {
		return nil
	}
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	if !force && fi.ModTime().Equal(s.fileStamp) && fi.Size() == s.fileSize {
		return nil
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	var list []*Silence
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("silences: %s: %w", s.path, err)
	}
	ms := map[string]Matchers{}
	for _, sil := range list {
		m, err := sil.matchers()
		if err != nil {
			return fmt.Errorf("silences: %s: silence %s: %w", s.path, sil.ID, err)
		}
		sil.Status = nil
		ms[sil.ID] = m
	}
	s.list, s.matchers = list, ms
	s.fileStamp, s.fileSize = fi.ModTime(), fi.Size()
	return nil
}

// saveLocked writes the file atomically: a temporary file renamed over it.
func (s *Silences) saveLocked() error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("silences: %w", err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		s.fileStamp, s.fileSize = fi.ModTime(), fi.Size()
	}
	return nil
}

// Add stores a new silence and returns its ID. A zero StartsAt means now.
// It must have matchers, at least one of which does not match the empty
// string (a silence of everything is refused), and end after it starts.
func (s *Silences) Add(sil Silence) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return "", err
	}
	now := s.clock.Now()
	if sil.StartsAt.IsZero() {
		sil.StartsAt = now
	}
	ms, err := sil.matchers()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSilence, err)
	}
	if len(ms) == 0 {
		return "", fmt.Errorf("%w: at least one matcher required", ErrBadSilence)
	}
	empty := model.Labels{}
	allEmpty := true
	for _, m := range ms {
		allEmpty = allEmpty && m.Matches(empty)
	}
	if allEmpty {
		return "", fmt.Errorf("%w: at least one matcher must not match the empty string", ErrBadSilence)
	}
	if !sil.EndsAt.After(sil.StartsAt) {
		return "", fmt.Errorf("%w: end time must not be before start time", ErrBadSilence)
	}
	if !sil.EndsAt.After(now) {
		return "", fmt.Errorf("%w: end time can't be in the past", ErrBadSilence)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	id[6] = id[6]&0x0f | 0x40 // a version 4 UUID, as Alertmanager's IDs
	id[8] = id[8]&0x3f | 0x80
	h := hex.EncodeToString(id[:])
	sil.ID = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	sil.UpdatedAt = now
	sil.Status = nil
	c := sil
	s.list = append(s.list, &c)
	s.matchers[c.ID] = ms
	if err := s.saveLocked(); err != nil {
		return "", err
	}
	return c.ID, nil
}

// Expire ends a silence now (a pending one never starts).
func (s *Silences) Expire(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return err
	}
	now := s.clock.Now()
	for _, sil := range s.list {
		if sil.ID != id {
			continue
		}
		switch sil.State(now) {
		case "expired":
			return fmt.Errorf("%w: silence %s already expired", ErrBadSilence, id)
		case "pending":
			sil.StartsAt = now
		}
		sil.EndsAt, sil.UpdatedAt = now, now
		return s.saveLocked()
	}
	return fmt.Errorf("%w: %s", ErrSilenceNotFound, id)
}

// List returns the silences with their state: active first, then pending,
// then expired, each by end time. Silences expired for longer than
// Retention are left out.
func (s *Silences) List() ([]Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reloadLocked(false); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	rank := map[string]int{"active": 0, "pending": 1, "expired": 2}
	var out []Silence
	for _, sil := range s.list {
		st := sil.State(now)
		if st == "expired" && now.Sub(sil.EndsAt) > s.Retention {
			continue
		}
		c := *sil
		c.Status = &SilenceStatus{State: st}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Silence) int {
		if d := rank[a.Status.State] - rank[b.Status.State]; d != 0 {
			return d
		}
		return a.EndsAt.Compare(b.EndsAt)
	})
	return out, nil
}

// Mutes returns the IDs of the active silences that match l at now.
func (s *Silences) Mutes(l model.Labels, now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A file that cannot be read keeps the silences last read: muting
	// continues as before rather than stopping.
	_ = s.reloadLocked(false)
	var ids []string
	for _, sil := range s.list {
		if sil.State(now) == "active" && s.matchers[sil.ID].Matches(l) {
			ids = append(ids, sil.ID)
		}
	}
	return ids
}
