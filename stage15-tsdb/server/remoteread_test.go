package server

import (
	"testing"

	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage15-tsdb/config"
)

// TestRemoteReadLimits: each remote_read setting reaches the handler's
// limits, and Prometheus's 0 (no limit) becomes the handler's negative.
func TestRemoteReadLimits(t *testing.T) {
	for _, c := range []struct {
		in   config.RemoteReadConfig
		want remote.ReadLimits
	}{
		{config.Default().RemoteRead, remote.ReadLimits{SampleLimit: 50_000_000, Concurrency: 10, FrameBytes: 1 << 20}},
		{config.RemoteReadConfig{SampleLimit: 10, ConcurrentLimit: 3, MaxBytesInFrame: 4096}, remote.ReadLimits{SampleLimit: 10, Concurrency: 3, FrameBytes: 4096}},
		{config.RemoteReadConfig{MaxBytesInFrame: 1}, remote.ReadLimits{SampleLimit: -1, Concurrency: -1, FrameBytes: 1}},
	} {
		if got := remoteReadLimits(c.in); got != c.want {
			t.Errorf("%+v: %+v, want %+v", c.in, got, c.want)
		}
	}
}
