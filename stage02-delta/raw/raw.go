// Package raw reads and writes the raw point file that stages 02 and 03
// compress: one series, 16 bytes per point, no header.
//
//	offset 0  int64   timestamp, little-endian (milliseconds by convention; any int64 is valid)
//	offset 8  float64 value, IEEE 754 bits, little-endian
//
// The format is deliberately the naive array-of-structs layout, so the
// compression ratios of the later stages are measured against it.
package raw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
)

// PointSize is the size of one point in a raw file.
const PointSize = 16

// ErrTruncated means the input length is not a multiple of PointSize.
var ErrTruncated = errors.New("raw: file length is not a multiple of 16 bytes")

// Encode returns the raw bytes of the points given as two columns of equal length.
func Encode(ts []int64, vs []float64) []byte {
	if len(ts) != len(vs) {
		panic("raw.Encode: column lengths differ") // a programming error, not bad input
	}
	b := make([]byte, len(ts)*PointSize)
	for i := range ts {
		binary.LittleEndian.PutUint64(b[i*PointSize:], uint64(ts[i]))
		binary.LittleEndian.PutUint64(b[i*PointSize+8:], math.Float64bits(vs[i]))
	}
	return b
}

// Decode splits raw bytes into a timestamp and a value column.
func Decode(b []byte) (ts []int64, vs []float64, err error) {
	if len(b)%PointSize != 0 {
		return nil, nil, fmt.Errorf("%w (%d bytes)", ErrTruncated, len(b))
	}
	n := len(b) / PointSize
	ts = make([]int64, n)
	vs = make([]float64, n)
	for i := 0; i < n; i++ {
		ts[i] = int64(binary.LittleEndian.Uint64(b[i*PointSize:]))
		vs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[i*PointSize+8:]))
	}
	return ts, vs, nil
}

// ReadFile reads a raw point file into columns.
func ReadFile(path string) (ts []int64, vs []float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ts, vs, err = Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, vs, nil
}

// WriteFile writes columns as a raw point file.
func WriteFile(path string, ts []int64, vs []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if _, err := w.Write(Encode(ts, vs)); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
