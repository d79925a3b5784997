module github.com/tsdb-course/stage11-ingest

go 1.26.7

require (
	github.com/golang/snappy v1.0.0
	github.com/influxdata/line-protocol/v2 v2.2.1
	github.com/klauspost/compress v1.20.3
	github.com/prometheus/otlptranslator v1.0.0
	github.com/prometheus/prometheus v0.316.0
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage02-delta v0.0.0
	github.com/tsdb-course/stage03-gorilla v0.0.0
	github.com/tsdb-course/stage04-wal v0.0.0
	github.com/tsdb-course/stage05-index v0.0.0
	github.com/tsdb-course/stage06-blocks v0.0.0
	github.com/tsdb-course/stage07-tsm v0.0.0
	go.opentelemetry.io/proto/otlp v1.11.1
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261012220534-4341edf3f941
	google.golang.org/grpc v1.84.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/RoaringBitmap/roaring/v2 v2.30.0 // indirect
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/grafana/regexp v0.0.0-20250905093917-f7b3be9d1853 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.32.0 // indirect
	github.com/mschoch/smat v0.2.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.1 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261019180522-ce908d29299b // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
	github.com/tsdb-course/stage06-blocks => ../stage06-blocks
	github.com/tsdb-course/stage07-tsm => ../stage07-tsm
)

// The module proxy refuses the client_golang/exp version prometheus
// v0.316.0 asks for; only prometheus/config uses it (not imported here).
replace github.com/prometheus/client_golang/exp => github.com/prometheus/client_golang/exp v0.0.0-20260724065723-ecdb8254ba61
