//go:build !race

package gorilla

const raceEnabled = false
