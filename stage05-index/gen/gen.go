// Package gen makes the stage's synthetic series: label sets shaped like a
// fleet scraped by Prometheus, with a fixed seed so that every run, test and
// README figure sees the same data.
//
// Each series has 15 labels. Twenty series (twenty metrics) share one
// instance, and most labels belong to the instance, as scrape-target labels
// do: region (8 values, uniform, so region=us-east is 1/8 of the series), az
// (3 per region), env (production 33 %, staging, development, test), service
// (30, api 20 %), cluster, namespace (Zipf), team, version (absent on 20 % of
// the instances, so that matchers meet missing labels), os, arch, tier, job.
// instance has one value per 20 series (50,000 at a million series) and
// handler (200 values, Zipf) varies per series.
package gen

import (
	"fmt"
	"iter"
	"math/rand/v2"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Seed is the demo's seed.
const Seed = 5

// MetricsPerInstance is the number of series per instance.
const MetricsPerInstance = 20

// Regions are the values of the region label.
var Regions = []string{"us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast", "sa-east", "ca-central"}

// Envs are the values of env, most frequent first.
var Envs = []string{"production", "staging", "development", "test"}

var envWeights = []float64{0.33, 0.27, 0.25, 0.15}

// MetricNames are the 100 metric names.
var MetricNames = func() []string {
	subsystems := []string{"node_cpu", "node_memory", "node_disk", "node_network", "node_filesystem",
		"http_server", "http_client", "grpc_server", "grpc_client", "process", "go_gc", "go_memstats",
		"container_cpu", "container_memory", "db_pool", "cache", "queue", "kafka_consumer", "jvm", "nginx"}
	measures := []string{"seconds_total", "bytes", "requests_total", "errors_total", "duration_seconds"}
	var ns []string
	for _, s := range subsystems {
		for _, m := range measures {
			ns = append(ns, s+"_"+m)
		}
	}
	return ns
}()

var (
	services   = numbered("svc-%02d", 30, "api", "web", "auth", "billing", "search", "checkout")
	teams      = numbered("team-%02d", 25)
	namespaces = numbered("ns-%02d", 60, "default", "kube-system", "monitoring")
	versions   = numbered("v1.%d.0", 12)
	oses       = []string{"linux", "windows", "darwin", "freebsd"}
	osWeights  = []float64{0.85, 0.10, 0.03, 0.02}
	arches     = []string{"amd64", "arm64"}
	archW      = []float64{0.88, 0.12}
	tiers      = []string{"frontend", "backend", "database", "cache"}
	tierW      = []float64{0.35, 0.40, 0.15, 0.10}
	jobs       = numbered("job-%02d", 20, "node", "kubelet", "cadvisor", "apiserver", "blackbox")
	handlers   = numbered("/api/v1/resource%03d", 200, "/", "/health", "/metrics", "/login")
)

// numbered returns n names: the given ones first, then format with an index.
func numbered(format string, n int, first ...string) []string {
	out := append([]string(nil), first...)
	for i := len(out); i < n; i++ {
		out = append(out, fmt.Sprintf(format, i))
	}
	return out
}

// instance is what the series of one scrape target share.
type instance struct {
	name                                               string
	region, az, env, service, cluster, namespace, team uint8
	version, os, arch, tier, job                       uint8
	hasVersion                                         bool
}

// Generator produces the label sets of n series.
type Generator struct {
	n         int
	seed      uint64
	instances []instance
	azs       [][]string
	clusters  [][]string
}

// New prepares n series with the given seed.
func New(n int, seed uint64) *Generator {
	g := &Generator{n: n, seed: seed}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for _, reg := range Regions {
		g.azs = append(g.azs, []string{reg + "-a", reg + "-b", reg + "-c"})
		g.clusters = append(g.clusters, numbered(reg+"-k8s-%d", 5))
	}
	nsZipf := rand.NewZipf(r, 1.2, 1, uint64(len(namespaces)-1))
	svcW := make([]float64, len(services))
	svcW[0], svcW[1] = 0.20, 0.12
	for i := 2; i < len(svcW); i++ {
		svcW[i] = 0.68 / float64(len(svcW)-2)
	}
	ninst := (n + MetricsPerInstance - 1) / MetricsPerInstance
	g.instances = make([]instance, ninst)
	for i := range g.instances {
		reg := r.IntN(len(Regions))
		g.instances[i] = instance{
			name:       fmt.Sprintf("host-%05d", i),
			region:     uint8(reg),
			az:         uint8(weighted(r, []float64{0.5, 0.3, 0.2})),
			env:        uint8(weighted(r, envWeights)),
			service:    uint8(weighted(r, svcW)),
			cluster:    uint8(r.IntN(5)),
			namespace:  uint8(nsZipf.Uint64()),
			team:       uint8(r.IntN(len(teams))),
			version:    uint8(r.IntN(len(versions))),
			hasVersion: r.Float64() < 0.8,
			os:         uint8(weighted(r, osWeights)),
			arch:       uint8(weighted(r, archW)),
			tier:       uint8(weighted(r, tierW)),
			job:        uint8(r.IntN(len(jobs))),
		}
	}
	return g
}

// weighted picks an index with the given probabilities.
func weighted(r *rand.Rand, w []float64) int {
	x := r.Float64()
	for i, p := range w {
		if x < p {
			return i
		}
		x -= p
	}
	return len(w) - 1
}

// Len is the number of series.
func (g *Generator) Len() int { return g.n }

// Instances is the number of distinct instance values.
func (g *Generator) Instances() int { return len(g.instances) }

// All yields the n label sets, in order, each distinct.
func (g *Generator) All() iter.Seq2[int, model.Labels] {
	return func(yield func(int, model.Labels) bool) {
		r := rand.New(rand.NewPCG(g.seed, 0xa11))
		hz := rand.NewZipf(r, 1.1, 1, uint64(len(handlers)-1))
		pairs := make([]model.Label, 0, 15)
		for i := range g.n {
			in := &g.instances[i/MetricsPerInstance]
			k := i % MetricsPerInstance
			// (7·instance + 5·k) mod 100 differs for k = 0…19, so the
			// instance's 20 series have 20 distinct metric names.
			metric := MetricNames[((i/MetricsPerInstance)*7+k*5)%len(MetricNames)]
			pairs = append(pairs[:0],
				model.Label{Name: model.MetricName, Value: metric},
				model.Label{Name: "instance", Value: in.name},
				model.Label{Name: "region", Value: Regions[in.region]},
				model.Label{Name: "az", Value: g.azs[in.region][in.az]},
				model.Label{Name: "env", Value: Envs[in.env]},
				model.Label{Name: "service", Value: services[in.service]},
				model.Label{Name: "cluster", Value: g.clusters[in.region][in.cluster]},
				model.Label{Name: "namespace", Value: namespaces[in.namespace]},
				model.Label{Name: "team", Value: teams[in.team]},
				model.Label{Name: "os", Value: oses[in.os]},
				model.Label{Name: "arch", Value: arches[in.arch]},
				model.Label{Name: "tier", Value: tiers[in.tier]},
				model.Label{Name: "job", Value: jobs[in.job]},
				model.Label{Name: "handler", Value: handlers[hz.Uint64()]},
			)
			if in.hasVersion {
				pairs = append(pairs, model.Label{Name: "version", Value: versions[in.version]})
			}
			ls, err := model.New(pairs...)
			if err != nil {
				panic(err) // the tables above are valid: a bug here, not bad input
			}
			if !yield(i, ls) {
				return
			}
		}
	}
}
