module github.com/tsdb-course/stage03-gorilla

go 1.25.0

require (
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage02-delta v0.0.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
)
