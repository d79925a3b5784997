package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Integration delivers notifications to one destination.
type Integration interface {
	// Name is the kind: "webhook", "slack", "pagerduty", "stdout".
	Name() string
	// SendResolved says whether resolved alerts are sent (else they are
	// left out, and a notification of only resolved alerts is not sent).
	SendResolved() bool
	// Notify delivers one notification. retry says whether a failure may
	// succeed if tried again (a timeout, a 5xx), as opposed to a request
	// the destination refuses (a 4xx).
	Notify(ctx context.Context, d *Data) (retry bool, err error)
}

// postJSON posts v as JSON and classifies the answer: 2xx is success, 5xx
// and 429 may be retried, other statuses are final.
func postJSON(ctx context.Context, c *http.Client, url string, v any, timeout time.Duration) (bool, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stage14-alerts")
	resp, err := c.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	detail, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("unexpected status code %d", resp.StatusCode)
	if len(detail) > 0 {
		err = fmt.Errorf("unexpected status code %d: %s", resp.StatusCode, bytes.TrimSpace(detail))
	}
	return resp.StatusCode/100 == 5 || resp.StatusCode == http.StatusTooManyRequests, err
}

// backoff is the delay before retry attempt n (1-based): first, doubling,
// at most maxDelay.
func backoff(n int, first, maxDelay time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
