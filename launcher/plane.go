package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ddprun/ddprun/internal/control"
)

// Note [Control plane]: NATS answers "what to do". Subjects, all under
// ddprun.<job>.:
//
//	rdzv.join   launcher -> coordinator   Join, repeated every second until a World arrives
//	rdzv.world  coordinator -> launchers  World of a generation
//	ctl.abort   launcher -> all           abortMsg: failures that end a generation
//	ctl.stop    launcher -> ranks, launchers   stop cleanly (checkpoint, exit 3)
//	ctl.done    launcher -> coordinator   doneMsg: a node's ranks all finished
//	ctl.lost    launcher -> coordinator   lostMsg: a rank to recover in place (Note [Recovery in place])
//	ctl.recovered  rank -> launchers      control.Recovered: the rank has the job's state back
//	hb.<rank>   rank -> launchers         control.Heartbeat
//
// Ranks that may recover in place also read rdzv.world: the in-place
// worlds (InPlace set) give them the next generation's ring.
//
// The first node hosts the server (or --nats names one) and the
// coordinator; every launcher, the first included, is a NATS client. The
// server's only user is the job's nkey: clients sign its nonce with the
// key derived from the secret (Note [NATS login] in internal/control).
// Nothing replayable crosses the network, but the payloads are not
// encrypted.

type abortMsg struct {
	Gen      int       `json:"gen"`
	Failures []Failure `json:"failures"`
	Final    bool      `json:"final"` // no restart: the job ends
	// Recovery says why a recovery in place gave way to a restart.
	Recovery string `json:"recovery,omitempty"`
}

type doneMsg struct {
	Gen  int    `json:"gen"`
	Node string `json:"node"`
}

// plane is a launcher's connection to the control plane.
type plane struct {
	job     string
	nc      *nats.Conn
	srv     *server.Server // hosted here, or nil
	ml      *membership    // nil for a single-node job
	url     string         // the NATS URL ranks use
	log     *slog.Logger
	first   string // the first node (coordinator, NATS host) of a multi-node job
	worlds  chan World
	aborts  chan abortMsg
	caborts chan abortMsg // a copy for the coordinator
	coord   atomic.Bool   // this node coordinates the job (Note [No single coordinator])
	self    string        // this node's name
	stops   chan struct{}
	dones   chan doneMsg
	joins   chan Join
	leaves  chan string // memberlist leaves, for the node loop
	cleave  chan string // memberlist leaves, for the coordinator
	inplace chan World  // worlds that continue a generation in place
	losts   chan lostMsg
	backs   chan control.Recovered // ranks back after a recovery in place
	cbacks  chan control.Recovered // a copy for the coordinator
	mon     *monitor

	mu        sync.Mutex
	done      map[int]map[string]bool // gen -> nodes whose ranks all finished
	coordNode string                  // the coordinator's node, as the newest world names it
	world     World                   // the newest world published
	takeOver  func(dead string)       // called when this node succeeds a lost coordinator
}

// coordinator is the node that coordinates the job.
func (p *plane) coordinator() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.coordNode == "" {
		return p.first
	}
	return p.coordNode
}

// seeWorld keeps the newest world and the coordinator it names.
func (p *plane) seeWorld(w World) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.Gen >= p.world.Gen {
		p.world = w
		if w.Coordinator != "" {
			p.coordNode = w.Coordinator
		}
	}
}

func (p *plane) newestWorld() World {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.world
}

func (p *plane) markDone(d doneMsg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done[d.Gen] == nil {
		p.done[d.Gen] = map[string]bool{}
	}
	p.done[d.Gen][d.Node] = true
}

// finishedAny reports whether node reported that its ranks finished, in
// any generation: the job is done.
func (p *plane) finishedAny(node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, nodes := range p.done {
		if nodes[node] {
			return true
		}
	}
	return false
}

// finished reports whether node reported that its ranks of gen finished:
// it then leaves the cluster, which is no failure.
func (p *plane) finished(gen int, node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done[gen][node]
}

func (p *plane) subject(name string) string { return control.Subject(p.job, name) }

