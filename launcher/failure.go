package launcher

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Failure is one reason a generation of the job ended early: a rank that
// exited non-zero or was killed, a node that left, or a stall.
type Failure struct {
	Gen       int       `json:"gen"`
	Node      string    `json:"node"`
	Rank      int       `json:"rank"` // -1: not a rank (a node left, a stall)
	LocalRank int       `json:"local_rank"`
	ExitCode  int       `json:"exit_code"` // -1 with Signal set
	Signal    string    `json:"signal,omitempty"`
	Reason    string    `json:"reason,omitempty"` // for failures that are not a rank's exit
	Stall     bool      `json:"stall,omitempty"`  // no progress for --stall-timeout: every node reports and dumps stacks
	Time      time.Time `json:"time"`
	Tail      []string  `json:"tail,omitempty"` // last stderr lines
	LogFile   string    `json:"log_file,omitempty"`
}

func (f Failure) what() string {
	switch {
	case f.Reason != "" && f.Rank < 0:
		return f.Reason
	case f.Signal != "":
		return "killed by signal " + f.Signal
	default:
		return fmt.Sprintf("exit code %d", f.ExitCode)
	}
}

// rootCause picks the failure that happened first: the others are usually
// its consequences (peers losing the ring). See Note [Root cause order].
func rootCause(fs []Failure) (Failure, []Failure) {
	sorted := append([]Failure(nil), fs...)
	sort.SliceStable(sorted, func(i, j int) bool { return failedBefore(sorted[i], sorted[j]) })
	return sorted[0], sorted[1:]
}

// Note [Root cause order]: failures are ordered by time. A tie is two
// equal timestamps (time.Time.Equal), nothing wider: a failure a few
// milliseconds after another is usually its consequence (a rank the
// launcher SIGTERMed or SIGQUITed after a node left or a stall, or that
// rank's ring peers), and a window would blame it instead. In a tie a
// rank's exit comes before a node-level failure (Rank < 0: a node left,
// a stall, the rendezvous): its exit code and stderr say more than "node
// left". Remaining ties go by rank, then node, so that every launcher,
// whatever order the reports reached it in, names the same root cause.
func failedBefore(a, b Failure) bool {
	switch {
	case !a.Time.Equal(b.Time):
		return a.Time.Before(b.Time)
	case (a.Rank >= 0) != (b.Rank >= 0):
		return a.Rank >= 0
	case a.Rank != b.Rank:
		return a.Rank < b.Rank
	}
	return a.Node < b.Node
}

// writeSummary prints a torchrun-like error summary.
func writeSummary(w io.Writer, job string, fs []Failure, restarts, maxRestarts int, final bool) {
	if len(fs) == 0 {
		return
	}
	root, others := rootCause(fs)
	var b strings.Builder
	line := strings.Repeat("=", 64)
	fmt.Fprintf(&b, "%s\nddprun: job %s failed (restart %d of %d)", line, job, restarts, maxRestarts)
	if !final {
		b.WriteString("; restarting all ranks from the last checkpoint")
	}
	fmt.Fprintf(&b, "\nRoot cause (first observed failure):\n")
	writeFailure(&b, root)
	if len(others) > 0 {
		b.WriteString("Other failures (usually consequences):\n")
		for _, f := range others {
			fmt.Fprintf(&b, "  [%s] %s: %s\n", f.Time.Format("15:04:05.000"), who(f), f.what())
		}
	}
	b.WriteString(line + "\n")
	io.WriteString(w, b.String())
}

func who(f Failure) string {
	if f.Rank < 0 {
		return "node " + f.Node
	}
	return fmt.Sprintf("rank %d (local_rank %d, node %s)", f.Rank, f.LocalRank, f.Node)
}

func writeFailure(b *strings.Builder, f Failure) {
	fmt.Fprintf(b, "  time      : %s\n", f.Time.Format(time.RFC3339Nano))
	if f.Rank >= 0 {
		fmt.Fprintf(b, "  rank      : %d (local_rank: %d)\n", f.Rank, f.LocalRank)
	}
	fmt.Fprintf(b, "  node      : %s\n", f.Node)
	if f.Rank >= 0 {
		if f.Signal != "" {
			fmt.Fprintf(b, "  signal    : %s\n", f.Signal)
		} else {
			fmt.Fprintf(b, "  exitcode  : %d\n", f.ExitCode)
		}
	}
	if f.Reason != "" {
		fmt.Fprintf(b, "  reason    : %s\n", f.Reason)
	}
	if f.LogFile != "" {
		fmt.Fprintf(b, "  log       : %s\n", f.LogFile)
	}
	if len(f.Tail) > 0 {
		fmt.Fprintf(b, "  stderr (last %d lines):\n", len(f.Tail))
		for _, l := range f.Tail {
			fmt.Fprintf(b, "    | %s\n", l)
		}
	} else if f.Rank >= 0 {
		b.WriteString("  stderr    : (not captured: it went to the terminal)\n")
	}
}
