package promql_test

import (
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

// TestScripts runs every conformance script in testdata/.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.test")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	promqltest.Check(t, promql.NewEngine(promql.Opts{Features: promql.AllFeatures}), files...)
}
