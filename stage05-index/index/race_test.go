//go:build race

package index

// raceEnabled is true under -race, where everything runs 5-10x slower: the
// 1M-series milestone then indexes fewer series.
const raceEnabled = true
