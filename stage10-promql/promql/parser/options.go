package parser

// Options are the parts of the language Prometheus keeps behind
// --enable-feature flags. The zero value is Prometheus 3's default language.
type Options struct {
	// ExperimentalFunctions admits the functions and aggregations marked
	// Experimental (limitk, limit_ratio, sort_by_label, mad_over_time, …):
	// --enable-feature=promql-experimental-functions. Without it they are
	// parse errors, as in Prometheus.
	ExperimentalFunctions bool
	// FillModifiers admits fill(v), fill_left(v) and fill_right(v) after a
	// binary operator's vector matching:
	// --enable-feature=promql-binop-fill-modifiers.
	FillModifiers bool
	// UnquotedUTF8Names admits Unicode letters, and dots after the first
	// character, in unquoted metric and label names (http.requests,
	// 温度): --enable-feature=promql-unquoted-utf8-names.
	UnquotedUTF8Names bool
}