func (p *plane) publish(name string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		_ = p.nc.Publish(p.subject(name), b)
		_ = p.nc.FlushTimeout(2 * time.Second)
	}
}

// connect dials url (a list: this node's server first), logs in with the
// job's key (Note [NATS login] in internal/control) and subscribes to the
// subjects a launcher needs, and to the coordinator's, which it passes on
// while coord is set.
func (p *plane) connect(ctx context.Context, url string, secret []byte, coord bool) error {
	login, err := control.NATSLogin(secret)
	if err != nil {
		return fmt.Errorf("launcher: connecting to NATS at %s: %w", url, err)
	}
	nc, err := nats.Connect(url, login, nats.Name("ddprun launcher"), nats.DontRandomize(),
		nats.Timeout(10*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				p.log.Warn("lost the connection to the control plane (NATS); reconnecting", "url", url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { p.log.Info("reconnected to the control plane (NATS)", "url", url) }))
	if err != nil {
		return fmt.Errorf("launcher: connecting to NATS at %s: %w", url, err)
	}
	p.nc = nc
	p.coord.Store(coord)
	sub := func(name string, f func(*nats.Msg)) error {
		_, err := nc.Subscribe(p.subject(name), f)
		return err
	}
	decode := func(m *nats.Msg, v any) bool { return json.Unmarshal(m.Data, v) == nil }
	errs := []error{
		sub("rdzv.world", func(m *nats.Msg) {
			var w World
			if decode(m, &w) {
				p.seeWorld(w)
				nonBlocking(p.worlds, w)
				if w.InPlace {
					nonBlocking(p.inplace, w)
				}
			}
		}),
		sub("ctl.recovered", func(m *nats.Msg) {
			var r control.Recovered
			if decode(m, &r) {
				nonBlocking(p.backs, r)
				if p.coord.Load() {
					nonBlocking(p.cbacks, r)
				}
			}
		}),
		sub("ctl.abort", func(m *nats.Msg) {
			var a abortMsg
			if decode(m, &a) {
				nonBlocking(p.aborts, a)
				if p.coord.Load() {
					nonBlocking(p.caborts, a)
				}
			}
		}),
		sub("ctl.stop", func(*nats.Msg) {
			select {
			case p.stops <- struct{}{}:
			default:
			}
		}),
		sub("hb.*", func(m *nats.Msg) {
			var h control.Heartbeat
			if decode(m, &h) {
				p.mon.observe(h, time.Now())
			}
		}),
	}
	errs = append(errs, sub("ctl.done", func(m *nats.Msg) {
		var d doneMsg
		if decode(m, &d) {
			p.markDone(d)
			if p.coord.Load() {
				nonBlocking(p.dones, d)
			}
		}
	}))
	errs = append(errs, sub("rdzv.join", func(m *nats.Msg) {
		var j Join
		if p.coord.Load() && decode(m, &j) {
			nonBlocking(p.joins, j)
		}
	}), sub("ctl.lost", func(m *nats.Msg) {
		var l lostMsg
		if p.coord.Load() && decode(m, &l) {
			nonBlocking(p.losts, l)
		}
	}))
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("launcher: subscribing: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return nc.FlushWithContext(ctx)
}

func newPlane(job string) *plane {
	return &plane{job: job, worlds: make(chan World, 1024), aborts: make(chan abortMsg, 1024), caborts: make(chan abortMsg, 1024),
		stops: make(chan struct{}, 1), dones: make(chan doneMsg, 1024), joins: make(chan Join, 1024),
		leaves: make(chan string, 1024), cleave: make(chan string, 1024), mon: newMonitor(), done: map[int]map[string]bool{},
		inplace: make(chan World, 64), losts: make(chan lostMsg, 1024), backs: make(chan control.Recovered, 1024),
		cbacks: make(chan control.Recovered, 1024)}
}

// leaveDelay delays memberlist leave events; see forwardLeaves.
const leaveDelay = time.Second

// forwardLeaves feeds memberlist leave events to the node loop and the
// coordinator until the event channel is drained after shutdown.
func (p *plane) forwardLeaves(events <-chan memberlist.NodeEvent, log *slog.Logger) {
	gone := map[string]bool{}
	for ev := range events {
		switch ev.Event {
		case memberlist.NodeLeave:
			log.Info("node left the cluster", "peer", ev.Node.Name, "addr", ev.Node.Address())
			name := ev.Node.Name
			gone[name] = true
			go p.ml.reconnect(name, ev.Node.Address()) // Note [Partitions heal]
			// A node that finished says so on NATS before it leaves; give
			// that message a head start over the gossip.
			time.AfterFunc(leaveDelay, func() {
				p.succeed(name)
				nonBlocking(p.leaves, name)
				if p.coord.Load() {
					nonBlocking(p.cleave, name)
				}
			})
		case memberlist.NodeJoin:
			log.Info("node joined the cluster", "peer", ev.Node.Name, "addr", ev.Node.Address())
			if gone[ev.Node.Name] && ev.Node.Name == p.coordinator() && !p.coord.Load() {
				// A partition healed. Our NATS connection to the first node
				// may have survived it, with the server's retransmissions in
				// TCP's exponential backoff (seconds to minutes): messages to
				// this node would arrive that late. Start afresh.
				log.Info("the first node is reachable again: reconnecting to the control plane", "peer", ev.Node.Name)
				_ = p.nc.ForceReconnect()
			}
			delete(gone, ev.Node.Name)
		}
	}
}

func nonBlocking[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func (p *plane) close() {
	if p.nc != nil {
		p.nc.Close()
	}
	if p.ml != nil {
		p.ml.close(2 * time.Second)
	}
	if p.srv != nil {
		p.srv.Shutdown()
		p.srv.WaitForShutdown()
	}
}

// setup brings up this node's control plane: the embedded NATS server
// and coordinator on the first node, memberlist for multi-node jobs (and
// NATS servers on the next nodes, up to maxNATSServers: Note [No single
// coordinator]), and the NATS connection.
func (n *node) setup(ctx context.Context) error {
	p := newPlane(n.job)
	p.log, p.self = n.log, n.name
	n.plane = p
	cfg := &n.cfg
	url := cfg.NATS
	hosting := cfg.Join == ""
	if hosting && url == "" {
		srv, err := startNATS(n.bind, cfg.NATSPort, n.secret, n.natsCluster(nil))
		if err != nil {
			return err
		}
		p.srv, url = srv, srv.ClientURL()
	}
	if cfg.Nodes.MultiNode() {
		meta := nodeMeta{Job: n.job, Slots: cfg.NProc}
		if hosting {
			meta.NATS, meta.First, p.first = url, true, n.name
			if p.srv != nil {
				meta.Route = routeURL(p.srv)
			}
		}
		var logOut io.Writer
		ml, err := joinCluster(memberConfig{preset: cfg.Memberlist, name: n.name, bind: n.bind, port: cfg.Port,
			secret: n.secret, meta: meta, logOut: logOut, joinTimeout: cfg.joinTimeout()}, cfg.Join)
		if err != nil {
			return err
		}
		p.ml = ml
		n.log.Info("joined the cluster", "node", n.name, "gossip", ml.addr(), "seed", cfg.Join)
		if url == "" {
			if url, err = n.joinNATS(ctx, meta); err != nil {
				return err
			}
		}
	}
	p.url = url
	if err := p.connect(ctx, url, n.secret, hosting); err != nil {
		return err
	}
	p.takeOver = func(dead string) { n.takeOver(ctx, dead) }
	if p.ml != nil { // memberlist buffers its events until now
		go p.forwardLeaves(p.ml.events, n.log)
	}
	if hosting {
		c := n.newCoordinator()
		n.coord.Store(c)
		go c.run(ctx)
	}
	return nil
}

// listenRanks opens one ring listener per local rank on host, port 0.
func listenRanks(host string, k int) ([]*net.TCPListener, []string, error) {
	var lns []*net.TCPListener
	var addrs []string
	for range k {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, nil, fmt.Errorf("launcher: ring listener on %s: %w", host, err)
		}
		lns = append(lns, ln.(*net.TCPListener))
		addrs = append(addrs, net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
	}
	return lns, addrs, nil
}
