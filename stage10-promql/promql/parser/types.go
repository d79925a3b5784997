package parser

// ValueType is the type an expression evaluates to. PromQL's type system has
// exactly four types, and every operator and function states which it accepts:
// that is what lets `rate(foo)` be rejected before any data is read.
type ValueType string

// The four PromQL types, spelled as Prometheus's HTTP API spells them in
// "resultType" (the error messages use the long names from String).
const (
	ValueTypeNone   ValueType = "none"
	ValueTypeScalar ValueType = "scalar"
	ValueTypeVector ValueType = "vector"
	ValueTypeMatrix ValueType = "matrix"
	ValueTypeString ValueType = "string"
)

// DocumentedType is the name the PromQL documentation (and every error
// message) uses: "instant vector", "range vector", "scalar", "string".
func (t ValueType) DocumentedType() string {
	switch t {
	case ValueTypeVector:
		return "instant vector"
	case ValueTypeMatrix:
		return "range vector"
	}
	return string(t)
}
