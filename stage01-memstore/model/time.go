package model

// FloorDiv is a / b rounded towards minus infinity. Go's / rounds towards
// zero, which puts -1 in the same window as +1: cutting time into windows
// (stage03's chunk files, stage06's blocks, stage08's shards, stage09's
// rollups) must put a timestamp before 1970 in the window that starts at or
// before it, so FloorDiv(t, w)*w is the start of t's window for any t.
// b must not be 0.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
