//go:build race

package promql_test

const raceEnabled = true
