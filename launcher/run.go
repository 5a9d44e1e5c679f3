package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ddprun/ddprun/internal/control"
)

// node is one launcher: its configuration, control plane and output.
type node struct {
	cfg    Config
	name   string
	job    string
	secret []byte
	bind   string
	log    *slog.Logger
	stdout *syncWriter
	stderr *syncWriter
	plane  *plane
	coord  atomic.Pointer[coordinator] // set on the coordinator's node (Note [No single coordinator])
}

// Run runs the job's part on this node until the job ends, and returns
// the launcher's exit code (ExitOK, ExitFailed, ...) with the error that
// explains a non-zero one. ctx ending (a signal) stops the job cleanly:
// ranks are asked to checkpoint and exit, then killed after cfg.Grace.
func Run(ctx context.Context, cfg Config) (int, error) {
	n, err := newNode(cfg)
	if err != nil {
		return ExitUsage, err
	}
	// The control plane outlives a signal: ranks still report and stop.
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if err := n.setup(pctx); err != nil {
		if n.plane != nil {
			n.plane.close()
		}
		return ExitFailed, err
	}
	defer n.plane.close()
	if cfg.MetricsAddr != "" {
		x := newMetrics(n.job, n.name)
		n.plane.mon.export(x)
		addr, err := serveMetrics(pctx, metricsListenAddr(cfg.MetricsAddr, n.bind), x)
		if err != nil {
			return ExitUsage, err
		}
		n.log.Info("serving Prometheus metrics", "url", "http://"+addr.String()+"/metrics")
	}
	return n.loop(ctx)
}

func newNode(cfg Config) (*node, error) {
	if cfg.NProc == 0 {
		cfg.NProc = DefaultNProc()
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	if cfg.Env == nil {
		cfg.Env = os.Environ()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &node{cfg: cfg, secret: cfg.Secret, job: cfg.JobID,
		stdout: &syncWriter{w: cfg.Stdout}, stderr: &syncWriter{w: cfg.Stderr}}
	if n.secret == nil {
		n.secret = make([]byte, 32)
		rand.Read(n.secret)
	}
	if n.job == "" {
		n.job = hex.EncodeToString(control.DeriveKey(n.secret, "ddprun job id", 6))
	}
	n.bind = cfg.Bind
	if n.bind == "" {
		n.bind = defaultBind(cfg)
	}
	n.name = cfg.NodeName
	if n.name == "" {
		host, _ := os.Hostname()
		n.name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	n.log = cfg.Log
	if n.log == nil {
		n.log = slog.New(slog.NewTextHandler(lineWriter{n.stderr}, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{} // the console has no use for it; --log-dir files have their own
				}
				return a
			}}))
	}
	n.log = n.log.With("node", n.name)
	return n, nil
}

// lineWriter lets a logger share the launcher's stderr with the ranks.
type lineWriter struct{ s *syncWriter }

func (l lineWriter) Write(p []byte) (int, error) {
	l.s.writeLine("ddprun: ", p)
	return len(p), nil
}

