package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestEnableFeature: `start --enable-feature` decides what PromQL the API
// accepts, as in Prometheus. Without promql-experimental-functions,
// limitk is a parse error (bad_data, 400); with it (given twice, comma
// lists, one unknown name warned about) the query runs.
func TestEnableFeature(t *testing.T) {
	const q = `limitk(1, vector(1))`
	var ans struct{ Status, ErrorType, Error string }
	plain := startServer(t, t.TempDir())
	if code := getJSON(t, plain.url("/api/v1/query", "query", q, "time", "1000"), &ans); code != http.StatusBadRequest ||
		ans.ErrorType != "bad_data" || !strings.Contains(ans.Error, "limitk() is experimental") {
		t.Errorf("without the feature: %d %+v", code, ans)
	}
	on := startServer(t, t.TempDir(), "--enable-feature=promql-delayed-name-removal,no-such-feature",
		"--enable-feature", "promql-experimental-functions")
	ans = struct{ Status, ErrorType, Error string }{}
	if code := getJSON(t, on.url("/api/v1/query", "query", q, "time", "1000"), &ans); code != http.StatusOK || ans.Status != "success" {
		t.Errorf("with the feature: %d %+v", code, ans)
	}
	if !strings.Contains(on.logs(), `Unknown option for --enable-feature" option=no-such-feature`) {
		t.Errorf("no warning about the unknown feature in the log:\n%s", on.logs())
	}
}
