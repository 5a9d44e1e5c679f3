package leakcheck

import (
	"testing"
	"time"
)

func parkedHere(stop chan struct{}) { <-stop }

func TestGoroutinesFindsAndForgets(t *testing.T) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { parkedHere(stop); close(done) }()
	marker := "leakcheck.parkedHere"
	deadline := time.Now().Add(5 * time.Second)
	for Goroutines(marker) == "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if Goroutines(marker) == "" {
		t.Fatal("a parked goroutine was not found")
	}
	close(stop)
	<-done
	for Goroutines(marker) != "" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if g := Goroutines(marker); g != "" {
		t.Fatalf("an ended goroutine is still reported:\n%s", g)
	}
	if g := Goroutines("leakcheck.TestGoroutinesFindsAndForgets"); g != "" {
		t.Errorf("the caller's own stack is reported:\n%s", g)
	}
}
