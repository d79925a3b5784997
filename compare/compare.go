// Package compare runs the course's codecs and Prometheus's side by side on
// the same data in the same process, so that their figures can be compared
// on a shared, noisy machine: stage03's Gorilla chunks (XOR and Integer),
// Prometheus's tsdb/chunkenc XORChunk, and stage02's delta codec.
//
// The package holds only the data preparation and the per-codec
// encode/decode functions; the benchmarks and the cross-check test are in
// compare_test.go.
package compare

import (
	"errors"
	"fmt"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// ChunkSamples is the chunk length of the comparison: Prometheus cuts its
// head chunks at 120 samples, and stage06 will do the same.
const ChunkSamples = 120

// Chunk is one run of samples of one series, the unit every codec encodes.
type Chunk struct {
	T []int64
	V []float64
}

// Data is a benchmark data set cut into chunks, plus the whole series for
// codecs whose unit is a series (stage02 delta).
type Data struct {
	Chunks  []Chunk
	Series  []Chunk
	Samples int
}

// LoadTSBS loads a TSBS file from the repository's testdata/tsbs and cuts every series into
// chunks of n samples.
func LoadTSBS(name string, n int) (Data, error) {
	path, err := tsbs.Path(name)
	if err != nil {
		return Data{}, err
	}
	series, err := tsbs.Load(path)
	if err != nil {
		return Data{}, err
	}
	var cols []Chunk
	for _, s := range series {
		cols = append(cols, Chunk{T: s.T, V: s.V})
	}
	return Cut(cols, n), nil
}

// Cut splits series into chunks of n samples (the last of each may be shorter).
func Cut(series []Chunk, n int) Data {
	d := Data{Series: series}
	for _, s := range series {
		for i := 0; i < len(s.T); i += n {
			j := min(i+n, len(s.T))
			d.Chunks = append(d.Chunks, Chunk{T: s.T[i:j], V: s.V[i:j]})
			d.Samples += j - i
		}
	}
	return d
}

// EncodePrometheus builds a Prometheus XOR chunk, as its head does: one
// Append per sample.
func EncodePrometheus(c Chunk) ([]byte, error) {
	pc := chunkenc.NewXORChunk()
	app, err := pc.Appender()
	if err != nil {
		return nil, err
	}
	for i, t := range c.T {
		app.Append(0, t, c.V[i])
	}
	return pc.Bytes(), nil
}

// EncodeGorilla builds a stage03 chunk the same way.
func EncodeGorilla(c Chunk, enc gorilla.Encoding) ([]byte, error) {
	gc, err := gorilla.NewChunk(enc)
	if err != nil {
		return nil, err
	}
	app, err := gc.Appender()
	if err != nil {
		return nil, err
	}
	for i, t := range c.T {
		if err := app.Append(t, c.V[i]); err != nil {
			return nil, err
		}
	}
	return gc.Bytes(), nil
}

// errMismatch reports decoders that disagree.
var errMismatch = errors.New("compare: decoded samples differ")

// DecodePrometheus appends a Prometheus XOR chunk's samples to c.
func DecodePrometheus(b []byte, c Chunk) (Chunk, error) {
	pc, err := chunkenc.FromData(chunkenc.EncXOR, b)
	if err != nil {
		return c, err
	}
	it := pc.Iterator(nil)
	for it.Next() == chunkenc.ValFloat {
		t, v := it.At()
		c.T = append(c.T, t)
		c.V = append(c.V, v)
	}
	return c, it.Err()
}

// DecodeGorilla appends a stage03 chunk's samples to c via its iterator.
func DecodeGorilla(b []byte, c Chunk) (Chunk, error) {
	it := gorilla.NewIterator(b)
	for it.Next() {
		t, v := it.At()
		c.T = append(c.T, t)
		c.V = append(c.V, v)
	}
	return c, it.Err()
}

// Equal reports, as an error, the first sample where a and b differ bit for bit.
func Equal(a, b Chunk) error {
	if len(a.T) != len(b.T) || len(a.V) != len(b.V) {
		return fmt.Errorf("%w: %d samples vs %d", errMismatch, len(a.T), len(b.T))
	}
	for i := range a.T {
		if a.T[i] != b.T[i] || !sameFloat(a.V[i], b.V[i]) {
			return fmt.Errorf("%w: sample %d: (%d, %v) vs (%d, %v)", errMismatch, i, a.T[i], a.V[i], b.T[i], b.V[i])
		}
	}
	return nil
}
