module github.com/tsdb-course/compare

go 1.25.0

require (
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage02-delta v0.0.0
	github.com/tsdb-course/stage03-gorilla v0.0.0
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
)
