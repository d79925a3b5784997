package influxql

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		q   string
		col int
		msg string
	}{
		{`SELECT FROM cpu`, 8, ""},
		{`SELECT * FORM cpu`, 10, ""},
		{`SELECT * FROM cpu WHERE host=server1`, 30, "single-quoted"},
		{`SELECT * FROM cpu WHERE host='a' AND`, 34, ""},
		{`SELECT * FROM cpu WHERE host='a' OR time > now() - 1h`, 37, "time condition under OR"},
		{`SELECT median(v) FROM cpu`, 8, "unknown function"},
		{`SELECT v, mean(v) FROM cpu`, 8, "mixing"},
		{`SELECT v FROM cpu GROUP BY time(1m)`, 28, "needs an aggregate"},
		{`SELECT mean(v) FROM cpu GROUP BY time(10)`, 39, ""},
		{`SELECT * FROM cpu WHERE time > '2024-13-01T00:00:00Z'`, 32, "bad time"},
		{`SELECT * FROM cpu WHERE value > 5`, 33, "only = and !="},
		{`SELECT * FROM cpu extra`, 19, ""},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			_, err := Parse(c.q)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("Parse: %v, want *Error", err)
			}
			if qe.Column != c.col || !strings.Contains(qe.Msg, c.msg) {
				t.Fatalf("got %v, want column %d %q", qe, c.col, c.msg)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, q := range []string{
		`SELECT * FROM cpu`,
		`select usage_user, usage_system from cpu where hostname = 'host_1' and time >= '2024-01-01T00:00:00Z' and time < 1704070800000000000`,
		`SELECT mean(usage_user), max(usage_user) FROM cpu WHERE (hostname='host_1' OR hostname='host_2') AND time > now() - 1h GROUP BY time(10m)`,
		`SELECT count("usage user") FROM "my cpu" WHERE region != 'eu'`,
	} {
		if _, err := Parse(q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// A date alone means midnight UTC, as in InfluxDB; the range then starts
// exactly there: 2024-01-14T00:00:00Z is 1705190400 s after the epoch.
func TestTimeRangeDateLiteral(t *testing.T) {
	now := time.Date(2024, 1, 20, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		q        string
		min, max int64
	}{
		{`SELECT * FROM cpu WHERE time > '2024-01-14'`, 1705190400e9 + 1, math.MaxInt64},
		{`SELECT * FROM cpu WHERE time >= '2024-01-14' AND time <= '2024-01-14T00:00:10Z'`, 1705190400e9, 1705190410e9},
		{`SELECT * FROM cpu WHERE time > now() - 1h`, now.UnixNano() - 3600e9 + 1, math.MaxInt64},
		{`SELECT * FROM cpu`, math.MinInt64, math.MaxInt64},
	} {
		q, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		min, max, err := q.TimeRange(now)
		if err != nil || min != tc.min || max != tc.max {
			t.Errorf("%s: TimeRange = %d, %d, %v; want %d, %d", tc.q, min, max, err, tc.min, tc.max)
		}
	}
	if _, err := Parse(`SELECT * FROM cpu WHERE time > '2024-13-01'`); err == nil {
		t.Error("a bad date parsed")
	}
}
