module github.com/tsdb-course/stage14-alerts

go 1.26.0

require (
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage05-index v0.0.0
	github.com/tsdb-course/stage06-blocks v0.0.0
	github.com/tsdb-course/stage10-promql v0.0.0
)

require (
	golang.org/x/text v0.44.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
	github.com/tsdb-course/stage06-blocks => ../stage06-blocks
	github.com/tsdb-course/stage10-promql => ../stage10-promql
)
