package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

func cmdWrite(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "write", "--data-dir DIR --series 'host=server1' --time T --value V", stderr)
	var c common
	c.register(fs)
	metric := fs.String("metric", "cpu_usage", "metric name")
	series := fs.String("series", "", "labels, comma separated: host=server1,region=us-east")
	at := fs.String("time", "", "the sample's time (RFC 3339)")
	value := fs.Float64("value", 0, "the sample's value")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.Require(fs, "time", "series"); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, *at)
	if err != nil {
		return cli.Usagef("--time: %v", err)
	}
	pairs := []string{model.MetricName, *metric}
	for _, kv := range strings.Split(*series, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return cli.Usagef("--series: want name=value[,name=value…], got %q", kv)
		}
		pairs = append(pairs, k, strings.Trim(v, `'"`))
	}
	l, err := model.FromStrings(pairs...)
	if err != nil {
		return cli.Usagef("--series: %v", err)
	}
	e, err := c.open("write", true, nil)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.Write([]shard.Series{{Labels: l, Samples: []model.Sample{{T: t.UnixMilli(), V: *value}}}}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s %v at %s\n", l, *value, stamp(t))
	return status(stdout, e)
}
