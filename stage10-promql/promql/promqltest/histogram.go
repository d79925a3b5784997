package promqltest

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// parseHistogram reads one native histogram in the scripts' notation,
// {{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 offset:-1
// buckets:[1 2 1] n_offset:0 n_buckets:[1] custom_values:[1 5]
// counter_reset_hint:gauge}}, every field optional, buckets one span per
// side starting at offset. hintSet reports an explicit counter_reset_hint
// (an expected histogram is then compared on it too).
func parseHistogram(s string) (h *histogram.FloatHistogram, hintSet bool, err error) {
	body, ok := strings.CutPrefix(s, "{{")
	if body, ok = strings.CutSuffix(body, "}}"); !ok {
		return nil, false, fmt.Errorf("bad histogram %q", s)
	}
	h = &histogram.FloatHistogram{}
	var pos, neg []float64
	var posOff, negOff int32
	seen := map[string]bool{}
	rest := strings.TrimSpace(body)
	for rest != "" {
		colon := strings.IndexByte(rest, ':')
		if colon <= 0 {
			return nil, false, fmt.Errorf("bad histogram %q: want key:value at %q", s, rest)
		}
		key := strings.TrimSpace(rest[:colon])
		rest = strings.TrimSpace(rest[colon+1:])
		if seen[key] {
			return nil, false, fmt.Errorf("duplicate key %q in histogram", key)
		}
		seen[key] = true
		var val string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, false, fmt.Errorf("bad histogram %q: unclosed [", s)
			}
			val, rest = rest[:end+1], strings.TrimSpace(rest[end+1:])
		} else {
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], strings.TrimSpace(rest[end:])
		}
		bad := func(e error) (*histogram.FloatHistogram, bool, error) {
			return nil, false, fmt.Errorf("bad histogram %q: %s: %v", s, key, e)
		}
		switch key {
		case "schema", "offset", "n_offset":
			n, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				return bad(err)
			}
			switch key {
			case "schema":
				h.Schema = int32(n)
			case "offset":
				posOff = int32(n)
			default:
				negOff = int32(n)
			}
		case "sum", "count", "z_bucket", "z_bucket_w":
			f, err := histNumber(val)
			if err != nil {
				return bad(err)
			}
			switch key {
			case "sum":
				h.Sum = f
			case "count":
				h.Count = f
			case "z_bucket":
				h.ZeroCount = f
			default:
				h.ZeroThreshold = f
			}
		case "buckets", "n_buckets", "custom_values":
			var list []float64
			for _, x := range strings.Fields(strings.Trim(val, "[]")) {
				f, err := histNumber(x)
				if err != nil {
					return bad(err)
				}
				list = append(list, f)
			}
			switch key {
			case "buckets":
				pos = list
			case "n_buckets":
				neg = list
			default:
				h.CustomValues = list
			}
		case "counter_reset_hint":
			hintSet = true
			switch val {
			case "unknown":
				h.CounterResetHint = histogram.UnknownCounterReset
			case "reset":
				h.CounterResetHint = histogram.CounterReset
			case "not_reset":
				h.CounterResetHint = histogram.NotCounterReset
			case "gauge":
				h.CounterResetHint = histogram.GaugeType
			default:
				return bad(fmt.Errorf("unknown value %q", val))
			}
		default:
			return nil, false, fmt.Errorf("bad histogram %q: unknown key %q", s, key)
		}
	}
	if len(pos) > 0 {
		h.PositiveSpans, h.PositiveBuckets = []histogram.Span{{Offset: posOff, Length: uint32(len(pos))}}, pos
	}
	if len(neg) > 0 {
		h.NegativeSpans, h.NegativeBuckets = []histogram.Span{{Offset: negOff, Length: uint32(len(neg))}}, neg
	}
	return h, hintSet, nil
}

// histNumber reads a number of the notation: decimal, hexadecimal,
// Inf, NaN, signed.
func histNumber(s string) (float64, error) {
	if n, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(n), nil
	}
	return strconv.ParseFloat(s, 64)
}

// maxHistExpand bounds a histogram token's repetitions: a histogram is
// hundreds of bytes, so a typo (or a fuzzer) asking for a million would
// take gigabytes. Prometheus's own scripts use at most 1,000.
const maxHistExpand = 100_000

