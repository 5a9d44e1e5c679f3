package launcher

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRootCause_Ties: a rank's exit and a node-level failure at the same
// instant, reported in either order, make the rank's exit the root cause;
// a node-level failure that is earlier, even by a millisecond, stays the
// root cause (Note [Root cause order]).
func TestRootCause_Ties(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	rank := Failure{Node: "a", Rank: 1, ExitCode: 7, Time: t0, Tail: []string{"boom"}}
	left := Failure{Node: "b", Rank: -1, Reason: "node b left the cluster", Time: t0.In(time.Local)} // the same instant in another zone
	for _, tc := range []struct {
		name string
		fs   []Failure
		want Failure
	}{
		{"rank first", []Failure{rank, left}, rank},
		{"node first", []Failure{left, rank}, rank},
		{"node 1ms earlier", []Failure{rank, withTime(left, t0.Add(-time.Millisecond))}, withTime(left, t0.Add(-time.Millisecond))},
		{"rank 1ms later", []Failure{withTime(rank, t0.Add(time.Millisecond)), left}, left},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, others := rootCause(tc.fs)
			if who(root) != who(tc.want) || !root.Time.Equal(tc.want.Time) {
				t.Errorf("root cause %s at %v, want %s at %v", who(root), root.Time, who(tc.want), tc.want.Time)
			}
			if len(others) != len(tc.fs)-1 {
				t.Errorf("%d other failures, want %d", len(others), len(tc.fs)-1)
			}
		})
	}
	t.Run("summary", func(t *testing.T) {
		var b strings.Builder
		writeSummary(&b, "job", []Failure{left, rank}, 0, 0, true)
		root, other, _ := strings.Cut(b.String(), "Other failures")
		if !strings.Contains(root, "rank      : 1") || !strings.Contains(other, "node b left the cluster") {
			t.Errorf("the summary does not blame rank 1 first:\n%s", b.String())
		}
	})
}

// TestRootCause_SameOrderEverywhere: equal times give one order whatever
// order the reports arrived in, so every launcher names the same cause.
func TestRootCause_SameOrderEverywhere(t *testing.T) {
	t0 := time.Unix(100, 0)
	fs := []Failure{
		{Node: "a", Rank: 3, Time: t0},
		{Node: "c", Rank: -1, Reason: "stall", Time: t0},
		{Node: "b", Rank: 1, Time: t0},
		{Node: "a", Rank: -1, Reason: "node a left", Time: t0},
	}
	want := []string{who(fs[2]), who(fs[0]), who(fs[3]), who(fs[1])}
	for _, perm := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2}} {
		var in []Failure
		for _, i := range perm {
			in = append(in, fs[i])
		}
		root, others := rootCause(in)
		got := []string{who(root)}
		for _, f := range others {
			got = append(got, who(f))
		}
		if !slices.Equal(got, want) {
			t.Errorf("order %v: got %q, want %q", perm, got, want)
		}
	}
}

func withTime(f Failure, at time.Time) Failure {
	f.Time = at
	return f
}
