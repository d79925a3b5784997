package chunks

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkHeadChunkRead is the lookup a head range query does for each
// full chunk: Chunk(ref) of 50,000 chunks of 260 bytes (a series' 120
// samples), in a version 1 file (fixed 24-byte record fields) and in a
// version 2 file (varints), one reader and two at once (the read-ahead's
// decoders). ns/chunk is the lookup alone: file, record, CRC.
func BenchmarkHeadChunkRead(b *testing.B) {
	const n, size = 50_000, 260
	rng := rand.New(rand.NewPCG(1, 2))
	chunk := make([]byte, size)
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	chunk[0] = 0 // a sample count's high byte, as chunks start
	for _, ver := range []int{1, 2} {
		dir := b.TempDir()
		var refs []Ref
		if ver == 1 {
			file := []byte("THC6\x01\x00\x00\x00")
			for i := range n {
				off := len(file)
				r := binary.LittleEndian.AppendUint64(nil, uint64(1+i%10_000))
				r = binary.LittleEndian.AppendUint64(r, uint64(i)*1_800_000)
				r = binary.LittleEndian.AppendUint64(r, uint64(i)*1_800_000+1_785_000)
				r = binary.AppendUvarint(r, size)
				r = append(r, chunk...)
				file = append(file, binary.LittleEndian.AppendUint32(r, crc32c(r))...)
				refs = append(refs, NewRef(1, off))
			}
			if err := os.WriteFile(filepath.Join(dir, SegmentName(1)), file, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		h, err := OpenHeadChunks(dir, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		if ver == 2 {
			for i := range n {
				ref, err := h.Write(uint64(1+i%10_000), int64(i)*1_800_000, int64(i)*1_800_000+1_785_000, chunk)
				if err != nil {
					b.Fatal(err)
				}
				refs = append(refs, ref)
			}
		}
		for _, readers := range []int{1, 2} {
			b.Run("v"+string(rune('0'+ver))+"/readers="+string(rune('0'+readers)), func(b *testing.B) {
				for b.Loop() {
					done := make(chan int, readers)
					for r := range readers {
						go func() {
							sum := 0
							for i := r; i < len(refs); i += readers {
								c, err := h.Chunk(refs[i])
								if err != nil {
									b.Error(err)
									break
								}
								sum += len(c)
							}
							done <- sum
						}()
					}
					for range readers {
						if s := <-done; s != n/readers*size {
							b.Fatalf("read %d bytes", s)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/chunk")
			})
		}
		h.Close()
	}
}
