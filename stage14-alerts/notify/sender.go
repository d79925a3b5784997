package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// SenderOptions configure a Sender. Zero values mean the defaults noted.
type SenderOptions struct {
	// URLs are Alertmanager base URLs ("http://alertmanager:9093"); every
	// alert goes to each.
	URLs []string
	// ExternalLabels are added to every alert that lacks them.
	ExternalLabels model.Labels
	// QueueCapacity bounds the alerts waiting; beyond it the oldest are
	// dropped. Defaults to 10,000, as Prometheus's.
	QueueCapacity int
	// MaxBatch is the most alerts in one request. Defaults to 256.
	MaxBatch int
	// Timeout bounds one request. Defaults to 10s.
	Timeout    time.Duration
	HTTPClient *http.Client
}

// Sender delivers alerts to real Alertmanagers as Prometheus's notifier
// does: queued, then posted in batches as JSON to /api/v2/alerts. A failed
// request is not retried: the rule manager re-sends firing alerts every
// resend delay, which is the retry.
type Sender struct {
	opts SenderOptions

	mu      sync.Mutex
	queue   []*Alert
	more    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	started bool // under mu
	stats   SenderStats
}

// SenderStats count what the sender did.
type SenderStats struct {
	Sent, Dropped, Errors int64
	LastError             error
}

// postableAlert is Alertmanager API v2's PostableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewSender returns a sender; Start begins delivery.
func NewSender(opts SenderOptions) *Sender {
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 10_000
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	for i, u := range opts.URLs {
		opts.URLs[i] = strings.TrimRight(u, "/")
	}
	return &Sender{opts: opts, more: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
}

// Send queues alerts (never blocks).
func (s *Sender) Send(alerts ...*Alert) {
	s.mu.Lock()
	for _, a := range alerts {
		c := a.clone()
		for l := range s.opts.ExternalLabels.All() {
			if !c.Labels.Has(l.Name) {
				c.Labels, _ = c.Labels.With(l.Name, l.Value)
			}
		}
		s.queue = append(s.queue, c)
	}
	if over := len(s.queue) - s.opts.QueueCapacity; over > 0 {
		s.queue = s.queue[over:]
		s.stats.Dropped += int64(over)
	}
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
}

// Start delivers queued alerts in the background until Stop.
func (s *Sender) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	go func() {
		defer close(s.stopped)
		for {
			select {
			case <-s.done:
				return
			case <-s.more:
				_ = s.Flush(context.Background())
			}
		}
	}()
}

// Stop ends background delivery and sends what is still queued, as
// Prometheus drains its queue on shutdown, within one request timeout per
// Alertmanager.
func (s *Sender) Stop() {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if started {
		close(s.done)
		<-s.stopped
	}
	_ = s.Flush(context.Background())
}

// Flush sends everything queued now, batch by batch, to every
// Alertmanager, and returns the first error.
func (s *Sender) Flush(ctx context.Context) error {
	var first error
	for {
		s.mu.Lock()
		n := min(len(s.queue), s.opts.MaxBatch)
		batch := s.queue[:n]
		s.queue = s.queue[n:]
		s.mu.Unlock()
		if n == 0 {
			return first
		}
		body := make([]postableAlert, len(batch))
		for i, a := range batch {
			body[i] = postableAlert{Labels: a.Labels.Map(), Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL}
		}
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		for _, u := range s.opts.URLs {
			err := s.post(ctx, u+"/api/v2/alerts", b)
			s.mu.Lock()
			if err != nil {
				s.stats.Errors++
				s.stats.LastError = err
				if first == nil {
					first = err
				}
			} else {
				s.stats.Sent += int64(len(batch))
			}
			s.mu.Unlock()
		}
	}
}

func (s *Sender) post(ctx context.Context, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stage14-alerts")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("notify: post %s: %w", url, err)
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify: post %s: bad response status %s: %s", url, resp.Status, bytes.TrimSpace(detail))
	}
	return nil
}

// Stats returns the counters.
func (s *Sender) Stats() SenderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
