package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ddprun/ddprun/internal/rankenv"
)

// ErrNoControl is returned by Dial when the identity names no control plane.
var ErrNoControl = errors.New("control: no control plane (DDPRUN_CONTROL is not set)")

// Dial connects a rank to its launcher's control plane: the NATS server at
// id.Control, logged in with the key derived from id.Secret (Note [NATS
// login]). The
// Reporter publishes heartbeats on HeartbeatSubject(id.JobID, id.Rank) and
// closes StopRequested when a message arrives on StopSubject(id.JobID).
// Dial gives up when ctx ends (or after 10 s without a deadline).
func Dial(ctx context.Context, id rankenv.Identity) (Reporter, error) {
	if id.Control == "" {
		return nil, ErrNoControl
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	login, err := NATSLogin(id.Secret)
	if err != nil {
		return nil, fmt.Errorf("control: rank %d: %w", id.Rank, err)
	}
	nc, err := nats.Connect(id.Control,
		nats.Name(fmt.Sprintf("ddprun rank %d", id.Rank)),
		nats.DontRandomize(), // the launcher lists its own node's server first
		login,
		nats.Timeout(timeout),
		nats.MaxReconnects(30),
		nats.ReconnectWait(time.Second),
		nats.NoCallbacksAfterClientClose(),
	)
	if err != nil {
		return nil, fmt.Errorf("control: rank %d: connecting to %s: %w", id.Rank, id.Control, err)
	}
	r := &natsReporter{nc: nc, job: id.JobID, subject: HeartbeatSubject(id.JobID, id.Rank), stop: make(chan struct{})}
	if _, err := nc.Subscribe(StopSubject(id.JobID), func(*nats.Msg) { r.requestStop() }); err != nil {
		nc.Close()
		return nil, fmt.Errorf("control: rank %d: subscribing to stop requests: %w", id.Rank, err)
	}
	var rep Reporter = r
	if id.Recovery == rankenv.RecoverInPlace {
		if err := r.subscribeWorlds(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("control: rank %d: subscribing to worlds: %w", id.Rank, err)
		}
		rep = recoveringReporter{r}
	}
	if err := nc.FlushTimeout(timeout); err != nil {
		nc.Close()
		return nil, fmt.Errorf("control: rank %d: %w", id.Rank, err)
	}
	return rep, nil
}

type natsReporter struct {
	nc       *nats.Conn
	job      string
	subject  string
	stop     chan struct{}
	stopOnce sync.Once
	worlds   chan World
}

// recoveringReporter is a natsReporter that implements Recoverer.
type recoveringReporter struct{ *natsReporter }

func (r *natsReporter) subscribeWorlds() error {
	r.worlds = make(chan World, 16)
	_, err := r.nc.Subscribe(WorldSubject(r.job), func(m *nats.Msg) {
		var w World
		if json.Unmarshal(m.Data, &w) != nil || !w.InPlace {
			return
		}
		select {
		case r.worlds <- w:
		default: // the rank is far behind: it takes the newest anyway
		}
	})
	return err
}

func (r recoveringReporter) Worlds() <-chan World { return r.worlds }

// Recovered publishes rec and flushes it (for at most a second).
func (r recoveringReporter) Recovered(rec Recovered) {
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	_ = r.nc.Publish(RecoveredSubject(r.job), b)
	_ = r.nc.FlushTimeout(time.Second)
}

func (r *natsReporter) requestStop() { r.stopOnce.Do(func() { close(r.stop) }) }

// Heartbeat publishes h; nats.Conn.Publish only appends to a buffer that a
// background goroutine flushes, so it does not block on the network.
func (r *natsReporter) Heartbeat(h Heartbeat) {
	if h.Time.IsZero() {
		h.Time = time.Now()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return
	}
	_ = r.nc.Publish(r.subject, b) // dropped when the connection is down
}

func (r *natsReporter) StopRequested() <-chan struct{} { return r.stop }

// Close flushes pending heartbeats (for at most a second) and disconnects.
// It may be called more than once.
func (r *natsReporter) Close() error {
	if r.nc.IsClosed() {
		return nil
	}
	_ = r.nc.FlushTimeout(time.Second)
	r.nc.Close()
	return nil
}
