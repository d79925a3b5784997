package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/promapi"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

// engineOpts say how the run mode and the demo wire the rule manager and
// the notifier.
type engineOpts struct {
	dataDir      string // stage06 DB and notifier state; "" with url: a temporary one
	url          string // evaluate on this server's query API instead of the DB
	clock        clock.Clock
	interval     time.Duration // groups without an interval
	notifyConfig *notify.Config
	amURLs       []string // real Alertmanagers
	externalURL  string
	stdout       io.Writer // stdout receivers
	onGroupEval  func(*rules.Group, time.Time)
	onNotify     func(notify.Notification)
}

// engine is the wired rule manager and notifier.
type engine struct {
	db       *tsdb.DB
	st       *store.TSDB
	tmp      string
	query    rules.QueryFunc
	mgr      *rules.Manager
	disp     *notify.Dispatcher
	sender   *notify.Sender
	silences *notify.Silences
}

// defaultNotifyConfig prints notifications when no notifier is configured.
const defaultNotifyConfig = `
route:
  receiver: stdout
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: stdout
    stdout_configs: [{}]
`

func openEngine(o engineOpts) (*engine, error) {
	e := &engine{}
	dir := o.dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stage14-alerts-")
		if err != nil {
			return nil, err
		}
		e.tmp, dir = tmp, tmp
	}
	// The directory is the stage06 DB (a DB written by stage06's ingest can
	// be evaluated); the notifier's files sit beside its blocks, which the
	// DB ignores.
	db, err := tsdb.Open(dir, tsdb.Options{})
	if err != nil {
		e.close()
		return nil, err
	}
	e.db, e.st = db, store.NewTSDB(db)
	e.query = rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), e.st)
	if o.url != "" {
		c, err := promapi.New(o.url, nil)
		if err != nil {
			e.close()
			return nil, err
		}
		e.query = c.Query
	}

	if e.silences, err = notify.OpenSilences(silencesFile(dir), o.clock); err != nil {
		e.close()
		return nil, err
	}
	nflog, err := notify.OpenNotificationLog(filepath.Join(dir, "nflog.json"))
	if err != nil {
		e.close()
		return nil, err
	}
	var senders multiSender
	if o.notifyConfig != nil || len(o.amURLs) == 0 {
		cfg := o.notifyConfig
		if cfg == nil {
			cfg, _ = notify.LoadConfig([]byte(defaultNotifyConfig))
		}
		e.disp, err = notify.NewDispatcher(cfg, notify.DispatcherOptions{
			Clock: o.clock, Silences: e.silences, Log: nflog, ExternalURL: o.externalURL,
			Stdout: o.stdout, OnNotify: o.onNotify,
		})
		if err != nil {
			e.close()
			return nil, err
		}
		senders = append(senders, e.disp)
	}
	if len(o.amURLs) > 0 {
		e.sender = notify.NewSender(notify.SenderOptions{URLs: o.amURLs})
		e.sender.Start()
		senders = append(senders, e.sender)
	}
	var ext *url.URL
	if o.externalURL != "" {
		if ext, err = url.Parse(o.externalURL); err != nil {
			e.close()
			return nil, fmt.Errorf("--external-url: %w", err)
		}
	}
	e.mgr, err = rules.NewManager(rules.ManagerOptions{
		Query:           e.query,
		Appendable:      e.st,
		Queryable:       e.st,
		Notify:          rules.SendAlerts(senders, o.externalURL),
		Clock:           o.clock,
		ExternalURL:     ext,
		DefaultInterval: o.interval,
		OnGroupEval:     o.onGroupEval,
	})
	if err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// multiSender hands alerts to every notifier.
type multiSender []rules.Sender

func (m multiSender) Send(alerts ...*notify.Alert) {
	for _, s := range m {
		s.Send(alerts...)
	}
}

func (e *engine) close() error {
	var errs []error
	if e.mgr != nil {
		e.mgr.Stop()
	}
	if e.disp != nil {
		e.disp.Stop()
	}
	if e.sender != nil {
		e.sender.Stop()
	}
	if e.db != nil {
		errs = append(errs, e.db.Close())
	}
	if e.tmp != "" {
		errs = append(errs, os.RemoveAll(e.tmp))
	}
	return errors.Join(errs...)
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
