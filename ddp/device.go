package ddp

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/collective"
	_ "github.com/ddprun/ddprun/collective/nccl" // registers "nccl"
	_ "github.com/ddprun/ddprun/collective/ring" // registers "ring"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// Note [Devices and backends]: --device picks where a rank's model lives
// and --backend how its gradients travel. auto means: the launcher's
// DDPRUN_DEVICE if it set one (it gives each rank one GPU through
// CUDA_VISIBLE_DEVICES and says cuda:0), else cuda:LOCAL_RANK when libtorch
// sees CUDA devices (torchrun's convention), else the CPU; and NCCL for
// CUDA models, the TCP ring otherwise. On CUDA the trainer keeps buckets,
// weights and optimizer state on the device (Note [Optimizer
// implementations]) and NCCL reduces them there; bf16 on the wire is a
// libtorch conversion of each bucket (Note [Wire conversion]). NCCL over
// CPU tensors works (host buffers are staged through device memory) but is
// for testing. HCCL (Gaudi) is a library probe only: asking for it fails.

// ResolveDevice turns --device (auto, cpu, cuda, cuda:N) into a device,
// given this rank's identity and the CUDA devices libtorch sees.
func ResolveDevice(spec string, id rankenv.Identity, cudaDevices int) (gotch.Device, error) {
	if spec == "" || spec == "auto" {
		switch {
		case id.Device != "":
			spec = id.Device
		case cudaDevices > 0:
			spec = "cuda"
		default:
			return gotch.CPU, nil
		}
	}
	if spec == "cpu" {
		return gotch.CPU, nil
	}
	rest, ok := strings.CutPrefix(spec, "cuda")
	if !ok {
		return gotch.CPU, fmt.Errorf("ddp: --device %q: want auto, cpu, cuda or cuda:N", spec)
	}
	n := id.LocalRank
	switch {
	case rest == "" && strings.HasPrefix(id.Device, "cuda:"):
		return ResolveDevice(id.Device, id, cudaDevices)
	case rest != "":
		v, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if err != nil || !strings.HasPrefix(rest, ":") || v < 0 {
			return gotch.CPU, fmt.Errorf("ddp: --device %q: want cuda:N", spec)
		}
		n = v
	}
	switch {
	case cudaDevices == 0:
		return gotch.CPU, fmt.Errorf("ddp: --device %s: libtorch %s sees no CUDA device (a CPU-only libtorch, no driver, or CUDA_VISIBLE_DEVICES empty); "+
			"build against a CUDA libtorch with LIBTORCH=... (build/libtorch/env.sh) or use --device cpu", spec, torchrt.Version())
	case n >= cudaDevices:
		return gotch.CPU, fmt.Errorf("ddp: --device %s: rank %d (local rank %d) wants CUDA device %d, but only %d are visible; start at most %d ranks per machine",
			spec, id.Rank, id.LocalRank, n, cudaDevices, cudaDevices)
	}
	return gotch.CudaBuilder(uint(n)), nil
}

// useDevice makes a CUDA device the compute thread's current device
// (torch.cuda.set_device(local_rank)); call it on the compute thread.
func useDevice(d gotch.Device) error {
	if !d.IsCuda() {
		return nil
	}
	return torchrt.SetCUDADevice(d.Value)
}

// BackendFor resolves --backend (auto, or a registered backend's name)
// for a device from what the backends declare (collective.Capabilities):
// auto picks a backend that reduces the device's buffers where they are;
// a named one must accept them. hccl is named for a clear error: only its
// library probe exists.
func BackendFor(spec string, dev gotch.Device) (string, error) {
	kind, name := collective.CPU, deviceName(dev)
	if dev.IsCuda() {
		kind = collective.CUDA
	}
	switch spec {
	case "", "auto":
		native := collective.NativeBackends(kind)
		if len(native) == 0 {
			return "", fmt.Errorf("%w: ddp: no backend reduces buffers on %s (have %v)", collective.ErrUnsupported, name, collective.Backends())
		}
		return native[0], nil
	case "hccl":
		return "", fmt.Errorf("%w: ddp: --backend hccl: only the library probe exists (collective/hccl); gotch has no HPU device, so Gaudi training is not built", collective.ErrUnsupported)
	}
	caps, ok := collective.CapabilitiesOf(spec)
	if !ok {
		return "", fmt.Errorf("ddp: --backend %q: want auto or one of %v", spec, collective.Backends())
	}
	if !caps.Accepts(kind) {
		return "", fmt.Errorf("ddp: --backend %s cannot reduce buffers on %s; a model there needs --backend %s (or auto, or another --device)",
			spec, name, strings.Join(collective.NativeBackends(kind), " or "))
	}
	return spec, nil
}

func deviceName(d gotch.Device) string {
	if d.IsCuda() {
		return fmt.Sprintf("cuda:%d", d.Value)
	}
	return "cpu"
}

// OpenComm connects this rank to its peers with the plan's backend (Note
// [Plan]), through the collective registry: the TCP ring, listening on the
// socket the launcher passed (DDPRUN_LISTEN_FD) or on its own address in
// DDPRUN_PEERS, or NCCL, whose unique id travels over such a ring. A single
// rank gets collective.Solo: no network at all.
func OpenComm(ctx context.Context, id rankenv.Identity, cfg Config, plan Plan, log *slog.Logger) (collective.Comm, error) {
	if plan.World == 1 {
		return collective.Solo(), nil
	}
	// The ring's job id names the generation, so that no rank of another
	// one (a survivor of an earlier ring) can join it.
	job := id.JobID + "/" + strconv.Itoa(id.Restart)
	o := collective.Options{Rank: id.Rank, Size: id.WorldSize, Peers: id.Peers, JobID: job, Secret: id.Secret,
		WireDType: plan.Wire, Timeout: cfg.Timeout, Logger: log, Integrity: cfg.Integrity}
	if plan.Convert {
		o.WireDType = collective.Float32 // the buckets arrive converted (Note [Wire conversion])
	}
	if plan.Device.IsCuda() {
		o.Device = deviceName(plan.Device)
	} else if caps, _ := collective.CapabilitiesOf(plan.Backend); !slices.Contains(caps.Native, collective.CPU) {
		log.Warn("the backend stages every all-reduce of this CPU model through device memory; meant for testing", "backend", plan.Backend)
	}
	var err error
	if o.Listener, err = id.Listener(); err != nil {
		return nil, fmt.Errorf("ddp: rank %d: %w", id.Rank, err)
	}
	c, err := collective.Open(ctx, plan.Backend, o)
	if err != nil {
		return nil, fmt.Errorf("ddp: rank %d: joining the job's %s backend: %w", id.Rank, plan.Backend, err)
	}
	return c, nil
}
