// Package loadgen makes the requests of the stage's benchmark, tests and
// demo: TSBS-shaped cpu metrics (the measurement, ten tags and ten integer
// fields of TSBS's cpu-only use case), as InfluxDB line protocol, remote
// write 1.0 or OTLP. Each writer owns its hosts; a request holds every one
// of them at Rounds consecutive timestamps, 10 s apart, so a writer's
// samples are in order and no two writers share a series.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// Fields are TSBS's cpu fields.
var Fields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

// Start is the first timestamp (ms): 2016-01-01, TSBS's default.
const Start = int64(1_451_606_400_000)

// Step is the interval between a host's points (ms).
const Step = int64(10_000)

var regions = []string{"eu-west-1", "us-east-1", "ap-southeast-2", "us-west-2", "sa-east-1"}

// Tags returns host h's tags, in TSBS's order.
func Tags(h int) [][2]string {
	r := rand.New(rand.NewPCG(uint64(h), 7))
	region := regions[h%len(regions)]
	return [][2]string{
		{"hostname", "host_" + strconv.Itoa(h)}, {"region", region}, {"datacenter", region + string(rune('a'+h%3))},
		{"rack", strconv.Itoa(r.IntN(100))}, {"os", "Ubuntu16.04LTS"}, {"arch", "x64"}, {"team", []string{"NYC", "LON", "SF", "CHI"}[h%4]},
		{"service", strconv.Itoa(r.IntN(20))}, {"service_version", strconv.Itoa(r.IntN(2))}, {"service_environment", "production"},
	}
}

// Generator makes one writer's requests.
type Generator struct {
	Hosts  []int // the hosts this writer owns
	Rounds int   // timestamps per request
	next   int64 // index of the next timestamp
	prefix [][]byte
	labels [][]model.Labels // [host][field]
	vals   []int64          // current value per host×field (a random walk)
	rnd    *rand.Rand
	series []remote.Series
	smp    []model.Sample
	otlp   *otlpState // otlp.go
}

// New returns the generator of writer w of n, which owns hosts w, w+n, w+2n …
// (hostsPerWriter of them).
func New(w, n, hostsPerWriter, rounds int) *Generator {
	g := &Generator{Rounds: rounds, rnd: rand.New(rand.NewPCG(uint64(w), 11))}
	for i := range hostsPerWriter {
		h := w + i*n
		g.Hosts = append(g.Hosts, h)
		b := []byte("cpu")
		for _, t := range Tags(h) {
			b = append(b, ',')
			b = append(b, t[0]...)
			b = append(b, '=')
			b = append(b, t[1]...)
		}
		g.prefix = append(g.prefix, append(b, ' '))
	}
	g.vals = make([]int64, len(g.Hosts)*len(Fields))
	for i := range g.vals {
		g.vals[i] = int64(g.rnd.IntN(100))
	}
	return g
}

// PointsPerRequest is the number of values in each request.
func (g *Generator) PointsPerRequest() int { return len(g.Hosts) * len(Fields) * g.Rounds }

// Seq is the number of requests made so far.
func (g *Generator) Seq() int64 { return g.next / int64(g.Rounds) }

// Rewind steps back one request: the next one has the same timestamps
// (a refused request sent again).
func (g *Generator) Rewind() { g.next = max(0, g.next-int64(g.Rounds)) }

func (g *Generator) step() {
	for i := range g.vals {
		v := g.vals[i] + int64(g.rnd.IntN(5)) - 2
		g.vals[i] = min(max(v, 0), 100)
	}
}

// Line appends the next request as line protocol (ns timestamps).
func (g *Generator) Line(dst []byte) []byte {
	for range g.Rounds {
		g.step()
		t := (Start + g.next*Step) * 1e6
		for h, pre := range g.prefix {
			dst = append(dst, pre...)
			for f, name := range Fields {
				if f > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, name...)
				dst = append(dst, '=')
				dst = strconv.AppendInt(dst, g.vals[h*len(Fields)+f], 10)
				dst = append(dst, 'i')
			}
			dst = append(dst, ' ')
			dst = strconv.AppendInt(dst, t, 10)
			dst = append(dst, '\n')
		}
		g.next++
	}
	return dst
}

// SeriesLabels returns host h's series of field f as the line-protocol
// mapping names it.
func SeriesLabels(h, f int) model.Labels {
	pairs := []model.Label{{Name: model.MetricName, Value: "cpu_" + Fields[f]}}
	for _, t := range Tags(h) {
		pairs = append(pairs, model.Label{Name: t[0], Value: t[1]})
	}
	l, err := model.New(pairs...)
	if err != nil {
		panic(fmt.Sprintf("loadgen: %v", err)) // the tags are constants
	}
	return l
}

// Remote appends the next request as a remote write 1.0 WriteRequest
// (uncompressed): one series per host and field, Rounds samples each.
func (g *Generator) Remote(dst []byte) []byte {
	if g.labels == nil {
		for _, h := range g.Hosts {
			var ls []model.Labels
			for f := range Fields {
				ls = append(ls, SeriesLabels(h, f))
			}
			g.labels = append(g.labels, ls)
		}
		g.series = make([]remote.Series, len(g.Hosts)*len(Fields))
		g.smp = make([]model.Sample, len(g.series)*g.Rounds)
	}
	for r := range g.Rounds {
		g.step()
		t := Start + g.next*Step
		for i := range g.series {
			g.smp[i*g.Rounds+r] = model.Sample{T: t, V: float64(g.vals[i])}
		}
		g.next++
	}
	for h := range g.Hosts {
		for f := range Fields {
			i := h*len(Fields) + f
			g.series[i] = remote.Series{Labels: g.labels[h][f], Samples: g.smp[i*g.Rounds : (i+1)*g.Rounds]}
		}
	}
	return remote.AppendWriteRequest(dst, g.series)
}
