package cluster

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/ingest"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// A cached ref the DB no longer knows (its series dropped by a head
// truncation, then written again under a new ref) is replaced by the ref
// the write found by labels: otherwise every later write of the series
// pays the failed lookup and the label build the cache is there to save.
func TestStoreWriteRefreshesStaleRef(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	series := genSeries(1, 1, nowMs(), 1)
	body := encodeWrite(series)
	raw, err := remote.Decompress(nil, body, maxBody)
	if err != nil {
		t.Fatal(err)
	}
	var key []byte
	var dec remote.Decoder
	if _, err := dec.Decode(raw, func(ts *remote.TimeSeries) error {
		key = slices.Clone(ts.Key)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	refs := ingest.NewSeriesCache(1 << 10)
	const stale = 1 << 40 // a ref the DB never handed out
	refs.Set(remote.V1Format, key, nil, stale)
	if n, err := storeWrite(db, refs, httptest.NewRequest(http.MethodPost, PathReplicaWrite, bytes.NewReader(body))); err != nil || n != 1 {
		t.Fatalf("stored %d, %v; want 1", n, err)
	}
	if got := refs.Row(remote.V1Format, key).Get(nil, 0); got == stale || got == 0 {
		t.Fatalf("cached ref after the write by labels: %d, want the series' new ref", got)
	}
}
