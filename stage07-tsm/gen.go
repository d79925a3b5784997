package main

import (
	"fmt"
	"time"

	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// demoGen is the demo's workload: hosts × 10 cpu fields, one point per
// field every 10 s, values a random walk on 0…100 drawn from a fixed hash of
// (host, field, step), so any point can be recomputed to check a query.
// The last tenth of the hosts join late (at 85 % of the run): their keys
// are absent from the older TSM files, which is what the bloom filters are
// for.
type demoGen struct {
	hosts, steps, lateStep int
	start                  int64 // ns of step 0
	every                  int64
}

var fieldNames = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

var regions = []string{"eu-west", "eu-central", "us-east", "us-west", "ap-south"}

func newDemoGen(points, series int, end time.Time) demoGen {
	hosts := max(1, series/len(fieldNames))
	steps := max(2, (points+hosts*len(fieldNames)-1)/(hosts*len(fieldNames)))
	every := int64(10 * time.Second)
	endNs := end.UnixNano() - end.UnixNano()%every
	return demoGen{hosts: hosts, steps: steps, lateStep: steps * 85 / 100, every: every, start: endNs - int64(steps-1)*every}
}

func (g demoGen) late(h int) bool      { return h >= g.hosts-g.hosts/10 }
func (g demoGen) active(h, i int) bool { return !g.late(h) || i >= g.lateStep }
func (g demoGen) host(h int) string    { return fmt.Sprintf("server%d", h) }
func (g demoGen) end() int64           { return g.start + int64(g.steps-1)*g.every }

// total is the number of points the generator writes.
func (g demoGen) total() int {
	n := 0
	for h := range g.hosts {
		if g.late(h) {
			n += g.steps - g.lateStep
		} else {
			n += g.steps
		}
	}
	return n * len(fieldNames)
}

func mix(h, f, i int) uint64 {
	x := uint64(h)*0x9E3779B97F4A7C15 ^ uint64(f)*0xBF58476D1CE4E5B9 ^ uint64(i+1)*0x94D049BB133111EB
	x ^= x >> 31
	x *= 0xD6E8FEB86659FD93
	return x ^ x>>32
}

// next is the walk's step: -2…+2, reflected at 0 and 100.
func next(prev float64, h, f, i int) float64 {
	v := prev + float64(int(mix(h, f, i)%5)-2)
	if v < 0 {
		v = -v
	}
	if v > 100 {
		v = 200 - v
	}
	return v
}

func initial(h, f int) float64 { return float64(mix(h, f, -2) % 101) }

// series returns the values of host h, field f at every step (NaN where
// the host was not reporting): the checker's oracle.
func (g demoGen) series(h, f int) []float64 {
	out := make([]float64, g.steps)
	v := initial(h, f)
	for i := range g.steps {
		v = next(v, h, f, i)
		out[i] = v
	}
	return out
}

// pointsAt fills pts with the points of step i (one per active host),
// advancing state (hosts × fields current values).
func (g demoGen) pointsAt(i int, state []float64, pts []lineprotocol.Point) []lineprotocol.Point {
	pts = pts[:0]
	t := g.start + int64(i)*g.every
	for h := range g.hosts {
		for f := range fieldNames {
			state[h*len(fieldNames)+f] = next(state[h*len(fieldNames)+f], h, f, i)
		}
		if !g.active(h, i) {
			continue
		}
		p := lineprotocol.Point{Measurement: []byte("cpu"), Time: t, HasTime: true,
			Tags: []lineprotocol.Tag{{Key: []byte("host"), Value: []byte(g.host(h))}, {Key: []byte("region"), Value: []byte(regions[h%len(regions)])}}}
		for f, name := range fieldNames {
			p.Fields = append(p.Fields, lineprotocol.Field{Key: []byte(name), Value: lineprotocol.FloatValue(state[h*len(fieldNames)+f])})
		}
		pts = append(pts, p)
	}
	return pts
}

func (g demoGen) initialState() []float64 {
	s := make([]float64, g.hosts*len(fieldNames))
	for h := range g.hosts {
		for f := range fieldNames {
			s[h*len(fieldNames)+f] = initial(h, f)
		}
	}
	return s
}
