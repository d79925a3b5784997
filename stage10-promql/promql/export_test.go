package promql

// SetTaskCost sets how much work a rangePipe task carries and returns the
// function that restores it. With 1 every series is a task of its own, so
// tests run the pipeline, with as many series in flight as it allows, on
// data far smaller than the default size needs.
func SetTaskCost(n int) (restore func()) {
	old := taskCost
	taskCost = n
	return func() { taskCost = old }
}
