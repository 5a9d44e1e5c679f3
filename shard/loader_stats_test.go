package shard

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"
)

// TestLoader_StatsExact counts stalls exactly. The real producer's timing
// is the scheduler's, so this test puts a scripted producer in its place,
// inside a synctest bubble where time moves only when every goroutine
// waits: batch 1 is ready before Next asks for it, batches 2 and 3 come
// 3ms and 5ms after Next starts waiting, and the end of the epoch 7ms
// after. Two stalls, 8ms of wait: the wait for io.EOF is not a stall.
func TestLoader_StatsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewLoader(&Dataset{name: "scripted"}, LoaderConfig{BatchSize: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		p := &producer{out: make(chan prepared, 1), stop: make(chan struct{}), done: make(chan struct{})}
		l.run = p
		go func() {
			defer close(p.done)
			defer close(p.out)
			p.out <- prepared{batch: &Batch{}}
			for _, d := range []time.Duration{3 * time.Millisecond, 5 * time.Millisecond} {
				time.Sleep(d)
				p.out <- prepared{batch: &Batch{}}
			}
			time.Sleep(7 * time.Millisecond)
		}()
		synctest.Wait() // batch 1 is queued; the producer sleeps
		for k := range 3 {
			if _, err := l.Next(context.Background()); err != nil {
				t.Fatalf("batch %d: %v", k+1, err)
			}
		}
		if _, err := l.Next(context.Background()); !errors.Is(err, io.EOF) {
			t.Fatalf("after 3 batches: %v, want io.EOF", err)
		}
		want := LoaderStats{Batches: 3, Stalls: 2, Wait: 8 * time.Millisecond}
		if got := l.Stats(); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
	})
}
