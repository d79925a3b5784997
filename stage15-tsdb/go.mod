module github.com/tsdb-course/stage15-tsdb

go 1.26.7

require (
	github.com/klauspost/compress v1.20.3
	github.com/prometheus/client_golang v1.25.0
	github.com/prometheus/client_model v0.6.3
	github.com/prometheus/common v0.72.1
	github.com/prometheus/exporter-toolkit v0.20.0
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage04-wal v0.0.0
	github.com/tsdb-course/stage05-index v0.0.0
	github.com/tsdb-course/stage06-blocks v0.0.0
	github.com/tsdb-course/stage07-tsm v0.0.0
	github.com/tsdb-course/stage10-promql v0.0.0
	github.com/tsdb-course/stage11-ingest v0.0.0
	golang.org/x/crypto v0.58.0
	google.golang.org/protobuf v1.36.12
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/RoaringBitmap/roaring/v2 v2.30.0 // indirect
	github.com/alecthomas/participle/v2 v2.1.4 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jpillora/backoff v1.0.0 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	github.com/mdlayher/vsock v1.3.0 // indirect
	github.com/mschoch/smat v0.2.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/mwitkow/go-conntrack v0.0.0-20190716064945-2f068394615f // indirect
	github.com/oklog/ulid/v2 v2.1.2 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/tsdb-course/stage02-delta v0.0.0 // indirect
	github.com/tsdb-course/stage03-gorilla v0.0.0 // indirect
	go.yaml.in/yaml/v2 v2.4.4 // indirect
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
	github.com/tsdb-course/stage06-blocks => ../stage06-blocks
	github.com/tsdb-course/stage07-tsm => ../stage07-tsm
	github.com/tsdb-course/stage10-promql => ../stage10-promql
	github.com/tsdb-course/stage11-ingest => ../stage11-ingest
)
