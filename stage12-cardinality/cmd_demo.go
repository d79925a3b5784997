package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

// demoStart is the simulated clock's start: fixed, so every run prints
// the same figures.
var demoStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// stateDir is where the tracker and the limits live inside a data dir.
func stateDir(dataDir string) string { return filepath.Join(dataDir, "cardinality") }

// Defaults of the demo and the subcommands.
const (
	defaultMetricLimit = 10_000    // the guide's limit for http_requests, here every metric's
	defaultForecastMax = 2_000_000 // the guide's recommended limit
	scrapesPerHour     = 2
)

// simClock is the demo's clock, moved by the workload.
type simClock struct{ t time.Time }

func (c *simClock) Now() time.Time { return c.t }

// demoRun is a finished demo: the DB (open), its limiter and tracker, and
// the exact counts of what was offered.
type demoRun struct {
	dir     string
	db      *tsdb.DB
	lim     *cardinality.Limiter
	tr      *cardinality.Tracker
	offered *cardinality.Counter
	metrics []string
	samples int
	refused int
	elapsed time.Duration
}

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--hours H] [--data-dir DIR]", stderr)
	hours := fs.Int("hours", 24, "simulated hours of workload")
	dataDir := fs.String("data-dir", "", "keep the DB and the cardinality state in DIR (must be new or empty; default: a temp dir, removed)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *hours < 2 || *hours > 24*14 {
		return cli.Usagef("--hours in [2, 336]")
	}
	d, cleanup, err := runDemo(*dataDir, *hours, stderr)
	if err != nil {
		return err
	}
	defer cleanup()

	fmt.Fprintf(stdout, "Workload: %d simulated hours, %s samples offered to a stage06 DB through the limiter in %s\n",
		*hours, cli.Thousands(d.samples), cli.Duration(d.elapsed))
	fmt.Fprintf(stdout, "  (http_requests{path} with user ids in the paths, container_cpu{pod_id} churning, api_latency{user_id},\n")
	fmt.Fprintf(stdout, "   and well-behaved node_cpu, up, http_server_duration_bucket; %s writes refused)\n\n", cli.Thousands(d.refused))
	ex := d.offered.Exact()
	printReport(stdout, reportView{r: cardinality.Analyze(d.tr, cardinality.AnalyzerOptions{}), exact: &ex, exactWhat: "offered"})
	printTops(stdout, d.tr)
	printLimits(stdout, d.lim, d.db.Head(), d.metrics, d.tr)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "forecast --days=30")
	fmt.Fprintln(stdout, "------------------")
	f, err := cardinality.Predict(cardinality.TotalHistory(d.tr.History()), cardinality.ForecastOptions{Days: 30, Limit: defaultForecastMax})
	if err != nil {
		return err
	}
	printForecast(stdout, f)
	fmt.Fprintln(stdout)
	size := fileSize(filepath.Join(stateDir(d.dir), cardinality.TrackerFile))
	if *dataDir != "" {
		fmt.Fprintf(stdout, "State saved in %s: the tracker (%s), limits.json; try: go run ./%s analyze --data-dir %s\n",
			stateDir(d.dir), cli.Bytes(size), prog, d.dir)
	} else {
		fmt.Fprintf(stdout, "Tracker file: %s for %d metrics (HLLs, heavy hitters, %d hourly snapshots)\n",
			cli.Bytes(size), len(d.metrics), len(d.tr.History()))
	}
	return nil
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// printTops prints the heaviest label values and series.
func printTops(w io.Writer, tr *cardinality.Tracker) {
	fmt.Fprintln(w, "Label values bringing the most stored series (Space-Saving; true count within [count-err, count]):")
	for _, e := range tr.TopLabelValues(5) {
		fmt.Fprintf(w, "  %-48s %8s series  (err ≤ %s)\n",
			fmt.Sprintf("%s{%s=%q}", e.Key.Metric, e.Key.Name, e.Key.Value), cli.Thousands(int(e.Count)), cli.Thousands(int(e.Err)))
	}
	fmt.Fprintln(w, "Series written most (Space-Saving over samples):")
	for _, e := range tr.TopSeries(3) {
		fmt.Fprintf(w, "  %-48s %8s samples  (at least %s)\n", e.Labels.String(), cli.Thousands(int(e.Count)), cli.Thousands(int(e.Count-e.Err)))
	}
	fmt.Fprintln(w)
}

