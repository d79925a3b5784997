module github.com/tsdb-course/stage06-blocks

go 1.25.0

require (
	github.com/tsdb-course/stage01-memstore v0.0.0
	github.com/tsdb-course/stage03-gorilla v0.0.0
	github.com/tsdb-course/stage04-wal v0.0.0
	github.com/tsdb-course/stage05-index v0.0.0
)

require github.com/klauspost/compress v1.20.3

require (
	github.com/RoaringBitmap/roaring/v2 v2.30.0 // indirect
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/mschoch/smat v0.2.0 // indirect
	github.com/oklog/ulid/v2 v2.1.2
	github.com/tsdb-course/stage02-delta v0.0.0
	golang.org/x/sys v0.30.0 // indirect
)

replace (
	github.com/tsdb-course/stage01-memstore => ../stage01-memstore
	github.com/tsdb-course/stage02-delta => ../stage02-delta
	github.com/tsdb-course/stage03-gorilla => ../stage03-gorilla
	github.com/tsdb-course/stage04-wal => ../stage04-wal
	github.com/tsdb-course/stage05-index => ../stage05-index
)
