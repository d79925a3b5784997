package promql

import (
	"strings"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Features are the PromQL parts that Prometheus keeps behind its
// --enable-feature flags; the zero value is Prometheus 3's default
// language. ParseFeatures reads the flags' values.
type Features struct {
	// ExperimentalFunctions: promql-experimental-functions (limitk,
	// limit_ratio, sort_by_label, mad_over_time, ts_of_*_over_time,
	// double_exponential_smoothing, info, start(), step(), min_of, …).
	ExperimentalFunctions bool
	// DelayedNameRemoval: promql-delayed-name-removal. Functions and
	// operators that drop __name__ mark their results instead, and the
	// name goes only when the query is done, so label_replace and
	// "by (__name__)" can still read it.
	DelayedNameRemoval bool
	// FillModifiers: promql-binop-fill-modifiers (fill, fill_left,
	// fill_right after a binary operator's matching).
	FillModifiers bool
	// UnquotedUTF8Names: promql-unquoted-utf8-names.
	UnquotedUTF8Names bool
	// StartTimestamps: use-start-timestamps. rate, increase, irate and
	// resets read the samples' start times where the storage keeps them
	// (a start after the previous sample is a counter reset, a start
	// inside the window an exact beginning), and start_timestamp()
	// returns them.
	StartTimestamps bool
}

// featureFlags maps Prometheus's --enable-feature values to the fields
// above; the ones now always on in Prometheus are accepted as no-ops.
var featureFlags = map[string]func(*Features){
	"promql-experimental-functions":   func(f *Features) { f.ExperimentalFunctions = true },
	"promql-delayed-name-removal":     func(f *Features) { f.DelayedNameRemoval = true },
	"promql-binop-fill-modifiers":     func(f *Features) { f.FillModifiers = true },
	"promql-unquoted-utf8-names":      func(f *Features) { f.UnquotedUTF8Names = true },
	"use-start-timestamps":            func(f *Features) { f.StartTimestamps = true },
	"promql-duration-expr":            func(*Features) {},
	"promql-extended-range-selectors": func(*Features) {},
}

// AllFeatures enables every feature: what Prometheus's own PromQL test
// suite runs with.
var AllFeatures = Features{ExperimentalFunctions: true, DelayedNameRemoval: true, FillModifiers: true, UnquotedUTF8Names: true, StartTimestamps: true}

// ParseFeatures reads --enable-feature values, each a comma-separated
// list (the flag may be given several times, as in Prometheus). It returns
// the features and the names it does not know, which Prometheus warns
// about rather than refusing (many of its flags are not about PromQL).
func ParseFeatures(values []string) (f Features, unknown []string) {
	for _, v := range values {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if set, ok := featureFlags[name]; ok {
				set(&f)
			} else {
				unknown = append(unknown, name)
			}
		}
	}
	return f, unknown
}

// FeatureFlag is a flag.Value for Prometheus's --enable-feature: each use
// adds a comma-separated list (ParseFeatures reads them all).
type FeatureFlag []string

func (f *FeatureFlag) String() string { return strings.Join(*f, ",") }

// Set adds one --enable-feature value.
func (f *FeatureFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// Parser is the parser configuration these features ask for.
func (f Features) Parser() parser.Options {
	return parser.Options{
		ExperimentalFunctions: f.ExperimentalFunctions,
		FillModifiers:         f.FillModifiers,
		UnquotedUTF8Names:     f.UnquotedUTF8Names,
	}
}

// Flags lists the --enable-feature values that give f, for a server's
// status page: the inverse of ParseFeatures.
func (f Features) Flags() []string {
	var out []string
	for _, fl := range []struct {
		on   bool
		name string
	}{
		{f.ExperimentalFunctions, "promql-experimental-functions"},
		{f.DelayedNameRemoval, "promql-delayed-name-removal"},
		{f.FillModifiers, "promql-binop-fill-modifiers"},
		{f.UnquotedUTF8Names, "promql-unquoted-utf8-names"},
		{f.StartTimestamps, "use-start-timestamps"},
	} {
		if fl.on {
			out = append(out, fl.name)
		}
	}
	return out
}

// String is the flags as one --enable-feature value.
func (f Features) String() string { return strings.Join(f.Flags(), ",") }
