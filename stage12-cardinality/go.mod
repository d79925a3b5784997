module github.com/tsdb-course/stage12-cardinality

go 1.26.7

require (
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/tsdb-course/stage01-memstore v0.0.0-00010101000000-000000000000
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
	github.com/tsdb-course/stage06-blocks => ../stage06-blocks
)
