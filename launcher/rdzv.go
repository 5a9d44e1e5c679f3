package launcher

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Note [Rendezvous]: the rendezvous is a state machine driven by events
// (a node's join request for a generation, a node leaving the cluster, an
// abort of the running generation, the clock), so tests can run it as a
// script (testdata/rdzv/*.txt) and the coordinator is only plumbing. It
// lives on the first node. A generation's world is decided when MAX nodes
// have asked to join it, or when MIN have and LastCall has passed since
// MIN was reached (elastic); with fewer than MIN after JoinTimeout the
// rendezvous fails. Node ranks follow the order in which nodes first ever
// joined, so they stay put across restarts (the first node is node 0).
//
// A restart also waits for the survivors: the nodes of the previous
// generation that have not left the cluster. They are alive, but each
// first tears its ranks down, which takes up to failGrace (dumpGrace
// after a stall); a node that had no ranks to stop (one waiting outside
// the world) asks at once. Deciding before the survivors are back would
// hand their places to whoever asked first, and could leave out even the
// first node, which runs this rendezvous and the NATS server. So while a
// survivor is missing, and for at most SurvivorWait after the previous
// generation ended, no world is decided.

// Join is a node's request to take part in generation Gen.
type Join struct {
	Node  string   `json:"node"`
	Gen   int      `json:"gen"`
	Addrs []string `json:"addrs"` // ring listen addresses, one per local rank
}

// World is the decided membership of one generation.
type World struct {
	Job         string      `json:"job"`
	Gen         int         `json:"gen"`
	Nodes       []WorldNode `json:"nodes"` // node rank order
	Peers       []string    `json:"peers"` // ring address of every global rank
	Control     string      `json:"control"`
	MaxRestarts int         `json:"max_restarts"`
	// Recovery is rankenv.RecoverInPlace when a lost rank is replaced in
	// place (Note [Recovery in place]), else "": every rank restarts.
	Recovery string `json:"recovery,omitempty"`
	// InPlace marks a generation that continues the previous one in place:
	// the same nodes and ring addresses, the survivors still running.
	InPlace bool `json:"in_place,omitempty"`
	// Coordinator is the node that decided the world.
	Coordinator string `json:"coordinator,omitempty"`
}

// WorldNode is one node's part of a World.
type WorldNode struct {
	Name      string `json:"name"`
	FirstRank int    `json:"first_rank"`
	Slots     int    `json:"slots"`
}

// Size is the world size (ranks).
func (w World) Size() int { return len(w.Peers) }

// Node returns the node called name and its node rank, or -1.
func (w World) Node(name string) (WorldNode, int) {
	for i, n := range w.Nodes {
		if n.Name == name {
			return n, i
		}
	}
	return WorldNode{}, -1
}

// Rendezvous is the coordinator's state. The zero value is not usable;
// use NewRendezvous.
type Rendezvous struct {
	Min, Max    int
	LastCall    time.Duration
	JoinTimeout time.Duration
	// SurvivorWait bounds how long a restart waits for the nodes of the
	// previous generation (DefaultSurvivorWait).
	SurvivorWait time.Duration

	gen     int
	seq     map[string]int // first-join order
	waiting map[string]Join
	opened  time.Time // first event of this generation
	minAt   time.Time // when MIN nodes had joined
	world   *World    // decided world of gen, nil while waiting
	chain   int       // the generation whose world gen continues in place (gen when none)
	failed  bool
	// survivors are the previous generation's nodes that have not left.
	survivors map[string]bool
}

// DefaultSurvivorWait is longer than any node's teardown (dumpGrace, then
// the settle delay and a few control messages).
const DefaultSurvivorWait = dumpGrace + 10*time.Second

// NewRendezvous returns the state before any event.
func NewRendezvous(min, max int, lastCall, joinTimeout time.Duration) *Rendezvous {
	return &Rendezvous{Min: min, Max: max, LastCall: lastCall, JoinTimeout: joinTimeout, SurvivorWait: DefaultSurvivorWait,
		seq: map[string]int{}, waiting: map[string]Join{}, survivors: map[string]bool{}}
}

