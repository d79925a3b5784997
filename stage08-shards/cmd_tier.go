package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdTier(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "tier", "--data-dir DIR [--warm-after D] [--cold-after D]", stderr)
	var c common
	c.register(fs, false)
	c.registerPolicy(fs)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	m, err := c.open("tier", false)
	if err != nil {
		return err
	}
	defer m.Close()
	return tier(stdout, m)
}

func tier(w io.Writer, m *shard.Manager) error {
	p := m.Policy()
	fmt.Fprintf(w, "Tiering policy: warm %s when a shard's window ends, cold after %s (cold dir %s)\n",
		after(p.WarmAfter), days(p.ColdAfter), m.ColdDir())
	tr, err := m.Tier(context.Background())
	for _, t := range tr {
		what := "compacted, read-only"
		if t.To == shard.Cold {
			what = "fully compacted, moved to the cold dir"
		}
		fmt.Fprintf(w, "  %s  %s → %s  (%s; %s, %s)\n", t.ID, t.From, t.To, what, size(t.Bytes), cli.Duration(t.Duration))
	}
	if len(tr) == 0 && err == nil {
		fmt.Fprintln(w, "  nothing to do")
	}
	return err
}
