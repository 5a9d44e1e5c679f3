package ddp

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/internal/stats"
)

// LinkProbe is one buffer size of ProbeAllReduce.
type LinkProbe struct {
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"` // per all-reduce, median of the timed ones
	BusBW   float64 `json:"busbw_gbps"`
}

// ProbeAllReduce checks and times float32 all-reduces of the given sizes
// (bytes) through c, on buffers that live on dev: the path the trainer's
// gradient buckets take. Every rank contributes rank+1, and every element
// of the first result must be n(n+1)/2 on every rank; then iters timed
// calls give the median time and nccl-tests' bus bandwidth. Call it on
// the compute thread, on every rank with the same sizes.
func ProbeAllReduce(ctx context.Context, c collective.Comm, dev gotch.Device, sizes []int64, iters int) ([]LinkProbe, error) {
	n, want := c.Size(), float32(c.Size()*(c.Size()+1)/2)
	var out []LinkProbe
	for _, bytes := range sizes {
		count := max(bytes/4, 1)
		fill := ts.FloatScalar(float64(c.Rank() + 1))
		t, err := ts.Full([]int64{count}, fill, gotch.Float, dev)
		fill.MustDrop()
		if err != nil {
			return out, err
		}
		p, err := probeOne(ctx, c, t, want, iters)
		t.MustDrop()
		if err != nil {
			return out, fmt.Errorf("ddp: all-reduce of %d bytes: %w", count*4, err)
		}
		p.Bytes = count * 4
		p.BusBW = float64(p.Bytes) / p.Seconds / 1e9 * 2 * float64(n-1) / float64(n)
		out = append(out, p)
	}
	return out, nil
}

func probeOne(ctx context.Context, c collective.Comm, t *ts.Tensor, want float32, iters int) (LinkProbe, error) {
	buf, err := tensorBuffer(t)
	if err != nil {
		return LinkProbe{}, err
	}
	if err := c.AllReduce(ctx, buf, collective.Sum); err != nil {
		return LinkProbe{}, err
	}
	h, err := bert.ToHost(t)
	if err != nil {
		return LinkProbe{}, err
	}
	for i, v := range h.Data {
		if v != want {
			return LinkProbe{}, fmt.Errorf("element %d is %v after the all-reduce, want %v: the link corrupts data", i, v, want)
		}
	}
	times := make([]float64, 0, iters)
	for range iters {
		start := time.Now()
		if err := c.AllReduce(ctx, buf, collective.Avg); err != nil { // Avg keeps the values bounded
			return LinkProbe{}, err
		}
		if dev, _ := t.Device(); dev.IsCuda() { // the Comm waits for its stream; make sure of it
			if _, err := bert.ToHost(t); err != nil {
				return LinkProbe{}, err
			}
		}
		times = append(times, time.Since(start).Seconds())
	}
	return LinkProbe{Seconds: stats.Median(times)}, nil
}

// Placement is where a rank runs, for CheckPlacement.
type Placement struct {
	Rank   int    `json:"rank"`
	Host   string `json:"host"`
	Device string `json:"device"` // "cpu" or the physical GPU ("cuda:3")
}

// CheckPlacement gathers every rank's host and device and reports ranks
// that share one GPU (NCCL refuses them, and PyTorch users meet it as an
// out-of-memory on GPU 0). Every rank gets the same answer.
func CheckPlacement(ctx context.Context, c collective.Comm, dev gotch.Device) ([]Placement, error) {
	host, _ := os.Hostname()
	const words = 1 + hostBytes/8
	mine := make([]int64, words)
	mine[0] = int64(physicalDevice(dev))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&mine[1])), hostBytes), host)
	all := make([]int64, words*c.Size())
	if err := c.AllGather(ctx, collective.Int64s(mine), collective.Int64s(all)); err != nil {
		return nil, fmt.Errorf("ddp: gathering placements: %w", err)
	}
	out := make([]Placement, c.Size())
	seen := map[string]int{}
	var dup error
	for r := range c.Size() {
		row := all[r*words : (r+1)*words]
		name := unsafe.Slice((*byte)(unsafe.Pointer(&row[1])), hostBytes)
		out[r] = Placement{Rank: r, Host: strings.TrimRight(string(name), "\x00"), Device: "cpu"}
		if row[0] < 0 {
			continue
		}
		out[r].Device = fmt.Sprintf("cuda:%d", row[0])
		key := out[r].Host + "/" + out[r].Device
		if q, ok := seen[key]; ok && dup == nil {
			dup = fmt.Errorf("ddp: ranks %d and %d share GPU %s on %s: give each rank its own (the launcher does, with CUDA_VISIBLE_DEVICES)", q, r, out[r].Device, out[r].Host)
		}
		seen[key] = r
	}
	return out, dup
}

// hostBytes is how much of a host name CheckPlacement compares.
const hostBytes = 64

// physicalDevice is dev's index among all GPUs (through
// CUDA_VISIBLE_DEVICES when it lists indices), or -1 for the CPU.
func physicalDevice(dev gotch.Device) int {
	if !dev.IsCuda() {
		return -1
	}
	vis := strings.Split(os.Getenv("CUDA_VISIBLE_DEVICES"), ",")
	if dev.Value < len(vis) {
		if n, err := strconv.Atoi(strings.TrimSpace(vis[dev.Value])); err == nil {
			return n
		}
	}
	return dev.Value
}
