package ddp

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/torchrt"
)

// Note [Plan]: the settings that depend on each other, on the rank's
// identity or on what the backend can do are resolved once, by resolve,
// into a Plan: OpenComm, the engine, the report and the log read it and
// decide nothing themselves. Backends are chosen and configured through
// the capabilities they declare (collective.Capabilities), not by name. A
// flag the user forced that cannot be honoured is an error naming the
// reason (--overlap on with a conversion in ddp, --optimizer-impl host on
// CUDA); an automatic choice records its reason, which the log and the
// report show.

// Plan is how a rank trains, resolved from the flags. See Note [Plan].
type Plan struct {
	Device  gotch.Device
	Backend string // a registered collective backend; "" for one rank
	World   int    // ranks in the job
	// Wire is the dtype float gradients travel in; Convert says ddp
	// converts the buckets to it before the all-reduce (the backend reduces
	// every buffer in its own dtype: Note [Wire conversion]).
	Wire    collective.DType
	Convert bool
	// Flat selects the flat optimizer over the host one (Note [Optimizer
	// implementations]); Sparse sends the word-embedding gradient as the
	// rows a step touched (Note [Sparse embedding gradients]).
	Flat, Sparse bool
	// Overlap all-reduces buckets behind backward (Note [Overlap]).
	Overlap bool
	// Compress compresses the dense buckets (Note [PowerSGD]).
	Compress Compression
	// Why holds the reason of each automatic or constrained choice, by
	// setting: "backend", "wire", "optimizer", "embeddings", "overlap",
	// "compress".
	Why map[string]string
}

// Resolve resolves cfg for the rank id on this machine (the CUDA devices
// libtorch sees). See Note [Plan].
func Resolve(cfg Config, id rankenv.Identity) (Plan, error) {
	return resolve(cfg, id, torchrt.CUDADevices())
}

func resolve(cfg Config, id rankenv.Identity, cudaDevices int) (Plan, error) {
	p := Plan{World: max(id.WorldSize, 1), Why: map[string]string{}}
	var err error
	if p.Device, err = ResolveDevice(cfg.Device, id, cudaDevices); err != nil {
		return p, err
	}
	var caps collective.Capabilities
	if p.World > 1 {
		if p.Backend, err = BackendFor(cfg.Backend, p.Device); err != nil {
			return p, err
		}
		caps, _ = collective.CapabilitiesOf(p.Backend)
		if cfg.Integrity && !caps.Integrity {
			return p, fmt.Errorf("ddp: --wire-integrity: the %s backend cannot authenticate every message; use the ring on CPU models", p.Backend)
		}
	}
	p.resolveWire(cfg, caps)
	if err := p.resolveOptimizer(cfg); err != nil {
		return p, err
	}
	if err := p.resolveCompress(cfg, caps); err != nil {
		return p, err
	}
	return p, p.resolveOverlap(cfg, id)
}

// resolveCompress applies --compress where it can run: several ranks
// reducing host memory (Note [PowerSGD]).
func (p *Plan) resolveCompress(cfg Config, caps collective.Capabilities) error {
	c, err := ParseCompression(cfg.Compress)
	switch {
	case err != nil:
		return err
	case !c.On():
		p.Why["compress"] = "off (--compress)"
	case p.World == 1:
		p.Why["compress"] = "off: one rank has nothing to all-reduce"
	case p.Device.IsCuda() || !slices.Contains(caps.Native, collective.CPU):
		return fmt.Errorf("ddp: --compress %v: PowerSGD compresses the gradient buckets in host memory, for the ring backend and a model on the CPU; here the model is on %s with the %s backend (use --compress none)",
			c, deviceName(p.Device), p.Backend)
	default:
		p.Compress, p.Why["compress"] = c, "--compress "+c.String()
	}
	return nil
}

