package parser

// Function is the signature of a PromQL function: what the type checker
// needs. Its behaviour lives in the engine (package promql).
type Function struct {
	Name     string
	ArgTypes []ValueType
	// Variadic: 0 = exactly len(ArgTypes) arguments; n > 0 = the last n
	// arguments may be left out; -1 = the last argument type repeats any
	// number of times (including zero).
	Variadic   int
	ReturnType ValueType
}

// Functions is every function the engine implements, by name.
var Functions = map[string]*Function{}

func def(name string, ret ValueType, variadic int, args ...ValueType) {
	Functions[name] = &Function{Name: name, ArgTypes: args, Variadic: variadic, ReturnType: ret}
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
		"deg", "rad", "timestamp", "sort", "sort_desc", "absent"} {
		def(n, v, 0, v)
	}
	def("round", v, 1, v, s)
	def("clamp", v, 0, v, s, s)
	def("clamp_min", v, 0, v, s)
	def("clamp_max", v, 0, v, s)
	def("sort_by_label", v, -1, v, t)
	def("sort_by_label_desc", v, -1, v, t)
	// date functions default to vector(time())
	for _, n := range []string{"day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year"} {
		def(n, v, 1, v)
	}
	// range vector → instant vector
	for _, n := range []string{"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
		"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
		"last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time", "absent_over_time"} {
		def(n, v, 0, m)
	}
	def("quantile_over_time", v, 0, s, m)
	def("predict_linear", v, 0, m, s)
	def("double_exponential_smoothing", v, 0, m, s, s)
	def("holt_winters", v, 0, m, s, s)
	def("histogram_quantile", v, 0, s, v)
	def("label_replace", v, 0, v, t, t, t, t)
	def("label_join", v, -1, v, t, t, t)
	def("scalar", s, 0, v)
	def("vector", v, 0, s)
	def("time", s, 0)
	def("pi", s, 0)
}
