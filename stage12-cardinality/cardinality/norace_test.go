//go:build !race

package cardinality

const raceEnabled = false
