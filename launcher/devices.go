package launcher

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// CountGPUs returns the number of NVIDIA GPUs on this machine: the entries
// of /proc/driver/nvidia/gpus, else the lines of `nvidia-smi -L`, else 0.
func CountGPUs() int {
	if ents, err := os.ReadDir("/proc/driver/nvidia/gpus"); err == nil && len(ents) > 0 {
		return len(ents)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "-L").Output()
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "GPU ") {
			n++
		}
	}
	return n
}

// DefaultNProc is --nproc's default: one rank per GPU, else 1.
func DefaultNProc() int { return max(CountGPUs(), 1) }

// visibleDevice is the CUDA_VISIBLE_DEVICES entry of the local rank: the
// localRank-th entry of the launcher's own CUDA_VISIBLE_DEVICES when it has
// one, else the index itself.
func visibleDevice(parent string, localRank int) string {
	if parent != "" {
		ids := strings.Split(parent, ",")
		return strings.TrimSpace(ids[localRank%len(ids)])
	}
	return strconv.Itoa(localRank)
}
