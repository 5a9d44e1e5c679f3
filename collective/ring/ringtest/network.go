package ringtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective/ring"
)

// Network is an in-memory network of Size ranks.
type Network struct {
	mu        sync.Mutex
	n         int
	rng       *rand.Rand
	lns       map[int]*listener
	conns     []*conn
	killed    map[int]bool
	severed   map[[2]int]bool
	killAfter map[int]int // rank -> writes left before KillAfterWrites kills it
	delays    map[[2]int]delay
}

type delay struct {
	d time.Duration
	p float64
}

// Option configures a Network.
type Option func(*Network)

// Seed seeds the network's fault randomness (default 1).
func Seed(s uint64) Option {
	return func(nw *Network) { nw.rng = rand.New(rand.NewPCG(s, s)) }
}

// NewNetwork makes a network for n ranks.
func NewNetwork(n int, opts ...Option) *Network {
	nw := &Network{n: n, lns: map[int]*listener{}, killed: map[int]bool{},
		severed: map[[2]int]bool{}, delays: map[[2]int]delay{}, killAfter: map[int]int{}}
	Seed(1)(nw)
	for _, o := range opts {
		o(nw)
	}
	return nw
}

// Size is the number of ranks.
func (nw *Network) Size() int { return nw.n }

// Addr is rank r's address on the network.
func (nw *Network) Addr(r int) string { return "mem:" + strconv.Itoa(r) }

// Secret is the job secret that Config uses.
var Secret = []byte("ringtest secret")

// Config returns ring.LocalConfig for rank r wired to this network: its
// Listener (registered now), Dialer, Peers, JobID and Secret.
func (nw *Network) Config(r int) ring.Config {
	cfg := ring.LocalConfig()
	cfg.Rank, cfg.Size, cfg.JobID, cfg.Secret = r, nw.n, "ringtest", Secret
	for i := range nw.n {
		cfg.Peers = append(cfg.Peers, nw.Addr(i))
	}
	cfg.Listener = nw.listen(r)
	cfg.Dialer = nw.Dialer(r)
	return cfg
}

// Dialer dials ranks of the network from host from: a rank, or any other
// number for a stranger (connection addresses name it "mem:<from>"). Its
// connections obey Kill, Sever and Delay like the ranks'.
func (nw *Network) Dialer(from int) ring.Dialer { return dialer{nw, from} }

// Kill breaks every link of rank r and refuses its future connections, as
// if the process died.
func (nw *Network) Kill(r int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.killed[r] = true
	delete(nw.killAfter, r)
	if ln := nw.lns[r]; ln != nil {
		ln.close()
	}
	nw.closeWhere(func(c *conn) bool { return c.from == r || c.to == r })
}

// Revive lets rank r connect again after Kill: a replacement process on
// the same address. Its listener is the next one Config registers.
func (nw *Network) Revive(r int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	delete(nw.killed, r)
}

// KillAfterWrites kills rank r (as Kill) once it has completed n more
// writes on its connections: a process that dies in the middle of a
// collective, having sent part of its data.
func (nw *Network) KillAfterWrites(r, n int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.killAfter[r] = n
}

// wrote counts a completed write of rank r, and kills it when due.
func (nw *Network) wrote(r int) {
	nw.mu.Lock()
	n, armed := nw.killAfter[r]
	if armed {
		nw.killAfter[r] = n - 1
	}
	nw.mu.Unlock()
	if armed && n == 1 {
		nw.Kill(r)
	}
}

// Sever breaks the links between ranks a and b, both ways, and refuses new
// ones.
func (nw *Network) Sever(a, b int) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.severed[[2]int{a, b}], nw.severed[[2]int{b, a}] = true, true
	nw.closeWhere(func(c *conn) bool { return (c.from == a && c.to == b) || (c.from == b && c.to == a) })
}

// Delay makes each write from rank from to rank to wait d, with
// probability p (drawn from the seeded source).
func (nw *Network) Delay(from, to int, d time.Duration, p float64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.delays[[2]int{from, to}] = delay{d, p}
}

func (nw *Network) closeWhere(match func(*conn) bool) {
	for _, c := range nw.conns {
		if match(c) {
			c.Conn.Close()
		}
	}
}

func (nw *Network) wait(from, to int) time.Duration {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	d, ok := nw.delays[[2]int{from, to}]
	if !ok || nw.rng.Float64() >= d.p {
		return 0
	}
	return d.d
}

func (nw *Network) listen(r int) net.Listener {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	ln := &listener{addr: addr(nw.Addr(r)), ch: make(chan net.Conn), done: make(chan struct{})}
	if nw.killed[r] {
		ln.close()
	}
	nw.lns[r] = ln
	return ln
}

type dialer struct {
	nw   *Network
	from int
}

var errRefused = &net.OpError{Op: "dial", Net: "mem", Err: syscall.ECONNREFUSED}

// DialContext connects to "mem:<rank>".
func (d dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	to, err := strconv.Atoi(strings.TrimPrefix(address, "mem:"))
	if err != nil || !strings.HasPrefix(address, "mem:") {
		return nil, fmt.Errorf("ringtest: bad address %q", address)
	}
	nw := d.nw
	nw.mu.Lock()
	ln := nw.lns[to]
	if ln == nil || nw.killed[d.from] || nw.killed[to] || nw.severed[[2]int{d.from, to}] {
		nw.mu.Unlock()
		return nil, errRefused
	}
	a, b := net.Pipe()
	ca, cb := &conn{a, nw, d.from, to}, &conn{b, nw, to, d.from}
	nw.conns = append(nw.conns, ca, cb)
	nw.mu.Unlock()
	select {
	case ln.ch <- cb:
		return ca, nil
	case <-ln.done:
	case <-ctx.Done():
	}
	a.Close()
	b.Close()
	return nil, errRefused
}

type conn struct {
	net.Conn
	nw       *Network
	from, to int
}

func (c *conn) LocalAddr() net.Addr  { return addr(c.nw.Addr(c.from)) }
func (c *conn) RemoteAddr() net.Addr { return addr(c.nw.Addr(c.to)) }

func (c *conn) Write(b []byte) (int, error) {
	if d := c.nw.wait(c.from, c.to); d > 0 {
		time.Sleep(d)
	}
	n, err := c.Conn.Write(b)
	if err == nil {
		c.nw.wrote(c.from)
	}
	return n, err
}

type listener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) close() { l.once.Do(func() { close(l.done) }) }

func (l *listener) Close() error   { l.close(); return nil }
func (l *listener) Addr() net.Addr { return l.addr }

type addr string

func (a addr) Network() string { return "mem" }
func (a addr) String() string  { return string(a) }

// Loopback returns ring.LocalConfig for n ranks wired over real TCP on
// 127.0.0.1, each with its listener already open.
func Loopback(t testing.TB, n int) []ring.Config {
	t.Helper()
	lns := make([]net.Listener, n)
	peers := make([]string, n)
	for r := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[r], peers[r] = ln, ln.Addr().String()
	}
	cfgs := make([]ring.Config, n)
	for r := range n {
		cfgs[r] = ring.LocalConfig()
		cfgs[r].Rank, cfgs[r].Size, cfgs[r].Peers, cfgs[r].Listener = r, n, peers, lns[r]
		cfgs[r].JobID, cfgs[r].Secret = "test", []byte("loopback secret")
	}
	return cfgs
}
