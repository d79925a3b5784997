//go:build race

package main

// raceEnabled: the race detector multiplies CPU costs and allocations,
// so the milestones about them skip.
const raceEnabled = true
