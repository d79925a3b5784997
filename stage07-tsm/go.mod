module github.com/tsdb-course/stage07-tsm

go 1.25.0

require (
	github.com/alecthomas/participle/v2 v2.1.4
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/golang/snappy v1.0.0
	github.com/tsdb-course/stage02-delta v0.0.0
	github.com/tsdb-course/stage03-gorilla v0.0.0
	github.com/tsdb-course/stage04-wal v0.0.0
)

require github.com/tsdb-course/stage01-memstore v0.0.0

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
)
