package remote

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	body := `{"timeseries":[{"labels":[{"name":"__name__","value":"cpu_usage"},{"name":"host","value":"server1"}],
	  "samples":[{"timestamp":1640000000000,"value":0.75},{"timestamp":1640000060000,"value":"NaN"}]}]}`
	var got []testSeries
	var keys []string
	err := DecodeJSON(strings.NewReader(body), func(ts *TimeSeries) error {
		var s testSeries
		for _, l := range ts.Labels {
			s.labels = append(s.labels, [2]string{string(l.Name), string(l.Value)})
		}
		for _, p := range ts.Samples {
			s.samples = append(s.samples, [2]float64{float64(p.T), p.V})
		}
		got = append(got, s)
		keys = append(keys, string(ts.Key))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !math.IsNaN(got[0].samples[1][1]) {
		t.Fatalf("%v", got)
	}
	got[0].samples[1][1] = 0
	want := testSeries{labels: [][2]string{{"__name__", "cpu_usage"}, {"host", "server1"}}, samples: [][2]float64{{1640000000000, 0.75}, {1640000060000, 0}}}
	if !reflect.DeepEqual(got[0], want) || keys[0] == "" {
		t.Fatalf("%v %q", got, keys)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, body := range []string{
		``, `{`, `[]`, `{"timeseries":[{"samples":[{"value":1}]}]}`,
		`{"timeseries":[{"samples":[{"timestamp":1,"value":"x"}]}]}`,
		`{"timeseries":[{"samples":[{"timestamp":1}]}]}`,
		`{"series":[]}`, `{"timeseries":[]} {}`,
	} {
		called := false
		err := DecodeJSON(strings.NewReader(body), func(*TimeSeries) error { called = true; return nil })
		if !errors.Is(err, ErrInvalid) || called {
			t.Errorf("%q: err = %v, called %v", body, err, called)
		}
	}
}
