package parser

// Op is a unary, binary or aggregation operator.
type Op uint8

// Operators. Binary operators are listed from the loosest binding to the
// tightest; Precedence gives the numbers.
const (
	OpInvalid Op = iota
	// set operators
	LOR
	LAND
	LUNLESS
	// comparisons
	EQLC
	NEQ
	LTE
	LSS
	GTE
	GTR
	// native histogram bucket trimming (</, >/): no comparison, the same
	// precedence
	TRIM_UPPER
	TRIM_LOWER
	// arithmetic
	ADD
	SUB
	MUL
	DIV
	MOD
	ATAN2
	POW
	// aggregations
	SUM
	AVG
	COUNT
	MIN
	MAX
	GROUP
	STDDEV
	STDVAR
	TOPK
	BOTTOMK
	COUNT_VALUES
	QUANTILE
	LIMITK
	LIMIT_RATIO
	// duration expressions: step(), range(), min_of(a, b), max_of(a, b)
	STEP
	RANGE
	MIN_OF
	MAX_OF
)

var opNames = [...]string{
	OpInvalid: "<invalid>",
	LOR:       "or", LAND: "and", LUNLESS: "unless",
	EQLC: "==", NEQ: "!=", LTE: "<=", LSS: "<", GTE: ">=", GTR: ">", TRIM_UPPER: "</", TRIM_LOWER: ">/",
	ADD: "+", SUB: "-", MUL: "*", DIV: "/", MOD: "%", ATAN2: "atan2", POW: "^",
	SUM: "sum", AVG: "avg", COUNT: "count", MIN: "min", MAX: "max", GROUP: "group",
	STDDEV: "stddev", STDVAR: "stdvar", TOPK: "topk", BOTTOMK: "bottomk",
	COUNT_VALUES: "count_values", QUANTILE: "quantile", LIMITK: "limitk", LIMIT_RATIO: "limit_ratio",
	STEP: "step", RANGE: "range", MIN_OF: "min_of", MAX_OF: "max_of",
}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return opNames[OpInvalid]
}

// binaryOps and aggregateOps map source spellings to operators.
var (
	binaryOps    = map[string]Op{}
	aggregateOps = map[string]Op{}
)

func init() {
	for o := LOR; o <= POW; o++ {
		binaryOps[o.String()] = o
	}
	for o := SUM; o <= LIMIT_RATIO; o++ {
		aggregateOps[o.String()] = o
	}
}

// IsSetOperator reports and/or/unless: they match series, never compute values.
func (o Op) IsSetOperator() bool { return o == LOR || o == LAND || o == LUNLESS }

// IsComparisonOperator reports ==, !=, <, <=, >, >=: without `bool` they filter.
func (o Op) IsComparisonOperator() bool { return o >= EQLC && o <= GTR }

// IsAggregator reports the aggregation operators.
func (o Op) IsAggregator() bool { return o >= SUM && o <= LIMIT_RATIO }

// IsAggregatorWithParam reports the aggregations that take a first parameter.
func (o Op) IsAggregatorWithParam() bool {
	return o == TOPK || o == BOTTOMK || o == COUNT_VALUES || o == QUANTILE || o == LIMITK || o == LIMIT_RATIO
}

// IsExperimental reports the aggregations Prometheus keeps behind
// --enable-feature=promql-experimental-functions.
func (o Op) IsExperimental() bool { return o == LIMITK || o == LIMIT_RATIO }

// Precedence is how tightly a binary operator binds (higher binds tighter):
// or < and,unless < comparisons < +,- < *,/,%,atan2 < ^. Unary minus sits
// between * and ^, so -2^2 is -(2^2) but -a*b is (-a)*b.
func (o Op) Precedence() int {
	switch {
	case o == LOR:
		return 1
	case o == LAND || o == LUNLESS:
		return 2
	case o.IsComparisonOperator() || o == TRIM_UPPER || o == TRIM_LOWER:
		return 3
	case o == ADD || o == SUB:
		return 4
	case o == MUL || o == DIV || o == MOD || o == ATAN2:
		return 5
	case o == POW:
		return 6
	}
	return 0
}
