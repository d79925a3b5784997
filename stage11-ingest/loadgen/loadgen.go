// Package loadgen makes the requests of the stage's benchmark, tests and
// demo: TSBS-shaped cpu metrics (the measurement, ten tags and ten integer
// fields of TSBS's cpu-only use case), as InfluxDB line protocol, remote
// write 1.0 or OTLP. Each writer owns its hosts; a request holds every one
// of them at Rounds consecutive timestamps, 10 s apart, so a writer's
// samples are in order and no two writers share a series.
package loadgen

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/klauspost/compress/s2"
	"github.com/tsdb-course/stage01-memstore/model"
	"google.golang.org/protobuf/encoding/protowire"
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
	Hosts   []int    // the hosts this writer owns
	Rounds  int      // timestamps per request
	next    int64    // index of the next timestamp
	prefix  [][]byte // a host's line up to its first field: "cpu,hostname=…,… "
	vals    []int64  // current value per host×field (a random walk)
	rnd     *rand.Rand
	labelPB [][]byte   // [host×field]: the series' labels, encoded
	vbits   []uint64   // [host×field][round]: the request's values, as float64 bits
	tsv     [][]byte   // [round]: the request's timestamps, as varints
	otlp    *otlpState // otlp.go
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

// step moves every value by -2…+2, kept within 0…100. The moves are the
// base-5 digits of random words (27 of them in 64 bits; the bias of
// 2^64 mod 5^27 is beneath notice), a draw per 27 values instead of one
// per value: the generator shares the cores with what it measures.
func (g *Generator) step() {
	var x uint64
	left := 0
	for i := range g.vals {
		if left == 0 {
			x, left = g.rnd.Uint64(), 27
		}
		v := g.vals[i] + int64(x%5) - 2
		x /= 5
		left--
		g.vals[i] = min(max(v, 0), 100)
	}
}

// fieldText[f] is what precedes field f's value in a line: its name and
// '=', after a ',' but for the first.
var fieldText = func() [][]byte {
	out := make([][]byte, len(Fields))
	for f, name := range Fields {
		if f > 0 {
			out[f] = append(out[f], ',')
		}
		out[f] = append(append(out[f], name...), '=')
	}
	return out
}()

// valueText[v] is value v (0…100, all a walk takes) as an integer field.
var valueText = func() [][]byte {
	out := make([][]byte, 101)
	for v := range out {
		out[v] = append(strconv.AppendInt(nil, int64(v), 10), 'i')
	}
	return out
}()

// Line appends the next request as line protocol (ns timestamps).
//
// It copies precomputed text (a host's tags, the field names, the values'
// digits, the round's timestamp formatted once) rather than formatting
// each line: the bench's load generator runs on the cores it measures.
func (g *Generator) Line(dst []byte) []byte {
	var ts [24]byte
	for range g.Rounds {
		g.step()
		t := (Start + g.next*Step) * 1e6
		tail := append(strconv.AppendInt(append(ts[:0], ' '), t, 10), '\n')
		for h, pre := range g.prefix {
			dst = append(dst, pre...)
			vals := g.vals[h*len(Fields) : (h+1)*len(Fields)]
			for f, v := range vals {
				dst = append(dst, fieldText[f]...)
				dst = append(dst, valueText[v]...)
			}
			dst = append(dst, tail...)
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
//
// Each series' labels are encoded once, on the first request: a request
// then copies them and encodes only its samples (remote.AppendWriteRequest
// encodes the labels of every series of every request, a third of what
// making a request cost).
func (g *Generator) Remote(dst []byte) []byte {
	if g.labelPB == nil {
		for _, h := range g.Hosts {
			for f := range Fields {
				var pb []byte
				for l := range SeriesLabels(h, f).All() {
					n := 1 + protowire.SizeBytes(len(l.Name)) + 1 + protowire.SizeBytes(len(l.Value))
					pb = protowire.AppendTag(pb, 1, protowire.BytesType) // TimeSeries.labels
					pb = protowire.AppendVarint(pb, uint64(n))
					pb = protowire.AppendTag(pb, 1, protowire.BytesType) // Label.name
					pb = protowire.AppendString(pb, l.Name)
					pb = protowire.AppendTag(pb, 2, protowire.BytesType) // Label.value
					pb = protowire.AppendString(pb, l.Value)
				}
				g.labelPB = append(g.labelPB, pb)
			}
		}
		g.vbits = make([]uint64, len(g.labelPB)*g.Rounds)
		g.tsv = make([][]byte, g.Rounds)
	}
	// A Sample is the same bytes but for its value's: tag, size, the value's
	// tag, (value), the timestamp's tag and the round's timestamp.
	for r := range g.Rounds {
		g.step()
		g.tsv[r] = protowire.AppendVarint(g.tsv[r][:0], uint64(Start+g.next*Step))
		for i := range g.labelPB {
			g.vbits[i*g.Rounds+r] = math.Float64bits(float64(g.vals[i]))
		}
		g.next++
	}
	samples := 0 // the encoded size of a series' samples
	for _, tv := range g.tsv {
		samples += 2 + 1 + 8 + 1 + len(tv)
	}
	for i, pb := range g.labelPB {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType) // WriteRequest.timeseries
		dst = protowire.AppendVarint(dst, uint64(len(pb)+samples))
		dst = append(dst, pb...)
		for r, v := range g.vbits[i*g.Rounds : (i+1)*g.Rounds] {
			tv := g.tsv[r]
			// TimeSeries.samples (field 2, bytes), its size (< 128), then
			// Sample.value (field 1, fixed64) and Sample.timestamp (field 2,
			// varint).
			dst = append(dst, 2<<3|2, byte(1+8+1+len(tv)), 1<<3|1)
			dst = binary.LittleEndian.AppendUint64(dst, v)
			dst = append(dst, 2<<3|0)
			dst = append(dst, tv...)
		}
	}
	return dst
}

// Snappy compresses a remote write request with snappy's block format at
// its fast level, as Prometheus's own sender does (golang/snappy's
// Encode); remote.Compress takes more CPU for a smaller body.
func Snappy(dst, src []byte) []byte { return s2.EncodeSnappy(dst[:cap(dst)], src) }