func (p *Plan) resolveWire(cfg Config, caps collective.Capabilities) {
	p.Wire = collective.Float32
	switch {
	case p.World == 1:
		p.Why["wire"] = "one rank: nothing on the wire"
		return
	case cfg.Wire == "fp32":
		p.Why["wire"] = "--wire fp32"
		return
	case cfg.Wire == "bf16":
		p.Why["wire"] = "--wire bf16"
	default:
		p.Why["wire"] = "several ranks: bf16 halves the bytes (--wire)"
	}
	p.Wire, p.Convert = collective.BFloat16, !caps.ConvertsWire
	if p.Convert {
		p.Why["wire"] += "; ddp converts the buckets, " + p.Backend + " reduces in the buffers' dtype"
	}
}

func (p *Plan) resolveOptimizer(cfg Config) error {
	cuda := p.Device.IsCuda()
	switch {
	case cfg.OptimizerImpl == "host" && cuda:
		return fmt.Errorf("ddp: --optimizer-impl host updates host memory; a model on %s needs --optimizer-impl flat (or auto)", deviceName(p.Device))
	case cfg.OptimizerImpl == "flat":
		p.Flat, p.Why["optimizer"] = true, "--optimizer-impl flat"
	case cuda:
		p.Flat, p.Why["optimizer"] = true, "the model is on "+deviceName(p.Device)
	default:
		p.Why["optimizer"] = "host memory: the fused host kernels"
	}
	p.Sparse = !cfg.DenseEmbeddings && !p.Flat && !cfg.maskedLM()
	switch {
	case cfg.DenseEmbeddings:
		p.Why["embeddings"] = "--dense-embeddings"
	case cfg.maskedLM():
		p.Why["embeddings"] = "dense: a masked LM's output projection is the word-embedding matrix, whose every row gets a gradient"
	case p.Flat:
		p.Why["embeddings"] = "dense: the flat optimizer updates whole buckets"
	default:
		p.Why["embeddings"] = "sparse rows: a step touches few of the vocabulary's rows"
	}
	if cfg.LazyEmbeddings && !p.Sparse {
		return fmt.Errorf("ddp: --lazy-embeddings needs the sparse word-embedding gradients, which %s turns off", p.Why["embeddings"])
	}
	return nil
}

// resolveOverlap applies Note [Overlap policy]: on when asked, or by default
// when the job spans several machines, where it can run.
func (p *Plan) resolveOverlap(cfg Config, id rankenv.Identity) error {
	var cannot string
	switch {
	case p.World == 1:
		cannot = "one rank has nothing to all-reduce"
	case p.Convert:
		cannot = "ddp converts the buckets to bf16 with libtorch, which runs on the compute thread only (use --wire fp32)"
	case p.Device.IsCuda():
		cannot = "on CUDA the all-reduces are ordered on the compute stream after backward"
	}
	switch cfg.Overlap {
	case "on":
		if cannot != "" && p.World > 1 {
			return fmt.Errorf("ddp: --overlap on: %s; use --overlap auto or off", cannot)
		}
		p.Overlap, p.Why["overlap"] = cannot == "", "--overlap on"
	case "off":
		p.Why["overlap"] = "--overlap off"
	default:
		switch {
		case cannot != "":
			p.Why["overlap"] = "off: " + cannot
		case id.WorldSize > id.LocalWorldSize:
			p.Overlap, p.Why["overlap"] = true, "on: the job spans several machines"
		default:
			p.Why["overlap"] = "off: one machine, where the copies compete with compute for the cores (Note [Overlap policy])"
		}
	}
	return nil
}

// String describes the plan in one line, for the log.
func (p Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "device %s", deviceName(p.Device))
	if p.World > 1 {
		fmt.Fprintf(&b, ", backend %s, wire %v", p.Backend, p.Wire)
		if p.Convert {
			b.WriteString(" (converted in ddp)")
		}
	}
	impl := "host"
	if p.Flat {
		impl = "flat"
	}
	fmt.Fprintf(&b, ", optimizer %s, sparse rows %v, overlap %v", impl, p.Sparse, p.Overlap)
	if p.Compress.On() {
		fmt.Fprintf(&b, ", compress %v", p.Compress)
	}
	return b.String()
}
