package launcher

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Note [No single coordinator]: the first node is where the job starts
// (its NATS server, the rendezvous), but not a single point of failure.
// The first nodes to join, up to maxNATSServers, each run a NATS server of
// one cluster (routes: Note [Route authentication]); every launcher and
// rank connects with the list of them, its own node's first, and moves
// to another when its server goes. The coordinator (the Rendezvous) runs
// on one node, which every world names (World.Coordinator); every
// launcher keeps the newest world. When memberlist reports the
// coordinator's node gone, the first node of that world (in node order)
// that memberlist still sees alive takes over, when a majority of that
// world's nodes answer its pings (itself included: a cut-off minority must not
// elect itself, or there would be two coordinators once the link is back;
// so a job needs 3 nodes to survive losing the coordinator's): it adopts the world
// (Rendezvous.Adopt: its generation, its node order) and handles the
// lost node as any other: continue in place without it (an elastic job
// with enough nodes left, Note [Recovery in place]) or end the
// generation, and restart with the nodes that remain. The other launchers
// wait for its decision (lostTimeout) instead of failing.
//
// What it does not do: a node that takes over knows only the world, not
// the rendezvous in progress (nodes waiting to join ask again and are
// seen then) nor a recovery in place under way (a loss then continues in
// place once more rather than restarting). A coordinator cut off from the
// others goes on deciding for itself, alone (it ends its generation: too
// few nodes); when the link comes back, two coordinators may decide, and
// the job should be restarted by hand. Elections by a quorum (raft, as
// NATS JetStream's meta group does) would settle that, at the cost of
// needing 3 nodes to lose one.

// natsCluster is the cluster an embedded server of this job joins, or nil
// for a single-node job.
func (n *node) natsCluster(routes []string) *natsCluster {
	if !n.cfg.Nodes.MultiNode() {
		return nil
	}
	return &natsCluster{name: "ddprun-" + n.job, routes: routes}
}

// joinNATS waits for the job's NATS servers to show up in the cluster's
// metadata and, while fewer than maxNATSServers run, starts one here,
// routed to them. It returns the client URLs, this node's first.
func (n *node) joinNATS(ctx context.Context, meta nodeMeta) (string, error) {
	servers, err := n.awaitNATS(ctx)
	if err != nil {
		return "", err
	}
	var urls, routes []string
	for _, s := range servers {
		urls = append(urls, s.url)
		if s.route != "" {
			routes = append(routes, s.route)
		}
	}
	if len(servers) >= maxNATSServers || len(routes) == 0 { // enough, or an unclustered server (--nats)
		return strings.Join(urls, ","), nil
	}
	srv, err := startNATS(n.bind, 0, n.secret, n.natsCluster(routes))
	if err != nil {
		return "", err
	}
	n.plane.srv = srv
	meta.NATS, meta.Route = srv.ClientURL(), routeURL(srv)
	if err := n.plane.ml.announce(meta); err != nil {
		n.log.Warn("announcing this node's NATS server", "err", err)
	}
	return strings.Join(append([]string{srv.ClientURL()}, urls...), ","), nil
}

// awaitNATS waits until a NATS server of the job shows up in the
// cluster's metadata, and notes the first node.
func (n *node) awaitNATS(ctx context.Context) ([]natsServer, error) {
	deadline := time.Now().Add(n.cfg.joinTimeout())
	for {
		if ss := n.plane.ml.natsServers(n.job); len(ss) > 0 {
			if ss[0].first {
				n.plane.first = ss[0].node
			}
			return ss, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: no node of job %s announces a NATS server after %v (joined via %s)",
				ErrRendezvous, n.job, n.cfg.joinTimeout(), n.cfg.Join)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// newCoordinator makes this node's coordinator.
func (n *node) newCoordinator() *coordinator {
	cfg := &n.cfg
	min, max := 1, 1
	if cfg.Nodes.MultiNode() {
		min, max = cfg.Nodes.Min, cfg.Nodes.Max
	}
	return &coordinator{p: n.plane, name: n.name, r: NewRendezvous(min, max, cfg.lastCall(), cfg.joinTimeout()),
		control: n.plane.url, maxRestarts: cfg.MaxRestarts, recovery: cfg.inPlace(), recovering: -1, log: n.log,
		failed: make(chan error, 1), finished: make(chan int, 4)}
}

// succeed is called when memberlist reports node gone: if it was the
// coordinator and this node is next in line, this node takes over.
func (p *plane) succeed(dead string) {
	if p.coord.Load() || dead != p.coordinator() || p.takeOver == nil || !p.majority() {
		return
	}
	if next := p.successor(dead); next == p.self {
		p.takeOver(dead)
	}
}

// majority reports whether this node reaches more than half of the newest
// world's nodes, itself included. A node cut off from the others sees
// them all gone, the coordinator too; without a majority it must not take
// over, or the job would have two coordinators once the link is back (a
// minority side cannot tell a dead coordinator from its own cut cable).
// The others count only if they answer a ping now: memberlist declares
// the nodes behind a cut dead one by one, and a cut-off node that counted
// one not yet declared took over (TestE2EHosts_Elastic, about one run in
// ten).
func (p *plane) majority() bool {
	nodes := p.newestWorld().Nodes
	answered := make(map[string]bool, len(nodes))
	if p.ml != nil { // ping them all at once: a partition costs one round of tries, not one per node
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, nd := range nodes {
			if nd.Name == p.self {
				continue
			}
			wg.Go(func() {
				ok := p.ml.reachable(nd.Name)
				mu.Lock()
				answered[nd.Name] = ok
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	return majority(nodes, p.self, func(name string) bool { return answered[name] })
}

// majority reports whether self and the nodes alive says are alive are
// more than half of nodes.
func majority(nodes []WorldNode, self string, alive func(string) bool) bool {
	n := 0
	for _, nd := range nodes {
		if nd.Name == self || alive(nd.Name) {
			n++
		}
	}
	return 2*n > len(nodes)
}

// successor is the first node of the newest world, other than dead, that
// memberlist sees alive; "" when there is no world yet.
func (p *plane) successor(dead string) string {
	for _, nd := range p.newestWorld().Nodes {
		if nd.Name != dead && (nd.Name == p.self || p.ml != nil && p.ml.alive(nd.Name)) {
			return nd.Name
		}
	}
	return ""
}

// takeOver makes this node the coordinator of the newest world, whose
// coordinator dead is gone.
func (n *node) takeOver(ctx context.Context, dead string) {
	w := n.plane.newestWorld()
	n.log.Warn(fmt.Sprintf("the coordinator's node %s is gone; this node coordinates the job from generation %d", dead, w.Gen))
	c := n.newCoordinator()
	c.r.Adopt(w, time.Now())
	c.world = &w
	n.plane.mu.Lock()
	n.plane.coordNode = n.name
	n.plane.mu.Unlock()
	n.coord.Store(c)
	n.plane.coord.Store(true)
	go c.run(ctx)
}
