package ddp

import (
	"strings"
	"testing"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// TestResolve: the flags, the rank's identity and the backends'
// capabilities resolve into one Plan, with Note [Overlap policy], Note
// [Wire conversion] and Note [Optimizer implementations] written out as
// expectations; a forced flag that cannot be honoured is an error.
func TestResolve(t *testing.T) {
	one := rankenv.Identity{WorldSize: 1, LocalWorldSize: 1}
	oneMachine := rankenv.Identity{WorldSize: 4, LocalWorldSize: 4}
	twoMachines := rankenv.Identity{WorldSize: 8, LocalWorldSize: 4}
	gpus := rankenv.Identity{WorldSize: 8, LocalWorldSize: 4, Device: "cuda:0"}
	type want struct {
		backend               string
		wire                  collective.DType
		convert, flat, sparse bool
		overlap               bool
	}
	ring16 := want{"ring", collective.BFloat16, false, false, true, false}
	for _, tc := range []struct {
		name string
		id   rankenv.Identity
		cuda int
		set  func(*Config)
		want want
		err  string
	}{
		{"one rank", one, 0, func(*Config) {}, want{"", collective.Float32, false, false, true, false}, ""},
		{"one machine: bf16 ring, no overlap", oneMachine, 0, func(*Config) {}, ring16, ""},
		{"two machines: overlap", twoMachines, 0, func(*Config) {}, want{"ring", collective.BFloat16, false, false, true, true}, ""},
		{"--overlap on", oneMachine, 0, func(c *Config) { c.Overlap = "on" }, want{"ring", collective.BFloat16, false, false, true, true}, ""},
		{"--overlap off", twoMachines, 0, func(c *Config) { c.Overlap = "off" }, ring16, ""},
		{"--wire fp32", oneMachine, 0, func(c *Config) { c.Wire = "fp32" }, want{"ring", collective.Float32, false, false, true, false}, ""},
		{"--dense-embeddings", oneMachine, 0, func(c *Config) { c.DenseEmbeddings = true }, want{"ring", collective.BFloat16, false, false, false, false}, ""},
		{"--optimizer-impl flat", oneMachine, 0, func(c *Config) { c.OptimizerImpl = "flat" }, want{"ring", collective.BFloat16, false, true, false, false}, ""},
		{"masked LM: dense", oneMachine, 0, func(c *Config) { c.Objective = ObjectiveMaskedLM }, want{"ring", collective.BFloat16, false, false, false, false}, ""},
		{"CUDA: nccl, converted, flat", gpus, 4, func(*Config) {}, want{"nccl", collective.BFloat16, true, true, false, false}, ""},
		{"CUDA, fp32 wire", gpus, 4, func(c *Config) { c.Wire = "fp32" }, want{"nccl", collective.Float32, false, true, false, false}, ""},
		{"nccl on a CPU model converts", oneMachine, 0, func(c *Config) { c.Backend = "nccl" }, want{"nccl", collective.BFloat16, true, false, true, false}, ""},
		{"--overlap on with a conversion", oneMachine, 0, func(c *Config) { c.Backend, c.Overlap = "nccl", "on" }, want{}, "--overlap on: ddp converts"},
		{"--overlap on, CUDA", gpus, 4, func(c *Config) { c.Overlap, c.Wire = "on", "fp32" }, want{}, "--overlap on: on CUDA"},
		{"--optimizer-impl host, CUDA", gpus, 4, func(c *Config) { c.OptimizerImpl = "host" }, want{}, "--optimizer-impl host updates host memory"},
		{"--lazy-embeddings, dense", oneMachine, 0, func(c *Config) { c.LazyEmbeddings, c.DenseEmbeddings = true, true }, want{}, "--lazy-embeddings needs"},
		{"--wire-integrity on nccl", gpus, 4, func(c *Config) { c.Integrity = true }, want{}, "--wire-integrity"},
		{"ring on CUDA", gpus, 4, func(c *Config) { c.Backend = "ring" }, want{}, "needs --backend nccl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
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
			got := want{p.Backend, p.Wire, p.Convert, p.Flat, p.Sparse, p.Overlap}
			if got != tc.want {
				t.Errorf("plan %+v, want %+v (%s)", got, tc.want, p)
			}
			for _, k := range []string{"wire", "optimizer", "embeddings", "overlap"} {
				if p.Why[k] == "" {
					t.Errorf("no reason for %s", k)
				}
			}
		})
	}
}
