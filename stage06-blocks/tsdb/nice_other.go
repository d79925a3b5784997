//go:build !linux

package tsdb

// lowerThreadPriority does nothing outside Linux, where a nice value is
// the whole process's (Options.CompactionNice).
func lowerThreadPriority(n int) {}
