package ddp

import (
	"runtime"
	"testing"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// A rank's cores are --threads, else the machine's shared by the ranks on
// it as the rank's identity counts them (never LOCAL_WORLD_SIZE read
// behind the caller's back), and go to one pool at a time (Note [Thread
// pools]).
func TestThreadPlan(t *testing.T) {
	t.Setenv("LOCAL_WORLD_SIZE", "1000000")
	n := runtime.NumCPU()
	for _, tc := range []struct {
		threads, localRanks int
		precision           string
		want                torchrt.Config
	}{
		{0, 1, "bf16", torchrt.Config{Threads: n, BLASThreads: 1}},
		{0, 2 * n, "bf16", torchrt.Config{Threads: 1, BLASThreads: 1}},
		{0, 2 * n, "fp32", torchrt.Config{Threads: 1, BLASThreads: 1}},
		{3, 2, "fp32", torchrt.Config{Threads: 1, BLASThreads: 3}},
		{3, 2, "bf16", torchrt.Config{Threads: 3, BLASThreads: 1}},
	} {
		if got := threadPlan(tc.threads, tc.localRanks, tc.precision); got != tc.want {
			t.Errorf("threadPlan(%d, %d ranks, %s) = %+v on %d CPUs, want %+v", tc.threads, tc.localRanks, tc.precision, got, n, tc.want)
		}
	}
}
