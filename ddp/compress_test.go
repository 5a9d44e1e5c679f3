package ddp

import (
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/rankenv"
)

func TestParseCompression(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Compression
		err  string
	}{
		{"", Compression{}, ""},
		{"none", Compression{}, ""},
		{"powersgd:4", Compression{Rank: 4, Start: AfterWarmup}, ""},
		{"powersgd:1:100", Compression{Rank: 1, Start: 100}, ""},
		{"powersgd", Compression{}, "powersgd:RANK"},
		{"powersgd:0", Compression{}, "rank must be 1 to 64"},
		{"powersgd:4:1", Compression{}, "at least 2"},
		{"topk:4", Compression{}, "none, powersgd"},
	} {
		got, err := ParseCompression(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want an error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
		if back, _ := ParseCompression(got.String()); back != got {
			t.Errorf("%q: String %q parses to %+v", tc.in, got.String(), back)
		}
	}
	if s := (Compression{Rank: 4, Start: AfterWarmup}).startStep(45); s != 45 {
		t.Errorf("start after a 45-step warmup: %d", s)
	}
	if s := (Compression{Rank: 4, Start: AfterWarmup}).startStep(0); s != 2 {
		t.Errorf("start without warmup: %d, want torch's minimum 2", s)
	}
}

// --compress resolves as Note [PowerSGD] says: on for several ranks on
// host memory, off for one rank, an error where buckets live elsewhere.
func TestResolveCompress(t *testing.T) {
	one := rankenv.Identity{WorldSize: 1, LocalWorldSize: 1}
	twoMachines := rankenv.Identity{WorldSize: 2, LocalWorldSize: 1}
	gpus := rankenv.Identity{WorldSize: 8, LocalWorldSize: 4, Device: "cuda:0"}
	for _, tc := range []struct {
		name, compress, backend, impl string
		id                            rankenv.Identity
		cuda                          int
		want                          int // rank
		err                           string
	}{
		{"default: off", "", "", "", twoMachines, 0, 0, ""},
		{"two machines", "powersgd:4", "", "", twoMachines, 0, 4, ""},
		{"flat optimizer on the CPU", "powersgd:2", "", "flat", twoMachines, 0, 2, ""},
		{"one rank: off", "powersgd:4", "", "", one, 0, 0, ""},
		{"CUDA", "powersgd:4", "", "", gpus, 4, 0, "host memory"},
		{"nccl on a CPU model", "powersgd:4", "nccl", "", twoMachines, 0, 0, "host memory"},
		{"bad", "powersgd:x", "", "", twoMachines, 0, 0, "rank must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Compress = tc.compress
			if tc.backend != "" {
				c.Backend = tc.backend
			}
			if tc.impl != "" {
				c.OptimizerImpl = tc.impl
			}
			p, err := resolve(c, tc.id, tc.cuda)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Compress.Rank != tc.want || p.Why["compress"] == "" {
				t.Errorf("compress %v (%q), want rank %d", p.Compress, p.Why["compress"], tc.want)
			}
		})
	}
}
