package launcher

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
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

// TestMembership_Reachable: a member whose process is gone (no leave
// message, as behind a cut cable) is still listed by memberlist until
// failure detection declares it dead, seconds later; reachable says at
// once that it does not answer, which is what the majority for a takeover
// counts (Note [No single coordinator]).
func TestMembership_Reachable(t *testing.T) {
	mk := func(name, seed string) *membership {
		m, err := joinCluster(memberConfig{preset: memberlist.DefaultLocalConfig, name: name, bind: "127.0.0.1",
			secret: []byte("0123456789abcdef0123456789abcdef"), meta: nodeMeta{Job: "j", Slots: 1}, joinTimeout: 5 * time.Second}, seed)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := mk("a", "")
	defer a.close(time.Second)
	c := mk("c", a.addr())
	deadline := time.Now().Add(10 * time.Second)
	for !a.alive("c") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !a.reachable("c") {
		t.Fatal("c is a live member and does not answer a ping")
	}
	if a.reachable("nobody") {
		t.Fatal("a node that is not a member is reachable")
	}
	c.ml.Shutdown() // gone without a word
	start := time.Now()
	if !a.alive("c") {
		t.Fatal("memberlist already declared c dead: the test cannot tell listed from reachable")
	}
	if a.reachable("c") {
		t.Fatal("c is gone and still counted as reachable")
	}
	t.Logf("c unreachable after %v; still listed by memberlist: %v", time.Since(start), a.alive("c"))
}