// runDemo runs the workload into a DB in dir (a temp dir if ""), and
// saves the tracker and limits there. cleanup closes the DB and removes a
// temp dir.
func runDemo(dir string, hours int, progress io.Writer) (*demoRun, func(), error) {
	cleanup := func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stage12-demo-")
		if err != nil {
			return nil, nil, err
		}
		dir = tmp
		cleanup = func() { _ = os.RemoveAll(tmp) }
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("data directory %s is not empty: the demo writes into a new one", dir)
	}
	clk := &simClock{t: demoStart}
	tr := cardinality.NewTracker(cardinality.TrackerOptions{Now: clk.Now})
	lim := cardinality.NewLimiter(cardinality.Limits{Default: defaultMetricLimit}, cardinality.LimiterOptions{Tracker: tr, Now: clk.Now})
	db, err := tsdb.Open(dir, tsdb.Options{
		WALSync: wal.SyncNone, NoBackgroundCompaction: true,
		Now: clk.Now, AdmitSeries: lim.Admit,
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	d := &demoRun{dir: dir, db: db, lim: lim, tr: tr, offered: cardinality.NewCounter()}
	closeAll := func() { _ = db.Close(); cleanup() }

	w := newWorkload()
	d.metrics = w.metricNames()
	bar := cli.NewProgress(progress, "simulated hours", int64(hours), time.Second)
	start := time.Now()
	for h := range hours {
		for s := range scrapesPerHour {
			clk.t = demoStart.Add(time.Duration(h)*time.Hour + time.Duration(s)*time.Hour/scrapesPerHour)
			if err := d.scrape(w.scrape(h, s), clk.t.UnixMilli()); err != nil {
				bar.Done()
				closeAll()
				return nil, nil, err
			}
		}
		clk.t = demoStart.Add(time.Duration(h+1)*time.Hour - time.Second)
		tr.Snapshot()
		bar.Add(1)
	}
	bar.Done()
	d.elapsed = time.Since(start)
	if err := tr.Save(stateDir(dir)); err != nil {
		closeAll()
		return nil, nil, err
	}
	if err := lim.Save(stateDir(dir)); err != nil {
		closeAll()
		return nil, nil, err
	}
	return d, closeAll, nil
}

// chattyEvery is the interval of the chatty series.
const chattyEvery = 10 * time.Second

// scrape appends one scrape's samples in one batch: a refused series is
// a dropped write (the limiter counts it), the batch goes on. The chatty
// series get a sample every chattyEvery since the previous scrape.
func (d *demoRun) scrape(series []model.Labels, ts int64) error {
	app := d.db.Appender(nil)
	for i, svc := range []string{"checkout", "search", "auth"}[:3] {
		ls := model.MustFromStrings("__name__", "debug_events", "service", svc)
		h := ls.Hash()
		d.offered.Add(ls, h)
		step := chattyEvery.Milliseconds()
		n := int((time.Hour / scrapesPerHour) / chattyEvery / time.Duration(i+1))
		for k := range n {
			d.samples++
			if _, err := app.Append(0, ls, ts-int64(n-1-k)*step, float64(k)); err != nil {
				_ = app.Rollback()
				return err
			}
			d.tr.Sample(h, ls)
		}
	}
	for i, ls := range series {
		h := ls.Hash()
		d.offered.Add(ls, h)
		d.samples++
		if _, err := app.Append(0, ls, ts, float64(i)); err != nil {
			if errors.Is(err, cardinality.ErrSeriesLimit) {
				d.refused++
				continue
			}
			_ = app.Rollback()
			return err
		}
		d.tr.Sample(h, ls)
	}
	return app.Commit()
}

// workload generates the demo's series, hour by hour, from a fixed seed.
type workload struct {
	rng      *rand.Rand
	paths    []int // user ids seen in http_requests paths
	users    []int
	pods     []string
	nextUser int
}

func newWorkload() *workload {
	w := &workload{rng: rand.New(rand.NewPCG(12, 12)), nextUser: 100000}
	return w
}

func (w *workload) metricNames() []string {
	return []string{"http_requests", "container_cpu", "api_latency", "node_cpu", "up", "http_server_duration_bucket", "debug_events"}
}

var (
	methods  = []string{"GET", "POST", "PUT", "DELETE"}
	statuses = []string{"200", "201", "400", "404", "500"}
	buckets  = []string{"0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "+Inf"}
	modes    = []string{"user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"}
	jobs     = []string{"node", "api", "checkout", "postgres"}
)

func (w *workload) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[w.rng.IntN(16)]
	}
	return string(b)
}

// scrape returns the series written in scrape s of hour h. Each hour new
// user ids appear in paths (1,200 + 60·h of them) and as user_id (800 +
// 40·h), 500 pods are replaced (2 containers each); the first scrape of an
// hour also revisits 500 older paths. The well-behaved metrics write the
// same 840 series every scrape; three debug_events series are chatty,
// written every 10 s between scrapes (the heavy hitters by samples).
func (w *workload) scrape(h, s int) []model.Labels {
	var out []model.Labels
	add := func(nv ...string) { out = append(out, model.MustFromStrings(nv...)) }
	for i := range 10 {
		inst := fmt.Sprintf("node-%02d:9100", i)
		for cpu := range 8 {
			for _, m := range modes {
				add("__name__", "node_cpu", "instance", inst, "cpu", fmt.Sprint(cpu), "mode", m)
			}
		}
		for _, j := range jobs {
			add("__name__", "up", "job", j, "instance", inst)
		}
	}
	for _, m := range methods {
		for _, st := range statuses {
			for _, le := range buckets {
				add("__name__", "http_server_duration_bucket", "method", m, "status", st, "le", le)
			}
		}
	}
	if s == 0 {
		for range 1200 + 60*h {
			w.paths = append(w.paths, w.nextUser)
			w.nextUser++
		}
		for range 800 + 40*h {
			w.users = append(w.users, w.nextUser)
			w.nextUser++
		}
		w.pods = w.pods[:0]
		for range 500 {
			w.pods = append(w.pods, fmt.Sprintf("checkout-%s-%s", w.hex(9), w.hex(5)))
		}
	}
	fresh := 1200 + 60*h
	for i, id := range w.paths[len(w.paths)-fresh:] {
		add("__name__", "http_requests", "method", methods[i%2], "path", fmt.Sprintf("/api/users/%d/orders", id))
	}
	if s == 0 && len(w.paths) > fresh {
		old := len(w.paths) - fresh
		for _, i := range w.rng.Perm(old)[:min(500, old)] {
			id := w.paths[i]
			add("__name__", "http_requests", "method", "GET", "path", fmt.Sprintf("/api/users/%d/orders", id))
		}
	}
	for i, id := range w.users[len(w.users)-(800+40*h):] {
		add("__name__", "api_latency", "method", methods[i%2], "user_id", fmt.Sprint(id))
	}
	for _, p := range w.pods {
		for _, c := range []string{"app", "sidecar"} {
			add("__name__", "container_cpu", "pod_id", p, "container", c)
		}
	}
	return out
}
