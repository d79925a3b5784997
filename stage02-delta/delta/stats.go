package delta

// Stats describes one compressed series: sizes per part of the file and the
// figures the CLI prints.
type Stats struct {
	Points          int
	RawBytes        int // 16 per point: the raw point file
	CompressedBytes int // the whole compressed file
	HeaderBytes     int // magic, version, checksum, point count
	TimestampBytes  int // the timestamp column, first timestamp included
	ValueBytes      int // the value column, exponent and exceptions included

	TimestampCodec Codec
	ValueCodec     Codec
	Exponent       int // the value column's shared decimal exponent E
	Exceptions     int // values stored as raw bits

	// AvgTimestampDelta is (t_last - t_first)/(n-1), in the timestamps' unit
	// (milliseconds by convention).
	AvgTimestampDelta float64
	// AvgValueDelta is the mean |v_i - v_{i-1}| over the decimal values (an
	// exception counts as a repeat of the value before it).
	AvgValueDelta float64
	// TimestampBitsPerDelta and ValueBitsPerDelta spread each column's
	// whole size over the n-1 deltas of the series.
	TimestampBitsPerDelta float64
	ValueBitsPerDelta     float64
}

// Ratio is RawBytes / CompressedBytes.
func (s Stats) Ratio() float64 {
	if s.CompressedBytes == 0 {
		return 0
	}
	return float64(s.RawBytes) / float64(s.CompressedBytes)
}

// BytesPerPoint is CompressedBytes / Points (0 for an empty series).
func (s Stats) BytesPerPoint() float64 {
	if s.Points == 0 {
		return 0
	}
	return float64(s.CompressedBytes) / float64(s.Points)
}

func (s *Stats) fill(ts []int64, col valueColumn) {
	s.ValueCodec = col.codec
	s.Exponent = col.exponent
	s.Exceptions = col.exceptions
	if s.Points < 2 {
		return
	}
	deltas := float64(s.Points - 1)
	// In float64, so that MinInt64 … MaxInt64 does not overflow.
	s.AvgTimestampDelta = (float64(ts[len(ts)-1]) - float64(ts[0])) / deltas
	s.AvgValueDelta = col.absDeltas / pow10f[col.exponent] / deltas
	s.TimestampBitsPerDelta = float64(8*s.TimestampBytes) / deltas
	s.ValueBitsPerDelta = float64(8*s.ValueBytes) / deltas
}
