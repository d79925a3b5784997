package delta

import (
	"encoding/binary"
	"hash/crc32"
	"math"
)

// castagnoli is the CRC-32C table. CRC-32C is the checksum of iSCSI, ext4
// metadata and the Prometheus WAL; amd64 and arm64 compute it in hardware, so
// checking every point costs well under a nanosecond per byte.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C of the raw point file holding ts and vs (16 bytes
// per point: int64 timestamp then float64 bits, little-endian; see package
// raw). It is computed from the columns in 4 KiB pieces, without building the
// whole raw file in memory. It panics if the columns differ in length.
func Checksum(ts []int64, vs []float64) uint32 {
	if len(ts) != len(vs) {
		panic("delta.Checksum: column lengths differ")
	}
	return checksum(ts, vs, new(crcBuffer))
}

// crcBuffer holds 256 raw points. (It escapes to the heap, because crc32
// calls its hardware routine through a function variable, so Compress reuses
// one from its pooled encoder.)
type crcBuffer [256 * 16]byte

func checksum(ts []int64, vs []float64, buf *crcBuffer) uint32 {
	crc := uint32(0)
	for len(ts) > 0 {
		k := min(len(ts), 256)
		b := buf[:k*16]
		for i := range k {
			binary.LittleEndian.PutUint64(b[i*16:], uint64(ts[i]))
			binary.LittleEndian.PutUint64(b[i*16+8:], math.Float64bits(vs[i]))
		}
		crc = crc32.Update(crc, castagnoli, b)
		ts, vs = ts[k:], vs[k:]
	}
	return crc
}
