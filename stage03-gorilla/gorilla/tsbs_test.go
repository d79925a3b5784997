package gorilla

import (
	"sync"
	"testing"

	"github.com/tsdb-course/stage02-delta/tsbs"
)

var tsbsCache struct {
	once   sync.Once
	series []tsbs.Series
	err    error
}

// loadCPUOnly loads the TSBS cpu-only file once per test binary.
func loadCPUOnly(tb testing.TB) []tsbs.Series {
	tb.Helper()
	tsbsCache.once.Do(func() {
		path, err := tsbs.Path(tsbs.CPUOnly)
		if err != nil {
			tsbsCache.err = err
			return
		}
		tsbsCache.series, tsbsCache.err = tsbs.Load(path)
	})
	if tsbsCache.err != nil {
		tb.Fatal(tsbsCache.err)
	}
	return tsbsCache.series
}

// prometheusXORBytesPerSample is what Prometheus v0.316.0's XOR chunks need
// on the same data in 120-sample chunks (testdata/tsbs/README.md); the
// compare module measures it again side by side.
const prometheusXORBytesPerSample = 0.926

// TestTSBSBytesPerSample checks the size target on real data: every series
// of the cpu-only file cut into 120-sample chunks, as stage06 will store it.
func TestTSBSBytesPerSample(t *testing.T) {
	series := loadCPUOnly(t)
	var samples, xorBytes, intBytes int
	for _, s := range series {
		for i := 0; i < len(s.T); i += 120 {
			j := min(i+120, len(s.T))
			c := mustEncode(t, s.T[i:j], s.V[i:j], XOR)
			ci := mustEncode(t, s.T[i:j], s.V[i:j], Integer)
			gotT, gotV, err := ci.DecodeAll(nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameSamples(t, gotT, gotV, s.T[i:j], s.V[i:j])
			samples += j - i
			xorBytes += len(c.Bytes())
			intBytes += len(ci.Bytes())
		}
	}
	xor := float64(xorBytes) / float64(samples)
	integer := float64(intBytes) / float64(samples)
	t.Logf("%d samples: XOR %.3f B/sample, Integer %.3f B/sample (Prometheus XOR %.3f)", samples, xor, integer, prometheusXORBytesPerSample)
	if xor > prometheusXORBytesPerSample {
		t.Errorf("XOR chunks need %.3f B/sample, more than Prometheus's %.3f", xor, prometheusXORBytesPerSample)
	}
	if integer > 0.75*xor {
		t.Errorf("Integer chunks need %.3f B/sample, not much smaller than XOR's %.3f", integer, xor)
	}
}
