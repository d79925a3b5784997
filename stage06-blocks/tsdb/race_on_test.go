//go:build race

package tsdb

// raceEnabled: under the race detector sync.Pool drops what it is given
// at random (zstd's decoders keep their buffers in pools), so allocation
// counts mean nothing and the tests of them skip.
const raceEnabled = true
