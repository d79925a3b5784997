package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// cmdRun is the program without a subcommand: with --config, the alerting
// engine on the wall clock; without, the demo.
func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "", "[--config RULES.yml (--data-dir DIR | --url URL) [flags]] | [demo flags]", stderr)
	config := fs.String("config", "", "rule file(s), comma-separated; without it the demo runs")
	dataDir := fs.String("data-dir", "", "stage06 DB to evaluate against and write results into (with --url: where results and notifier state go; default a temporary directory)")
	url := fs.String("url", "", "evaluate on this server's Prometheus query API (http://host:9090)")
	interval := fs.Duration("interval", time.Minute, "evaluation interval of groups that set none")
	notifyConfig := fs.String("notify-config", "", "Alertmanager-format configuration of the built-in notifier (default: print to stdout)")
	amURL := fs.String("alertmanager-url", "", "also send alerts to these Alertmanagers (comma-separated base URLs)")
	externalURL := fs.String("external-url", "", "URL this engine is reached at (alert generator links)")
	forDur := fs.Duration("for", 0, "stop after this long (default: until interrupted)")
	seconds := fs.Int("seconds", 720, "demo: simulated seconds to run")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *config == "" {
		return runDemo(stdout, *dataDir, *seconds)
	}
	if *dataDir == "" && *url == "" {
		return cli.Usagef("--config needs --data-dir DIR or --url URL; -h for help")
	}
	if *interval <= 0 {
		return cli.Usagef("--interval must be positive")
	}
	var nc *notify.Config
	if *notifyConfig != "" {
		c, err := notify.LoadConfigFile(*notifyConfig)
		if err != nil {
			return err
		}
		nc = c
	}
	// The transcript (evaluations) and stdout receivers (notifications)
	// write from different goroutines.
	stdout = &lockedWriter{w: stdout}
	tr := newTranscript(stdout, nil)
	tr.timeFormat = time.DateTime
	e, err := openEngine(engineOpts{
		dataDir: *dataDir, url: *url, clock: clock.Real(), interval: *interval,
		notifyConfig: nc, amURLs: splitList(*amURL), externalURL: *externalURL, stdout: stdout,
		onGroupEval: tr.groupEvaluated, onNotify: tr.notified,
	})
	if err != nil {
		return err
	}
	defer e.close()
	tr.query = e.query

	files := splitList(*config)
	if err := e.mgr.Update(files...); err != nil {
		return err
	}
	printLoaded(stdout, e.mgr, files, *url, *dataDir)
	if e.disp == nil && len(splitList(*amURL)) > 0 {
		fmt.Fprintf(stdout, "Sending alerts to Alertmanager at %s\n", *amURL)
	}
	e.mgr.Start()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *forDur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *forDur)
		defer cancel()
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nStopping.")
	return nil
}

// printLoaded is the transcript's head: what was loaded and how often it
// runs.
func printLoaded(w io.Writer, m *rules.Manager, files []string, url, dataDir string) {
	nAlert, nRecord := 0, 0
	intervals := map[time.Duration]bool{}
	for _, g := range m.Groups() {
		intervals[g.Interval()] = true
		for _, r := range g.Rules() {
			if _, ok := r.(*rules.AlertingRule); ok {
				nAlert++
			} else {
				nRecord++
			}
		}
	}
	fmt.Fprintf(w, "Loading %s and %s in %s from %s...\n", plural(nAlert, "alerting rule"), plural(nRecord, "recording rule"),
		plural(len(m.Groups()), "group"), plural(len(files), "file"))
	src := "the stage06 DB in " + dataDir
	if url != "" {
		src = "the query API of " + url
	}
	var ivs []string
	for iv := range intervals {
		ivs = append(ivs, shortDur(iv))
	}
	fmt.Fprintf(w, "Starting evaluation loop (interval: %s) against %s\n", joinSorted(ivs), src)
}

func joinSorted(s []string) string {
	slices.Sort(s)
	return strings.Join(s, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
