module github.com/tsdb-course/compare

go 1.26.7

require (
	github.com/prometheus/prometheus v0.316.0
	github.com/tsdb-course/stage02-delta v0.0.0
	github.com/tsdb-course/stage03-gorilla v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/grafana/regexp v0.0.0-20250905093917-f7b3be9d1853 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.1 // indirect
	github.com/tsdb-course/stage01-memstore v0.0.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
)

// See ../shared/CONVENTIONS.md "Known snag": the proxy refuses the version
// prometheus v0.316.0 asks for; only prometheus/config uses it.
replace github.com/prometheus/client_golang/exp => github.com/prometheus/client_golang/exp v0.0.0-20260724065723-ecdb8254ba61
