package model

// Sample is one point of a series. The timestamp's unit is the caller's
// convention: the stage01 REPL uses unix seconds as the guide does; every later
// stage uses milliseconds, as Prometheus does.
type Sample struct {
	T int64
	V float64
}
