package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage13-cluster/cluster"
)

// reapChildren makes spawn wait for the node processes it starts, so a
// killed one does not stay a zombie of this process (the demo runs the
// guide's commands in one process; the CLI's init exits and leaves its
// nodes to the system).
var reapChildren bool

// demoProcesses is the guide's transcript with one OS process per node,
// in a temp dir: the CLI's own subcommands run one after the other, each
// printing what it prints from a shell.
func demoProcesses(nNodes, rf, nSeries int, dataDir string) (err error) {
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "stage13-cluster-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dataDir = tmp
	} else if ents, err := os.ReadDir(dataDir); err == nil && len(ents) > 0 {
		return fmt.Errorf("--data-dir %s is not empty", dataDir)
	}
	reapChildren = true
	dd := []string{"--data-dir", dataDir}
	defer func() {
		// every path: no node process outlives the demo
		if st, e := loadState(dataDir); e == nil {
			for _, n := range st.Nodes {
				if n.PID > 0 {
					_ = syscall.Kill(n.PID, syscall.SIGKILL)
				}
			}
		}
	}()
	step := func(cmd string, f func([]string) error, args ...string) error {
		fmt.Printf("\n$ tsdb-cluster %s\n", cmd)
		return f(append(args, dd...))
	}
	fmt.Printf("$ tsdb-cluster init --nodes=%d --replication=%d\n", nNodes, rf)
	if err := cmdInit(append([]string{fmt.Sprint("--nodes=", nNodes), fmt.Sprint("--replication=", rf)}, dd...)); err != nil {
		return err
	}
	st, err := loadState(dataDir)
	if err != nil {
		return err
	}

	// Load through node-1: nSeries series × 10 samples, 30 s apart.
	now := time.Now().Add(-10 * time.Minute).UnixMilli()
	var data []remote.Series
	for i := range nSeries {
		s := remote.Series{Labels: model.MustFromStrings("__name__", "cpu", "host", fmt.Sprintf("server%d", i+2))}
		for k := range 10 {
			s.Samples = append(s.Samples, model.Sample{T: now + int64(k)*30_000, V: float64(i%100) / 100})
		}
		data = append(data, s)
	}
	t0 := time.Now()
	for i := 0; i < len(data); i += 500 {
		if err := postRemoteWrite(st.Nodes[0].API, data[i:min(i+500, len(data))]); err != nil {
			return err
		}
	}
	el := time.Since(t0)
	fmt.Printf("(loaded %s series × 10 samples through Node 1 in %s: %s samples/s acknowledged at quorum)\n",
		cli.Thousands(nSeries), el.Round(time.Millisecond), cli.Thousands(int(float64(nSeries*10)/el.Seconds())))

	if err := step("status", cmdStatus); err != nil {
		return err
	}
	if err := step(`write "cpu{host=server1} 0.75"`, cmdWrite, "cpu{host=server1} 0.75"); err != nil {
		return err
	}
	if err := step(`query "cpu{host=server1}[5m]"`, cmdQuery, `cpu{host="server1"}[5m]`); err != nil {
		return err
	}
	if err := step("kill node-2", cmdKill, "node-2"); err != nil {
		return err
	}
	// Every acknowledged sample still there: counted by the nodes
	// (pushed down), through Node 3.
	want := nSeries*10 + 1
	got, plan, err := countSamples(st.Nodes[2].API, `sum(count_over_time(cpu[1h]))`)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%d samples counted after the failure, %d were acknowledged", got, want)
	}
	fmt.Printf("All data remains available: %s of %s acknowledged samples counted through Node 3 (%s)\n", cli.Thousands(got), cli.Thousands(want), plan)
	if err := step(`query "cpu{host=server1}[5m]"`, cmdQuery, `cpu{host="server1"}[5m]`); err != nil {
		return err
	}
	return step("stop", cmdStop)
}

func postRemoteWrite(api string, series []remote.Series) error {
	body := remote.Compress(nil, remote.AppendWriteRequest(nil, series))
	resp, err := client.Post("http://"+api+cluster.PathWrite, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("write: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// countSamples runs an instant query whose answer is one number.
func countSamples(api, q string) (int, string, error) {
	resp, err := client.Get("http://" + api + cluster.PathQuery + "?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, "", err
	}
	if body.Status != "success" || len(body.Data.Result) != 1 {
		return 0, "", fmt.Errorf("%s: %s %s (%d results)", q, body.Status, body.Error, len(body.Data.Result))
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return int(v), resp.Header.Get("X-Cluster-Plan"), err
}