// defaultBind is 127.0.0.1 for a single-node job, else the local address
// that routes to the seed (or to the default route on the first node).
func defaultBind(cfg Config) string {
	if !cfg.Nodes.MultiNode() {
		return "127.0.0.1"
	}
	target := "192.0.2.1:9" // TEST-NET-1: only the route is looked up, nothing is sent
	if cfg.Join != "" {
		target = cfg.Join
	}
	c, err := net.Dial("udp", target)
	if err != nil {
		return "127.0.0.1"
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP.String()
}

// loop runs generations until the job succeeds, is stopped, or fails with
// no restart left.
func (n *node) loop(ctx context.Context) (int, error) {
	gen := 0
	for {
		world, lns, err := n.rendezvous(ctx, gen)
		if errors.Is(err, errFinishedWithout) {
			n.log.Info("the job finished without this node: the generations since it asked to join ran without it")
			return ExitOK, nil
		}
		if err != nil {
			return n.exitOnRendezvous(ctx, err)
		}
		res := n.runGen(ctx, world, lns)
		world = res.world // the generation may have continued in place
		switch {
		case res.stopped && res.killed:
			return ExitKilled, fmt.Errorf("%w: some ranks did not exit within --grace %v and were killed", ErrStopped, n.cfg.grace())
		case res.stopped:
			return ExitStopped, ErrStopped
		case len(res.failures) == 0:
			return n.finish(world)
		}
		final := res.final || world.Gen >= world.MaxRestarts
		writeSummary(n.stderr.w, n.job, res.failures, world.Gen, world.MaxRestarts, final)
		if final {
			root, _ := rootCause(res.failures)
			code := ExitFailed
			if root.ExitCode == RankRefusedCode && root.Signal == "" {
				code = ExitRefused
			}
			return code, fmt.Errorf("%w: %s: %s", ErrRankFailed, who(root), root.what())
		}
		gen = world.Gen + 1
		n.log.Info("restarting", "restart", gen, "max_restarts", world.MaxRestarts)
	}
}

func (n *node) exitOnRendezvous(ctx context.Context, err error) (int, error) {
	if ctx.Err() != nil {
		return ExitStopped, fmt.Errorf("%w during the rendezvous", ErrStopped)
	}
	return ExitFailed, err
}

// finish waits, on the first node, until every node reported done: it
// hosts the NATS server the others still use.
func (n *node) finish(w World) (int, error) {
	n.plane.publish("ctl.done", doneMsg{Gen: w.Gen, Node: n.name})
	c := n.coord.Load()
	if c == nil || len(w.Nodes) == 1 {
		return ExitOK, nil
	}
	deadline := time.After(n.cfg.grace() + time.Minute)
	for {
		select {
		case g := <-c.finished:
			if g == w.Gen {
				return ExitOK, nil
			}
		case a := <-n.plane.aborts:
			if a.Gen == w.Gen {
				writeSummary(n.stderr.w, n.job, a.Failures, w.Gen, w.MaxRestarts, true)
				return ExitFailed, fmt.Errorf("%w after this node finished", ErrRankFailed)
			}
		case <-deadline:
			n.log.Warn("not every node reported done; exiting anyway")
			return ExitOK, nil
		}
	}
}

// Note [Left out]: a node can ask to join while a generation runs
// without it (it started late, its link came back after the others went
// on, or MAX nodes were there first). It waits, asking again every
// second (a node that asks for an older generation is sent the current
// world and catches up), and is taken in at the next generation: a
// failure's abort makes it ask for the one after. If no failure comes,
// the job ends without it. The first node publishes ctl.done only when
// its ranks finished the job, so a waiting node that sees it exits 0
// (errFinishedWithout). A waiting node does not give up when memberlist
// says the first node left: that may be a partition that heals (it then
// waits for --join-timeout, as before).

// errFinishedWithout ends the rendezvous of a node left out to the end.
var errFinishedWithout = errors.New("launcher: the job finished without this node")

// rendezvous opens this node's ring listeners and asks the coordinator to
// join generation gen until it publishes a world that includes this node.
func (n *node) rendezvous(ctx context.Context, gen int) (World, []*net.TCPListener, error) {
	lns, addrs, err := listenRanks(n.bind, n.cfg.NProc)
	if err != nil {
		return World{}, nil, err
	}
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	join := Join{Node: n.name, Gen: gen, Addrs: addrs}
	n.plane.publish("rdzv.join", join)
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	deadline := time.After(n.cfg.joinTimeout() + time.Minute)
	for {
		select {
		case w := <-n.plane.worlds:
			if w.Gen < gen {
				continue
			}
			if w.Gen > gen { // this node missed a generation: catch up
				closeAll()
				return n.rendezvous(ctx, w.Gen)
			}
			if _, i := w.Node(n.name); i >= 0 {
				return w, lns, nil
			}
			n.log.Info("the world of this generation does not include this node; waiting", "gen", w.Gen, "world_size", w.Size())
		case a := <-n.plane.aborts:
			if a.Final {
				closeAll()
				return World{}, nil, fmt.Errorf("%w: %s", ErrRendezvous, a.Failures[0].what())
			}
			if a.Gen >= gen {
				closeAll()
				return n.rendezvous(ctx, a.Gen+1)
			}
		case err := <-n.coordFailed():
			closeAll()
			return World{}, nil, err
		case <-n.plane.leaves:
			// The coordinator handles leaves (OnLeave). Left queued, one
			// would fail the next generation, though the node may be back
			// in it after a partition healed (Note [Partitions heal]).
		case <-retry.C:
			if c := n.plane.coordinator(); c != n.name && n.plane.finishedAny(c) {
				closeAll()
				return World{}, nil, errFinishedWithout
			}
			n.plane.publish("rdzv.join", join)
		case <-ctx.Done():
			closeAll()
			return World{}, nil, ctx.Err()
		case <-deadline:
			closeAll()
			return World{}, nil, fmt.Errorf("%w: node %s: no world for generation %d after %v",
				ErrRendezvous, n.name, gen, n.cfg.joinTimeout()+time.Minute)
		}
	}
}

func (n *node) coordFailed() <-chan error {
	c := n.coord.Load()
	if c == nil {
		return nil
	}
	return c.failed
}

// genLogDir is --log-dir/restart-G, created.
func (n *node) genLogDir(gen int) string {
	if n.cfg.LogDir == "" {
		return ""
	}
	dir := filepath.Join(n.cfg.LogDir, "restart-"+strconv.Itoa(gen))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		n.log.Warn("cannot create the log directory; logging to the console", "dir", dir, "err", err)
		return ""
	}
	return dir
}

// rankThreads is OMP_NUM_THREADS for ranks when the user did not set it:
// the CPUs shared among the local ranks, as torchrun does (it sets 1).
func rankThreads(nproc int) string {
	return strconv.Itoa(max(1, runtime.NumCPU()/nproc))
}
