package launcher

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ddprun/ddprun/internal/control"
)

// Note [Membership]: memberlist answers "who is here". Each launcher is a
// member; its NodeMeta (nodeMeta, JSON, well under memberlist's 512-byte
// limit) carries its slot count and, on the first node, the NATS URL that
// the others learn when they join. Gossip is encrypted and authenticated
// with a key derived from the job secret, so a node without the secret
// cannot join or read the gossip. Leaves (graceful or detected by the
// failure detector) arrive on a channel and drive the rendezvous.

type nodeMeta struct {
	Job   string `json:"j"`
	Slots int    `json:"s"`
	NATS  string `json:"n,omitempty"`
	Route string `json:"r,omitempty"` // its NATS server's route URL (Note [No single coordinator])
	First bool   `json:"f,omitempty"` // the first node: the first coordinator
}

type metaDelegate struct {
	mu   sync.Mutex
	meta []byte
}

func (d *metaDelegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}
func (d *metaDelegate) NotifyMsg([]byte)                    {}
func (d *metaDelegate) GetBroadcasts(int, int) [][]byte     { return nil }
func (d *metaDelegate) LocalState(bool) []byte              { return nil }
func (d *metaDelegate) MergeRemoteState(buf []byte, _ bool) {}

// Note [Partitions heal]: memberlist declares a member it cannot reach
// dead and then forgets it: it gossips to the dead for a while, but only
// what it has queued, and syncs state (push/pull) with live members
// only. After a cable is pulled and plugged back, each side keeps
// believing the other dead: a host taken back into the job would no
// longer be watched, and could not see the first node leave. So, as
// serf's reconnector does, a launcher retries Join on the address of
// every member that left the cluster every reconnectInterval until it is
// alive again or the launcher exits. (memberlist's leave event does not
// say whether the member died or left on purpose; a member that left on
// purpose has shut down, so joining it fails at once and costs nothing.)
// A join that gets through exchanges full state; each side then finds
// itself declared dead, refutes it, and both see NodeJoin again.

// reconnectInterval is how often a dead member is looked for again (each
// try waits up to memberlist's TCPTimeout for an unreachable host).
const reconnectInterval = 2 * time.Second

// membership is this launcher's memberlist member.
type membership struct {
	ml     *memberlist.Memberlist
	events chan memberlist.NodeEvent
	meta   *metaDelegate

	closeOnce    sync.Once
	done         chan struct{} // closed by close: reconnects stop
	mu           sync.Mutex
	reconnecting map[string]bool
}

type memberConfig struct {
	preset func() *memberlist.Config
	name   string
	bind   string
	port   int
	secret []byte
	meta   nodeMeta
	logOut io.Writer
	// joinTimeout bounds the retries of the first join.
	joinTimeout time.Duration
}

// joinCluster starts a member and joins seed (none for the first node).
func joinCluster(mc memberConfig, seed string) (*membership, error) {
	preset := mc.preset
	if preset == nil {
		preset = memberlist.DefaultLANConfig
	}
	cfg := preset()
	cfg.Name = mc.name
	cfg.BindAddr, cfg.BindPort = mc.bind, mc.port
	cfg.AdvertiseAddr, cfg.AdvertisePort = "", 0
	cfg.SecretKey = control.DeriveKey(mc.secret, "ddprun memberlist", 32)
	cfg.GossipVerifyIncoming, cfg.GossipVerifyOutgoing = true, true
	if mc.logOut == nil {
		mc.logOut = io.Discard
	}
	cfg.Logger = log.New(mc.logOut, "memberlist: ", log.LstdFlags)
	meta, _ := json.Marshal(mc.meta)
	delegate := &metaDelegate{meta: meta}
	cfg.Delegate = delegate
	events := make(chan memberlist.NodeEvent, 256)
	cfg.Events = &memberlist.ChannelEventDelegate{Ch: events}
	ml, err := memberlist.Create(cfg)
	if err != nil {
		return nil, fmt.Errorf("launcher: memberlist on %s:%d: %w", mc.bind, mc.port, err)
	}
	m := &membership{ml: ml, events: events, meta: delegate, done: make(chan struct{}), reconnecting: map[string]bool{}}
	if seed == "" {
		return m, nil
	}
	// The seed may not be up yet: retry until mc.joinTimeout.
	deadline := time.Now().Add(mc.joinTimeout)
	for {
		_, err := ml.Join([]string{seed})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			ml.Shutdown()
			return nil, fmt.Errorf("launcher: joining %s for %v (is the first node up, and is the secret the same?): %w", seed, mc.joinTimeout, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return m, nil
}

// addr is this member's gossip address.
func (m *membership) addr() string {
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// natsServer is a member's NATS server.
type natsServer struct {
	node, url, route string
	first            bool
}

// natsServers returns the NATS servers the members of job announce, the
// first node's first.
func (m *membership) natsServers(job string) []natsServer {
	var ss []natsServer
	for _, n := range m.ml.Members() {
		var meta nodeMeta
		if json.Unmarshal(n.Meta, &meta) == nil && meta.Job == job && meta.NATS != "" {
			s := natsServer{node: n.Name, url: meta.NATS, route: meta.Route, first: meta.First}
			if s.first {
				ss = append([]natsServer{s}, ss...)
			} else {
				ss = append(ss, s)
			}
		}
	}
	return ss
}

// announce replaces this member's metadata and gossips it.
func (m *membership) announce(meta nodeMeta) error {
	b, _ := json.Marshal(meta)
	m.meta.mu.Lock()
	m.meta.meta = b
	m.meta.mu.Unlock()
	return m.ml.UpdateNode(5 * time.Second)
}

// close leaves the cluster (telling the others, for at most timeout) and
// stops the member. It may be called more than once.
func (m *membership) close(timeout time.Duration) {
	if m == nil {
		return
	}
	m.closeOnce.Do(func() { close(m.done) })
	_ = m.ml.Leave(timeout)
	_ = m.ml.Shutdown()
}

// reconnect looks for the dead member name at addr until it is alive
// again or the member closes. See Note [Partitions heal].
func (m *membership) reconnect(name, addr string) {
	m.mu.Lock()
	if m.reconnecting[name] {
		m.mu.Unlock()
		return
	}
	m.reconnecting[name] = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.reconnecting, name)
		m.mu.Unlock()
	}()
	tick := time.NewTicker(reconnectInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-tick.C:
		}
		if m.alive(name) {
			return
		}
		_, _ = m.ml.Join([]string{addr})
	}
}

// reachable reports whether name is a member that answers a ping now
// (three tries, each memberlist's probe timeout). A member that memberlist
// still lists, alive or suspected, may be behind the same cut cable as
// the coordinator and only not declared dead yet: failure detection
// declares the nodes of a partition dead one by one, seconds apart.
func (m *membership) reachable(name string) bool {
	for _, n := range m.ml.Members() {
		if n.Name != name {
			continue
		}
		addr := &net.UDPAddr{IP: n.Addr, Port: int(n.Port)}
		for range 3 {
			if _, err := m.ml.Ping(name, addr); err == nil {
				return true
			}
		}
		return false
	}
	return false
}

// alive reports whether name is a live member (alive or suspected).
func (m *membership) alive(name string) bool {
	for _, n := range m.ml.Members() {
		if n.Name == name {
			return true
		}
	}
	return false
}
