module github.com/tsdb-course/stage04-wal

go 1.25.0

require (
	github.com/golang/snappy v1.0.0
	github.com/klauspost/compress v1.20.3
	github.com/tsdb-course/stage01-memstore v0.0.0
)

require github.com/cespare/xxhash/v2 v2.3.0 // indirect

replace github.com/tsdb-course/stage01-memstore => ../stage01-memstore
