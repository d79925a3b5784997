package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestLeadBound: a writer more than maxLead requests ahead of the slowest
// waits until the slowest is answered (or leaves, or the run ends); one
// within the bound goes at once.
func TestLeadBound(t *testing.T) {
	l, stop := newLeadBound(context.Background(), 3, 10, time.Now().Add(time.Hour))
	defer stop()
	if want := int64(maxDataLead / (100 * time.Second)); l.maxLead != want {
		t.Fatalf("maxLead %d requests, want %d (30 min of 10 rounds of 10 s)", l.maxLead, want)
	}
	l.answered(0, 40)
	l.answered(1, 25)
	l.answered(2, 30)
	if l.wait(25 + l.maxLead) {
		t.Fatal("a writer at the bound waited")
	}
	returned := make(chan bool)
	go func() { returned <- l.wait(26 + l.maxLead) }()
	for l.waiting.Load() == 0 { // it found itself ahead and waits
		runtime.Gosched()
	}
	select {
	case <-returned:
		t.Fatal("a writer past the bound did not wait")
	default:
	}
	l.answered(1, 26) // the slowest (writer 1) catches up by one
	if !<-returned {
		t.Fatal("wait did not report that it waited")
	}

	// A writer that stopped does not hold the others back.
	go func() { returned <- l.wait(31 + l.maxLead) }()
	for l.waiting.Load() == 0 {
		runtime.Gosched()
	}
	l.leave(2)
	l.leave(1)
	<-returned

	// The end of the run releases a waiter whatever the others do.
	go func() { returned <- l.wait(1000) }()
	for l.waiting.Load() == 0 {
		runtime.Gosched()
	}
	stop()
	<-returned
}
