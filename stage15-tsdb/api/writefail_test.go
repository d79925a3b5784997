package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
)

// failingDB is a DB whose commits can be made to fail: with an error from
// the storage (a full disk: nothing stored), or with a *tsdb.CommitError
// (the batch's samples refused at commit).
type failingDB struct {
	*tsdb.DB
	mu   sync.Mutex
	fail func(n int) error // n: samples in the batch; nil: commit normally
}

func (f *failingDB) Appender(ctx context.Context) tsdb.Appender {
	return &failingAppender{Appender: f.DB.Appender(ctx), db: f}
}

func (f *failingDB) setFail(fn func(n int) error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

type failingAppender struct {
	tsdb.Appender
	db *failingDB
	n  int
}

func (a *failingAppender) Append(ref uint64, lset model.Labels, t int64, v float64) (uint64, error) {
	r, err := a.Appender.Append(ref, lset, t, v)
	if err == nil {
		a.n++
	}
	return r, err
}

func (a *failingAppender) Commit() error {
	a.db.mu.Lock()
	fail := a.db.fail
	a.db.mu.Unlock()
	if fail == nil {
		return a.Appender.Commit()
	}
	a.Appender.Rollback()
	return fail(a.n)
}

// TestWriteAnswersOnlyWhatIsStored: every write path (remote write in
// protobuf and JSON, the guide's /write) answers 2xx only when its samples
// are stored. A commit that fails (the WAL cannot write: a full disk) is a
// 500 and stores nothing; samples the storage refuses at commit are a 400
// that counts them; once the storage works again the same request is
// answered 2xx and stored.
func TestWriteAnswersOnlyWhatIsStored(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fdb := &failingDB{DB: db}
	a := New(fdb, Options{Logger: discardLogger(), Now: func() time.Time { return time.Unix(3600, 0) }})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	full := func(int) error { return fmt.Errorf("tsdb: commit: wal: write: %w", syscall.ENOSPC) }
	refused := func(n int) error { return &tsdb.CommitError{OutOfBounds: n} }
	paths := []struct {
		name, path, ct string
		body           func(metric string) []byte
		ok             int
	}{
		{"remote write", "/api/v1/write", "application/x-protobuf", func(m string) []byte {
			return remote.Compress(nil, prompbtest.Marshal(t, []prompbtest.Series{{Labels: [][2]string{{"__name__", m}}, Samples: [][2]float64{{1000, 1}, {2000, 2}}}}, nil))
		}, 204},
		{"remote write JSON", "/api/v1/write", "application/json", func(m string) []byte {
			return []byte(`{"timeseries":[{"labels":[{"name":"__name__","value":"` + m + `"}],"samples":[{"timestamp":1000,"value":1},{"timestamp":2000,"value":2}]}]}`)
		}, 204},
		{"text lines", "/write", "text/plain", func(m string) []byte {
			return []byte(m + " 1 1\n" + m + " 2 2\n")
		}, 200},
	}
	for i, p := range paths {
		metric := fmt.Sprintf("m%d", i)
		stored := func() string {
			return get(t, srv.URL+q("/api/v1/query_range", "query", metric, "start", "0", "end", "2", "step", "1")).body
		}
		empty := stored()
		fdb.setFail(full)
		if r := post(t, srv.URL+p.path, p.ct, p.body(metric)); r.code != 500 || !strings.Contains(r.body, "no space left on device") {
			t.Errorf("%s, commit failing: %d %s, want 500 naming the cause", p.name, r.code, r.body)
		}
		fdb.setFail(refused)
		if r := post(t, srv.URL+p.path, p.ct, p.body(metric)); r.code != 400 || !strings.Contains(r.body, "out of bounds") {
			t.Errorf("%s, samples refused at commit: %d %s, want 400 counting them", p.name, r.code, r.body)
		}
		if got := stored(); got != empty {
			t.Fatalf("%s: failed writes stored something: %s", p.name, got)
		}
		fdb.setFail(nil)
		if r := post(t, srv.URL+p.path, p.ct, p.body(metric)); r.code != p.ok {
			t.Fatalf("%s, storage working again: %d %s, want %d", p.name, r.code, r.body, p.ok)
		}
		if got := stored(); !strings.Contains(got, `"values":[[1,"1"],[2,"2"]]`) {
			t.Fatalf("%s: after the good write: %s", p.name, got)
		}
	}
	if !errors.Is(full(0), syscall.ENOSPC) {
		t.Fatal("the injected failure is not a full disk")
	}
}
