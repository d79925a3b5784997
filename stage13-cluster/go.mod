module github.com/tsdb-course/stage13-cluster

go 1.26.7

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/hashicorp/memberlist v0.5.4
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage04-wal v0.0.0
	github.com/tsdb-course/stage05-index v0.0.0
	github.com/tsdb-course/stage06-blocks v0.0.0
	github.com/tsdb-course/stage10-promql v0.0.0
	github.com/tsdb-course/stage11-ingest v0.0.0
)

require (
	github.com/RoaringBitmap/roaring/v2 v2.30.0 // indirect
	github.com/alecthomas/participle/v2 v2.1.4 // indirect
	github.com/armon/go-metrics v0.4.1 // indirect
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/google/btree v1.1.3 // indirect
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-immutable-radix v1.0.0 // indirect
	github.com/hashicorp/go-metrics v0.5.4 // indirect
	github.com/hashicorp/go-msgpack/v2 v2.1.5 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	github.com/hashicorp/go-sockaddr v1.0.7 // indirect
	github.com/hashicorp/golang-lru v0.5.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/miekg/dns v1.1.68 // indirect
	github.com/mschoch/smat v0.2.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/sean-/seed v0.0.0-20170313163322-e2103e2c3529 // indirect
	github.com/tsdb-course/stage02-delta v0.0.0 // indirect
	github.com/tsdb-course/stage03-gorilla v0.0.0 // indirect
	golang.org/x/mod v0.28.0 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sync v0.17.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.37.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

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
