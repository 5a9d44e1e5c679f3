package ring

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
)

// refusals records the handshakes that failed on one side of connect, so
// that the error at the connect timeout says what happened rather than
// only "deadline exceeded". See Note [Strangers].
type refusals struct {
	mu        sync.Mutex
	auth      int      // handshakes that failed authentication
	authPeer  []string // where those came from ("from HOST", "to ADDR")
	lastAuth  error
	other     int // handshakes that failed otherwise
	lastOther error
}

// maxPeers bounds the peers an error lists.
const maxPeers = 4

// add records a failed handshake with peer ("from HOST" or "to ADDR").
func (r *refusals) add(peer string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(err, ErrAuth) {
		r.other++
		r.lastOther = fmt.Errorf("%s: %w", peer, err)
		return
	}
	r.auth++
	r.lastAuth = errors.New(strings.TrimPrefix(err.Error(), ErrAuth.Error()+": "))
	if len(r.authPeer) < maxPeers && !slices.Contains(r.authPeer, peer) {
		r.authPeer = append(r.authPeer, peer)
	}
}

// wrap adds what was refused to err, the reason connect gave up. If any
// handshake failed authentication, the result wraps ErrAuth; otherwise it
// wraps the last failure (ErrRefused if the peer refused).
func (r *refusals) wrap(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.auth == 0 && r.other == 0 {
		return err
	}
	if r.auth == 0 {
		return fmt.Errorf("%w; %d connections failed, last %w", err, r.other, r.lastOther)
	}
	var others string
	if r.other > 0 {
		others = fmt.Sprintf("; %d other connections failed, last %v", r.other, r.lastOther)
	}
	return fmt.Errorf("%w; %w: %d connections %s failed authentication (last: %v); do the ranks share the job secret?%s",
		err, ErrAuth, r.auth, strings.Join(r.authPeer, ", "), r.lastAuth, others)
}

// hostOf names where a connection came from: the IP for TCP (the port
// changes with every connection), the whole address otherwise.
func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	return a.String()
}
