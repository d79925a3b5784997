package delta_test

import (
	"fmt"

	"github.com/tsdb-course/stage02-delta/delta"
)

func ExampleCompress() {
	ts := []int64{1000, 1010, 1020, 1030, 1040}
	vs := []float64{0.75, 0.82, 0.82, 0.79, 0.80}
	data, st := delta.Compress(ts, vs)
	fmt.Printf("%d points, values as hundredths (E=%d), %d exceptions\n", st.Points, st.Exponent, st.Exceptions)

	ts2, vs2, err := delta.Decompress(data)
	fmt.Println(ts2, vs2, err, delta.Verify(data, ts2, vs2))
	// Output:
	// 5 points, values as hundredths (E=2), 0 exceptions
	// [1000 1010 1020 1030 1040] [0.75 0.82 0.82 0.79 0.8] <nil> <nil>
}
