//go:build race

package gorilla

// raceEnabled: the race detector's instrumentation allocates on its own
// (the histogram iterator allocates under -race, not without), so the
// tests of allocation counts skip their assertions.
const raceEnabled = true
