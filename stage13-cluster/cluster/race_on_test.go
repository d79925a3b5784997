//go:build race

package cluster

// Under the race detector stage06's append path is tens of times slower:
// the multi-node tests write less (the same properties, smaller data).
const raceEnabled = true