// Gen is the generation being formed or run.
func (r *Rendezvous) Gen() int { return r.gen }

// Outcome is what an event asks the coordinator to do; the zero value
// means nothing.
type Outcome struct {
	World *World // publish this world (decided now or asked for again)
	Abort string // the running generation must stop: why
	Fail  error  // the rendezvous cannot complete: end the job
	Note  string // something worth telling the user
}

// OnJoin handles a node's join request.
func (r *Rendezvous) OnJoin(j Join, now time.Time) Outcome {
	if !r.failed && j.Gen < r.gen && r.world != nil {
		return Outcome{World: r.world} // it missed generations: it catches up and asks for this one
	}
	if r.failed || j.Gen != r.gen {
		return Outcome{} // early, or still forming: the node asks again
	}
	r.open(now)
	if r.world != nil {
		if _, i := r.world.Node(j.Node); i >= 0 {
			return Outcome{World: r.world} // it missed the publication
		}
		return Outcome{Note: fmt.Sprintf("node %s waits: generation %d is running without it", j.Node, r.gen)}
	}
	if _, ok := r.seq[j.Node]; !ok {
		r.seq[j.Node] = len(r.seq)
	}
	r.waiting[j.Node] = j
	if len(r.waiting) >= r.Min && r.minAt.IsZero() {
		r.minAt = now
	}
	if len(r.waiting) >= r.Max && r.survivorsBack(now) {
		return r.decide()
	}
	return Outcome{}
}

// survivorsBack reports whether every survivor has asked to join, or
// SurvivorWait has passed since the generation opened.
func (r *Rendezvous) survivorsBack(now time.Time) bool {
	if now.Sub(r.opened) >= r.SurvivorWait {
		return true
	}
	for n := range r.survivors {
		if _, ok := r.waiting[n]; !ok {
			return false
		}
	}
	return true
}

// OnTick advances the clock.
func (r *Rendezvous) OnTick(now time.Time) Outcome {
	if r.failed || r.world != nil || r.opened.IsZero() {
		return Outcome{}
	}
	enough := len(r.waiting) >= r.Max || len(r.waiting) >= r.Min && now.Sub(r.minAt) >= r.LastCall
	if enough && r.survivorsBack(now) {
		return r.decide()
	}
	if now.Sub(r.opened) >= r.JoinTimeout {
		r.failed = true
		return Outcome{Fail: fmt.Errorf("%w: generation %d: %d of %d nodes joined within %v (%s)",
			ErrRendezvous, r.gen, len(r.waiting), r.Min, r.JoinTimeout, r.names())}
	}
	return Outcome{}
}

// OnLeave handles a node leaving the cluster (gracefully or found dead).
func (r *Rendezvous) OnLeave(node string, now time.Time) Outcome {
	delete(r.waiting, node)
	delete(r.survivors, node)
	if len(r.waiting) < r.Min {
		r.minAt = time.Time{}
	}
	if r.world == nil {
		return Outcome{}
	}
	if _, i := r.world.Node(node); i < 0 {
		return Outcome{}
	}
	reason := fmt.Sprintf("node %s left the cluster", node)
	r.next(now)
	delete(r.survivors, node)
	return Outcome{Abort: reason}
}

// Adopt takes over a running job whose coordinator was lost (Note [No
// single coordinator]): w, the newest world, is generation gen's, decided,
// and its node order is the order of first joins.
func (r *Rendezvous) Adopt(w World, now time.Time) {
	r.gen, r.chain, r.opened, r.world = w.Gen, w.Gen, now, &w
	r.waiting = map[string]Join{}
	for i, n := range w.Nodes {
		r.seq[n.Name] = i
		r.waiting[n.Name] = Join{Node: n.Name, Gen: w.Gen, Addrs: w.Peers[n.FirstRank : n.FirstRank+n.Slots]}
	}
}

