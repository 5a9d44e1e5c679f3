package cli

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/testbin"
)

// bench allreduce runs under the launcher like every multi-rank command,
// whether the launch flags come first or bench's own --nproc asks for
// them: the real binary, 2 ranks, 4K..16K. Rank 0's rows reach stdout
// unprefixed, in nccl-tests' columns, fp32 then bf16 on the wire, every
// result exact.
func TestBenchAllReduce_UnderLauncher(t *testing.T) {
	bin := testbin.Ddprun(t)
	sizes := []string{"--min-bytes", "4K", "--max-bytes", "16K", "--iters", "2", "--warmup", "1"}
	for name, args := range map[string][]string{
		"launch-flags": append([]string{"--nproc", "2", "bench", "allreduce"}, sizes...),
		"bench-nproc":  append([]string{"bench", "allreduce", "--nproc", "2"}, sizes...),
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if err := checkAllReduceTable(stdout.String(), 2, []int{4 << 10, 8 << 10, 16 << 10}); err != nil {
				t.Errorf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
		})
	}
}

// checkAllReduceTable checks bench allreduce's column output: the title,
// the two header lines, then one row per size for the fp32 wire and one
// per size for the bf16 wire, with #wrong 0.
func checkAllReduceTable(out string, ranks int, sizes []int) error {
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if want := 3 + 2*len(sizes); len(lines) != want {
		return fmt.Errorf("%d lines, want %d (title, 2 header lines, %d rows)", len(lines), want, 2*len(sizes))
	}
	if title := fmt.Sprintf("# ddprun bench allreduce: %d ranks, backend ring,", ranks); !strings.HasPrefix(lines[0], title) {
		return fmt.Errorf("title %q, want it to start %q", lines[0], title)
	}
	if got, want := strings.Fields(lines[1]), []string{"size", "count", "type", "wire", "time", "algbw", "busbw", "#wrong"}; !slices.Equal(got, want) {
		return fmt.Errorf("columns %q, want %q", got, want)
	}
	if got, want := strings.Fields(lines[2]), []string{"(B)", "(elements)", "(us)", "(GB/s)", "(GB/s)"}; !slices.Equal(got, want) {
		return fmt.Errorf("units %q, want %q", got, want)
	}
	for i, line := range lines[3:] {
		f := strings.Fields(line)
		size, wire := sizes[i%len(sizes)], []string{"fp32", "bf16"}[i/len(sizes)]
		if len(f) != 8 || f[0] != strconv.Itoa(size) || f[1] != strconv.Itoa(size/4) || f[2] != "fp32" || f[3] != wire || f[7] != "0" {
			return fmt.Errorf("row %d: %q, want size %d, count %d, type fp32, wire %s, #wrong 0", i, line, size, size/4, wire)
		}
		for _, col := range f[4:7] {
			if v, err := strconv.ParseFloat(col, 64); err != nil || v <= 0 {
				return fmt.Errorf("row %d: %q: time and bandwidths must be positive numbers", i, line)
			}
		}
	}
	return nil
}