// expandHistogram reads a histogram token: {{a}}, {{a}}xn (a n+1 times),
// {{a}}+{{b}}xn (a, a+b, a+2b, … n+1 values) or {{a}}-{{b}}xn.
func expandHistogram(tok string) ([]seqValue, error) {
	end := strings.Index(tok, "}}")
	if end < 0 {
		return nil, fmt.Errorf("bad histogram %q", tok)
	}
	base, hintSet, err := parseHistogram(tok[:end+2])
	if err != nil {
		return nil, err
	}
	rest := tok[end+2:]
	if rest == "" {
		return []seqValue{{h: base, hintSet: hintSet}}, nil
	}
	var inc *histogram.FloatHistogram
	sign := byte(0)
	if rest[0] == '+' || rest[0] == '-' {
		sign = rest[0]
		e2 := strings.Index(rest, "}}")
		if !strings.HasPrefix(rest[1:], "{{") || e2 < 0 {
			return nil, fmt.Errorf("bad histogram series %q", tok)
		}
		var incHint bool
		if inc, incHint, err = parseHistogram(rest[1 : e2+2]); err != nil {
			return nil, err
		}
		hintSet = incHint
		rest = rest[e2+2:]
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, "x"))
	if err != nil || !strings.HasPrefix(rest, "x") || n < 0 || n > maxHistExpand {
		return nil, fmt.Errorf("bad histogram repetition %q", rest)
	}
	out := make([]seqValue, n+1)
	out[0] = seqValue{h: base, hintSet: hintSet}
	cur := base
	for i := 1; i <= n; i++ {
		if inc == nil {
			out[i] = seqValue{h: base, hintSet: hintSet}
			continue
		}
		if cur.Schema > inc.Schema {
			return nil, fmt.Errorf("error combining histograms: cannot merge from schema %d to %d", inc.Schema, cur.Schema)
		}
		next := cur.Copy()
		if sign == '+' {
			_, _, err = next.Add(inc)
		} else {
			_, _, err = next.Sub(inc)
		}
		if err != nil {
			return nil, fmt.Errorf("bad histogram series %q: %v", tok, err)
		}
		out[i] = seqValue{h: next, hintSet: hintSet}
		cur = next
	}
	return out, nil
}

// classicBuckets collects, per series and time, the samples of classic
// histograms (x_bucket{le=…}, x_count, x_sum) that load_with_nhcb turns
// into native histograms with custom buckets.
type classicBuckets struct {
	labels  model.Labels
	byTime  map[int64]*nhcb
	invalid bool
}

type nhcb struct {
	les, counts []float64
	count, sum  float64
	hasCount    bool
}

// convert makes the custom-bucket histogram: the finite le bounds are
// its custom values, each bucket the cumulative count less the one
// below, the count _count (else the highest bucket's), an +Inf bucket
// added if the classic one had none.
func (c *nhcb) convert() (*histogram.FloatHistogram, bool) {
	idx := make([]int, len(c.les))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c.les[idx[a]] < c.les[idx[b]] })
	var les, cum []float64
	for _, i := range idx {
		if n := len(les); n > 0 && les[n-1] == c.les[i] {
			continue
		}
		if c.counts[i] < 0 || (len(cum) > 0 && c.counts[i] < cum[len(cum)-1]) {
			return nil, false
		}
		les, cum = append(les, c.les[i]), append(cum, c.counts[i])
	}
	if !c.hasCount {
		if len(cum) == 0 {
			return nil, false
		}
		c.count = cum[len(cum)-1]
	}
	if len(les) == 0 || !math.IsInf(les[len(les)-1], 1) {
		les, cum = append(les, math.Inf(1)), append(cum, c.count)
	}
	h := &histogram.FloatHistogram{Schema: histogram.CustomBucketsSchema, Count: c.count, Sum: c.sum,
		CustomValues: append([]float64(nil), les[:len(les)-1]...)}
	prev := 0.0
	for i, x := range cum {
		if i == 0 || len(h.PositiveSpans) == 0 {
			h.PositiveSpans = []histogram.Span{{Offset: int32(i), Length: 0}}
		}
		h.PositiveSpans[0].Length++
		h.PositiveBuckets = append(h.PositiveBuckets, x-prev)
		prev = x
	}
	return h, true
}