// OnShrink continues the running generation in place without node, which
// left the cluster, when at least MIN nodes and 2 ranks remain: the world
// of gen+1 has the other nodes in the same order, their ring addresses
// kept and their ranks renumbered (Note [Recovery in place]). Otherwise it
// does nothing, and the caller handles the leave with OnLeave.
func (r *Rendezvous) OnShrink(node string, now time.Time) Outcome {
	if r.failed || r.world == nil {
		return Outcome{}
	}
	if _, i := r.world.Node(node); i < 0 || len(r.world.Nodes)-1 < r.Min {
		return Outcome{}
	}
	w := World{Gen: r.gen + 1, InPlace: true}
	for _, n := range r.world.Nodes {
		if n.Name != node {
			w.Nodes = append(w.Nodes, WorldNode{Name: n.Name, FirstRank: len(w.Peers), Slots: n.Slots})
			w.Peers = append(w.Peers, r.world.Peers[n.FirstRank:n.FirstRank+n.Slots]...)
		}
	}
	if len(w.Peers) < 2 {
		return Outcome{}
	}
	delete(r.waiting, node)
	delete(r.survivors, node)
	r.gen, r.world, r.opened = w.Gen, &w, now
	return Outcome{World: &w, Note: fmt.Sprintf("node %s left: generation %d continues in place without it as generation %d, world size %d",
		node, w.Gen-1, w.Gen, w.Size())}
}

// OnAbort ends generation gen (a failure somewhere), or the generation
// that continues it in place; nodes then ask to join the next one.
func (r *Rendezvous) OnAbort(gen int, now time.Time) Outcome {
	if gen < r.chain || gen > r.gen || r.failed {
		return Outcome{}
	}
	r.next(now)
	return Outcome{}
}

// OnLost handles the loss of a rank of generation gen on node, a node
// still in the cluster: the generation continues in place as gen+1, with
// the same world (Note [Recovery in place]). A loss in an older
// generation is one the newer world already covers: the node replaces
// every rank it lost when it applies that world.
func (r *Rendezvous) OnLost(gen int, node string, now time.Time) Outcome {
	if r.failed || r.world == nil || gen != r.gen {
		return Outcome{}
	}
	if _, i := r.world.Node(node); i < 0 {
		return Outcome{}
	}
	w := *r.world
	w.Gen, w.InPlace = r.gen+1, true
	r.gen, r.world, r.opened = w.Gen, &w, now
	return Outcome{World: &w, Note: fmt.Sprintf("generation %d continues in place as generation %d: node %s replaces its lost rank", gen, w.Gen, node)}
}

func (r *Rendezvous) open(now time.Time) {
	if r.opened.IsZero() {
		r.opened = now
	}
}

func (r *Rendezvous) next(now time.Time) {
	if r.world != nil { // else the generation never started: the same nodes are expected
		r.survivors = map[string]bool{}
		for _, n := range r.world.Nodes {
			r.survivors[n.Name] = true
		}
	}
	r.gen++
	r.chain = r.gen
	r.world, r.waiting, r.minAt = nil, map[string]Join{}, time.Time{}
	r.opened = now
}

func (r *Rendezvous) decide() Outcome {
	nodes := make([]Join, 0, len(r.waiting))
	for _, j := range r.waiting {
		nodes = append(nodes, j)
	}
	sort.Slice(nodes, func(a, b int) bool { return r.seq[nodes[a].Node] < r.seq[nodes[b].Node] })
	var out Outcome
	if len(nodes) > r.Max {
		out.Note = fmt.Sprintf("%d nodes joined; %d wait for a later generation", len(nodes), len(nodes)-r.Max)
		nodes = nodes[:r.Max]
	}
	w := &World{Gen: r.gen}
	for _, j := range nodes {
		w.Nodes = append(w.Nodes, WorldNode{Name: j.Node, FirstRank: len(w.Peers), Slots: len(j.Addrs)})
		w.Peers = append(w.Peers, j.Addrs...)
	}
	r.world = w
	out.World = w
	return out
}

func (r *Rendezvous) names() string {
	var s []string
	for n := range r.waiting {
		s = append(s, n)
	}
	sort.Strings(s)
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
