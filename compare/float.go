package compare

import "math"

// sameFloat compares bit patterns: NaN payloads and the sign of zero count.
func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
