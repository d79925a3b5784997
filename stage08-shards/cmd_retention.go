package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdRetention(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "enforce-retention", "--data-dir DIR [--retention D]", stderr)
	var c common
	c.register(fs, false)
	fs.StringVar(&c.retain, "retention", "", "delete shards whose window ended this long ago (default: the manifest's)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	m, err := c.open("enforce-retention", false)
	if err != nil {
		return err
	}
	defer m.Close()
	return retention(stdout, m)
}

func retention(w io.Writer, m *shard.Manager) error {
	fmt.Fprintf(w, "Retention policy: %s\n", days(m.Policy().Retention))
	del, err := m.EnforceRetention()
	if len(del) == 0 && err == nil {
		fmt.Fprintln(w, "Shards to delete: none")
		return nil
	}
	var ids []string
	var bytes, points int64
	for _, d := range del {
		ids = append(ids, d.ID)
		bytes += d.Bytes
		points += d.Points
	}
	fmt.Fprintf(w, "Shards to delete: %s\n", strings.Join(ids, ", "))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Deleted %s (%s points), recovered disk space\n", size(bytes), cli.Thousands(int(points)))
	return nil
}
