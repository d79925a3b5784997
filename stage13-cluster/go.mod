module github.com/tsdb-course/stage13-cluster

go 1.26.7

require github.com/cespare/xxhash/v2 v2.3.0

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
	github.com/tsdb-course/stage06-blocks => ../stage06-blocks
	github.com/tsdb-course/stage07-tsm => ../stage07-tsm
	github.com/tsdb-course/stage08-shards => ../stage08-shards
	github.com/tsdb-course/stage09-rollup => ../stage09-rollup
	github.com/tsdb-course/stage10-promql => ../stage10-promql
	github.com/tsdb-course/stage11-ingest => ../stage11-ingest
)

// As in stage11: the module proxy refuses the client_golang/exp version
// prometheus asks for.
replace github.com/prometheus/client_golang/exp => github.com/prometheus/client_golang/exp v0.0.0-20260724065723-ecdb8254ba61
