package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "status", "--data-dir DIR", stderr)
	var c common
	c.register(fs, false)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	m, err := c.open("status", false)
	if err != nil {
		return err
	}
	defer m.Close()
	return status(stdout, m)
}

// status prints the guide's table, newest shard first.
func status(w io.Writer, m *shard.Manager) error {
	infos, err := m.Shards()
	if err != nil {
		return err
	}
	p := m.Policy()
	fmt.Fprintf(w, "Shard Configuration:\n  Shard duration: %s\n  Retention: %s\n  Tiering: warm %s when a shard ends, cold after %s (engine: %s)\n\n",
		durationName(m.ShardDuration()), days(p.Retention), after(p.WarmAfter), days(p.ColdAfter), m.Engine())
	fmt.Fprintln(w, "Active Shards:")
	if len(infos) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	var total int64
	for i := len(infos) - 1; i >= 0; i-- {
		s := infos[i]
		total += s.Bytes
		tag := "[" + strings.ToUpper(string(s.State)) + "]"
		fmt.Fprintf(w, "  %s  %-6s  size: %-7s  series: %-7s  points: %-11s  files: %d\n",
			s.ID, tag, size(s.Bytes), cli.Thousands(s.Series), cli.Thousands(int(s.Points)), s.Files)
	}
	fmt.Fprintf(w, "Total: %d shards, %s\n", len(infos), size(total))
	return nil
}
