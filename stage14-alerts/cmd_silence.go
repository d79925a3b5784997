package main

import (
	"fmt"
	"io"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/promtime"
)

// silencesFile is where the notifier of a data directory keeps its
// silences; the run mode reads it, so a silence added from another terminal
// takes effect at the next flush.
func silencesFile(dataDir string) string { return filepath.Join(dataDir, "silences.json") }

func cmdSilence(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return cli.Usagef("silence: want add, list or expire; -h for help")
	}
	switch args[0] {
	case "add":
		return silenceAdd(args[1:], stdout, stderr)
	case "list":
		return silenceList(args[1:], stdout, stderr)
	case "expire":
		return silenceExpire(args[1:], stdout, stderr)
	}
	return cli.Usagef("silence: unknown subcommand %q (want add, list or expire)", args[0])
}

func openSilences(dataDir string) (*notify.Silences, error) {
	return notify.OpenSilences(silencesFile(dataDir), clock.Real())
}

func silenceAdd(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "silence add", "--data-dir DIR [--duration 1h] [--start T] [--author NAME] [--comment TEXT] MATCHER...", stderr)
	dir := fs.String("data-dir", "", "the notifier's data directory")
	dur := fs.String("duration", "1h", "how long the silence lasts")
	start := fs.String("start", "", "when it starts (RFC 3339 or unix seconds; default now)")
	author := fs.String("author", "", "who adds it (default: the user name)")
	comment := fs.String("comment", "", "why")
	args, err := cli.Parse(fs, args, "MATCHER...")
	if err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	var ms notify.Matchers
	for _, a := range args {
		m, err := notify.ParseMatchers(a)
		if err != nil {
			return cli.Usagef("silence add: %v", err)
		}
		ms = append(ms, m...)
	}
	d, err := promtime.ParseDuration(*dur)
	if err != nil {
		return cli.Usagef("silence add: --duration: %v", err)
	}
	st := time.Now()
	if *start != "" {
		if st, err = promtime.ParseTime(*start); err != nil {
			return cli.Usagef("silence add: --start: %v", err)
		}
	}
	if *author == "" {
		*author = "unknown"
		if u, err := user.Current(); err == nil {
			*author = u.Username
		}
	}
	s, err := openSilences(*dir)
	if err != nil {
		return err
	}
	id, err := s.Add(notify.Silence{Matchers: notify.MatchersOf(ms), StartsAt: st, EndsAt: st.Add(time.Duration(d)), CreatedBy: *author, Comment: *comment})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	return nil
}

func silenceList(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "silence list", "--data-dir DIR [--expired]", stderr)
	dir := fs.String("data-dir", "", "the notifier's data directory")
	expired := fs.Bool("expired", false, "list expired silences too")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	s, err := openSilences(*dir)
	if err != nil {
		return err
	}
	list, err := s.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMatchers\tStarts At\tEnds At\tState\tCreated By\tComment")
	for _, x := range list {
		if x.Status.State == "expired" && !*expired {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, matchersString(x.Matchers),
			x.StartsAt.UTC().Format(time.RFC3339), x.EndsAt.UTC().Format(time.RFC3339), x.Status.State, x.CreatedBy, x.Comment)
	}
	return tw.Flush()
}

func matchersString(ms []notify.SilenceMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		op := map[[2]bool]string{{false, true}: "=", {false, false}: "!=", {true, true}: "=~", {true, false}: "!~"}[[2]bool{m.IsRegex, m.IsEqual}]
		parts[i] = fmt.Sprintf("%s%s%q", m.Name, op, m.Value)
	}
	return strings.Join(parts, " ")
}

func silenceExpire(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "silence expire", "--data-dir DIR ID...", stderr)
	dir := fs.String("data-dir", "", "the notifier's data directory")
	ids, err := cli.Parse(fs, args, "ID...")
	if err != nil {
		return err
	}
	if err := cli.Require(fs, "data-dir"); err != nil {
		return err
	}
	s, err := openSilences(*dir)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.Expire(id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "expired %s\n", id)
	}
	return nil
}
