package launcher

import (
	"slices"
	"testing"
)

// A node takes over a lost coordinator only with a majority of the
// world's nodes alive, itself included: a node cut off from the others
// sees them all gone and must not elect itself (two coordinators once the
// link is back: the flake that TestE2EHosts_Elastic showed).
func TestMajority(t *testing.T) {
	world := func(names ...string) []WorldNode {
		var ns []WorldNode
		for _, n := range names {
			ns = append(ns, WorldNode{Name: n})
		}
		return ns
	}
	aliveOf := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	for _, tc := range []struct {
		nodes []WorldNode
		alive []string
		want  bool
	}{
		{world("h0", "h1", "h2"), nil, false},           // h2 cut off: alone
		{world("h0", "h1", "h2"), []string{"h1"}, true}, // h0 (the coordinator) lost: 2 of 3
		{world("h0", "h1"), nil, false},                 // 1 of 2 is no majority
		{world("h0", "h1", "h2", "h3"), []string{"h1"}, false},
		{world("h2"), nil, true},
	} {
		if got := majority(tc.nodes, "h2", aliveOf(tc.alive...)); got != tc.want {
			t.Errorf("h2 in %v seeing %v alive: majority %v, want %v", tc.nodes, tc.alive, got, tc.want)
		}
	}
}
