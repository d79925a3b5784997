//go:build race

package cardinality

// raceEnabled: the race detector slows the sketches tenfold; the long
// accuracy sweep stops at 10^6 under it.
const raceEnabled = true
