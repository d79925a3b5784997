package parser

// Function is the signature of a PromQL function: what the type checker
// needs. Its behaviour lives in the engine (package promql).
type Function struct {
	Name     string
	ArgTypes []ValueType
	// Variadic, as in Prometheus: 0 = exactly len(ArgTypes) arguments;
	// otherwise the last argument may be left out, and n > 0 lets it
	// repeat up to n times in all (-1: any number of times), each extra
	// one of the last argument's type.
	Variadic   int
	ReturnType ValueType
	// Experimental functions parse only with Options.ExperimentalFunctions
	// (Prometheus's --enable-feature=promql-experimental-functions).
	Experimental bool
}

// Functions is every function of Prometheus 3's PromQL, by name, with the
// same signatures and the same experimental marks.
var Functions = map[string]*Function{}

func def(name string, ret ValueType, variadic int, args ...ValueType) *Function {
	f := &Function{Name: name, ArgTypes: args, Variadic: variadic, ReturnType: ret}
	Functions[name] = f
	return f
}

// experimental defines a function that needs Options.ExperimentalFunctions.
func experimental(name string, ret ValueType, variadic int, args ...ValueType) {
	def(name, ret, variadic, args...).Experimental = true
}

const (
	s = ValueTypeScalar
	v = ValueTypeVector
	m = ValueTypeMatrix
	t = ValueTypeString
)

func init() {
	// instant vector → instant vector, element by element
	for _, n := range []string{"abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn",
		"acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh",
		"deg", "rad", "timestamp", "sort", "sort_desc", "absent",
		"histogram_avg", "histogram_count", "histogram_sum", "histogram_stddev", "histogram_stdvar"} {
		def(n, v, 0, v)
	}
	def("round", v, 1, v, s)
	def("clamp", v, 0, v, s, s)
	def("clamp_min", v, 0, v, s)
	def("clamp_max", v, 0, v, s)
	experimental("sort_by_label", v, -1, v, t)
	experimental("sort_by_label_desc", v, -1, v, t)
	// date functions default to vector(time())
	for _, n := range []string{"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"} {
		def(n, v, 1, v)
	}
	// range vector → instant vector
	for _, n := range []string{"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
		"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
		"last_over_time", "first_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time",
		"absent_over_time"} {
		def(n, v, 0, m)
	}
	for _, n := range []string{"mad_over_time", "ts_of_first_over_time", "ts_of_last_over_time",
		"ts_of_max_over_time", "ts_of_min_over_time"} {
		experimental(n, v, 0, m)
	}
	def("quantile_over_time", v, 0, s, m)
	def("predict_linear", v, 0, m, s)
	experimental("double_exponential_smoothing", v, 0, m, s, s)
	experimental("integral", v, 1, m, s)
	def("histogram_quantile", v, 0, s, v)
	experimental("histogram_quantiles", v, 9, v, t, s, s)
	def("histogram_fraction", v, 0, s, s, v)
	def("label_replace", v, 0, v, t, t, t, t)
	def("label_join", v, -1, v, t, t, t)
	experimental("info", v, 1, v, v)
	experimental("start_timestamp", v, 0, v)
	def("scalar", s, 0, v)
	def("vector", v, 0, s)
	def("time", s, 0)
	def("pi", s, 0)
	for _, n := range []string{"start", "end", "range", "step"} {
		experimental(n, s, 0)
	}
	experimental("min_of", s, 0, s, s)
	experimental("max_of", s, 0, s, s)
}
