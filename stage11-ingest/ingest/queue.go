package ingest

// queue is the bounded queue of sealed batches. Ring is the pipeline's;
// chanQueue, a buffered channel, is the obvious alternative, kept so that
// the two can be measured side by side (BenchmarkQueue, and the pipeline
// with Options.Queue = "chan").
type queue interface {
	push(*Batch) bool // false: full
	pop() *Batch      // nil: empty
	len() int
	cap() int
}

type ringQueue struct{ r *Ring[*Batch] }

func (q ringQueue) push(b *Batch) bool { return q.r.Push(b) }
func (q ringQueue) pop() *Batch        { b, _ := q.r.Pop(); return b }
func (q ringQueue) len() int           { return q.r.Len() }
func (q ringQueue) cap() int           { return q.r.Cap() }

type chanQueue chan *Batch

func (q chanQueue) push(b *Batch) bool {
	select {
	case q <- b:
		return true
	default:
		return false
	}
}

func (q chanQueue) pop() *Batch {
	select {
	case b := <-q:
		return b
	default:
		return nil
	}
}

func (q chanQueue) len() int { return len(q) }
func (q chanQueue) cap() int { return cap(q) }
