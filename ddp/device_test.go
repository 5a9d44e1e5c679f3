package ddp

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/rankenv"
)

func TestResolveDevice(t *testing.T) {
	launched := rankenv.Identity{Rank: 5, LocalRank: 1, Device: "cuda:0"} // one GPU per rank via CUDA_VISIBLE_DEVICES
	torchrun := rankenv.Identity{Rank: 3, LocalRank: 3}
	for _, tc := range []struct {
		spec string
		id   rankenv.Identity
		cuda int
		want gotch.Device
		err  string
	}{
		{"auto", torchrun, 0, gotch.CPU, ""},
		{"", torchrun, 4, gotch.CudaBuilder(3), ""},
		{"auto", launched, 1, gotch.CudaBuilder(0), ""},
		{"cuda", launched, 1, gotch.CudaBuilder(0), ""},
		{"cpu", launched, 1, gotch.CPU, ""},
		{"cuda:2", torchrun, 4, gotch.CudaBuilder(2), ""},
		{"cuda", torchrun, 2, gotch.CPU, "wants CUDA device 3, but only 2 are visible"},
		{"auto", torchrun, 2, gotch.CPU, "only 2 are visible"},
		{"cuda", torchrun, 0, gotch.CPU, "sees no CUDA device"},
		{"cuda:x", torchrun, 4, gotch.CPU, "want cuda:N"},
		{"tpu", torchrun, 4, gotch.CPU, "want auto, cpu, cuda or cuda:N"},
	} {
		got, err := ResolveDevice(tc.spec, tc.id, tc.cuda)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ResolveDevice(%q, local rank %d, %d GPUs) = %v, %v; want an error with %q", tc.spec, tc.id.LocalRank, tc.cuda, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ResolveDevice(%q, local rank %d, %d GPUs) = %v, %v; want %v", tc.spec, tc.id.LocalRank, tc.cuda, got, err, tc.want)
		}
	}
}

func TestBackendFor(t *testing.T) {
	gpu := gotch.CudaBuilder(0)
	for _, tc := range []struct {
		spec string
		dev  gotch.Device
		want string
	}{
		{"auto", gotch.CPU, "ring"}, {"auto", gpu, "nccl"}, {"", gpu, "nccl"},
		{"nccl", gotch.CPU, "nccl"}, {"ring", gotch.CPU, "ring"},
	} {
		if got, err := BackendFor(tc.spec, tc.dev); err != nil || got != tc.want {
			t.Errorf("BackendFor(%q, %v) = %q, %v; want %q", tc.spec, tc.dev, got, err, tc.want)
		}
	}
	if _, err := BackendFor("ring", gpu); err == nil || !strings.Contains(err.Error(), "needs --backend nccl") {
		t.Errorf("ring on CUDA: %v", err)
	}
	if _, err := BackendFor("hccl", gotch.CPU); !errors.Is(err, collective.ErrUnsupported) {
		t.Errorf("hccl: %v, want ErrUnsupported", err)
	}
	if _, err := BackendFor("gloo", gotch.CPU); err == nil {
		t.Error("an unknown backend was accepted")
	}
}

// Two ranks on one host that name the same GPU are refused, on every rank;
// distinct GPUs (through CUDA_VISIBLE_DEVICES' physical indices) are not.
func TestCheckPlacement(t *testing.T) {
	t.Setenv("CUDA_VISIBLE_DEVICES", "3,5")
	for _, tc := range []struct {
		name string
		dev  func(r int) gotch.Device
		dup  bool
		want []string
	}{
		{"shared", func(int) gotch.Device { return gotch.CudaBuilder(1) }, true, []string{"cuda:5", "cuda:5"}},
		{"own", func(r int) gotch.Device { return gotch.CudaBuilder(uint(r)) }, false, []string{"cuda:3", "cuda:5"}},
		{"cpu", func(int) gotch.Device { return gotch.CPU }, false, []string{"cpu", "cpu"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comms := loopbackRing(t, t.Context(), 2, collective.Float32)
			var wg sync.WaitGroup
			res := make([][]Placement, 2)
			errs := make([]error, 2)
			for r := range 2 {
				wg.Go(func() { res[r], errs[r] = CheckPlacement(t.Context(), comms[r], tc.dev(r)) })
			}
			wg.Wait()
			for r := range 2 {
				if (errs[r] != nil) != tc.dup {
					t.Errorf("rank %d: error %v, want a duplicate: %v", r, errs[r], tc.dup)
				}
				if len(res[r]) != 2 || res[r][0].Device != tc.want[0] || res[r][1].Device != tc.want[1] || res[r][1].Host == "" {
					t.Errorf("rank %d: %+v, want devices %v", r, res[r], tc.want)
				}
			}
		})
	}
}
