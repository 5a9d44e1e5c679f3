package ring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Note [Strangers]: a ring port is reachable by more than the job: port
// scanners, a previous run of the job, another job, an attacker. None of
// them may stop the ring from forming, so during connect:
//
//   - every failed handshake, on either side, is a stranger's: it is
//     logged, recorded and dropped, and the rank keeps accepting (or
//     dialling) until cfg.ConnectTimeout. That includes a wrong proof of
//     the secret and a refusal frame saying ours was wrong: both are
//     unauthenticated and anyone can send them. The one exception is an
//     authenticated peer with other options (Note [Handshake]).
//   - each accepted connection's handshake runs in its own goroutine under
//     cfg.HandshakeTimeout; the first to complete wins and the others are
//     closed. A silent connection holds up nothing but its own goroutine,
//     and at most maxHandshakes run at once (more are closed unread).
//   - when connect times out, the error says what was refused: with
//     mismatched secrets every rank's handshakes fail authentication, so
//     the error wraps ErrAuth and asks whether the ranks share the secret,
//     rather than being a bare timeout. Mismatched secrets thus cost a
//     connect timeout rather than failing at once; that is the price of a
//     stranger not being able to abort the job.

// maxHandshakes bounds the handshakes an acceptor runs at once.
const maxHandshakes = 64

// errOtherSide is the cause given to one side of connect when the other
// failed first; such errors are not reported.
var errOtherSide = errors.New("the other side of connect failed")

// link is an authenticated connection and its data key.
type link struct {
	conn net.Conn
	key  []byte
}

// connect opens the two links of the ring: it dials the right neighbour and
// accepts the left one, concurrently, so ranks may start in any order.
// It closes ln when done. If both sides fail, the error joins both.
func (c *Comm) connect(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	defer ln.Close()
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	var right, left link
	var errD, errA error
	var wg sync.WaitGroup
	wg.Go(func() {
		if right, errD = c.dialRight(ctx); errD != nil {
			fail(errOtherSide)
		}
	})
	wg.Go(func() {
		if left, errA = c.acceptLeft(ctx, ln); errA != nil {
			fail(errOtherSide)
		}
	})
	wg.Wait()
	if errD != nil || errA != nil {
		closeIfSet(right.conn)
		closeIfSet(left.conn)
		return errors.Join(firstFailure(errD), firstFailure(errA))
	}
	c.send, c.recv = right.conn, left.conn
	if c.cfg.Integrity {
		c.sendMAC, c.recvMAC = newLinkMAC(right.key), newLinkMAC(left.key)
	}
	return nil
}

// firstFailure drops an error caused by the other side's failure.
func firstFailure(err error) error {
	if errors.Is(err, errOtherSide) {
		return nil
	}
	return err
}

func closeIfSet(c net.Conn) {
	if c != nil {
		c.Close()
	}
}

func (c *Comm) identity(dialer int) identity {
	return identity{job: c.cfg.JobID, size: c.size, dialer: dialer, acceptor: (dialer + 1) % c.size}
}

func (c *Comm) flags() uint32 {
	if c.cfg.Integrity {
		return flagIntegrity
	}
	return 0
}

// dialRight dials the right neighbour until it answers and completes the
// handshake, backing off between tries, or until ctx ends. Failed
// handshakes are retried too. See Note [Strangers].
func (c *Comm) dialRight(ctx context.Context) (link, error) {
	addr := c.cfg.Peers[c.right]
	wait := c.cfg.DialBackoff
	var seen refusals
	for try := 1; ; try++ {
		l, err := c.dialOnce(ctx, addr)
		switch {
		case err == nil:
			return l, nil
		case errors.Is(err, errOptions):
			return link{}, c.connectError(c.right, fmt.Errorf("handshake with %s: %w", addr, err))
		case ctx.Err() == nil && errors.Is(err, ErrAuth):
			seen.add("to "+addr, err)
			c.cfg.Logger.Warn("handshake failed authentication, retrying", "peer", c.right, "addr", addr, "try", try, "err", err)
		case ctx.Err() == nil:
			seen.add("to "+addr, err)
			c.cfg.Logger.Debug("dial failed, retrying", "peer", c.right, "addr", addr, "try", try, "err", err)
		}
		select {
		case <-ctx.Done():
			err := fmt.Errorf("dial %s: gave up after %d tries: %w", addr, try, context.Cause(ctx))
			return link{}, c.connectError(c.right, seen.wrap(err))
		case <-time.After(wait):
		}
		wait = min(2*wait, c.cfg.DialBackoffMax)
	}
}

func (c *Comm) dialOnce(ctx context.Context, addr string) (link, error) {
	conn, err := c.cfg.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return link{}, err
	}
	return c.handshake(ctx, conn, func(rw io.ReadWriter) ([]byte, error) {
		return dialHandshake(rw, c.cfg.Secret, c.identity(c.rank), c.flags())
	})
}

// acceptLeft accepts connections until one completes the handshake as the
// left neighbour, running each handshake in its own goroutine. See Note
// [Strangers].
func (c *Comm) acceptLeft(ctx context.Context, ln net.Listener) (link, error) {
	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var (
		wg    sync.WaitGroup
		seen  refusals
		won   = make(chan link, 1)
		fatal = make(chan error, 1)
		slots = make(chan struct{}, maxHandshakes)
	)
	var acceptErr error
	for {
		conn, err := ln.Accept()
		if err != nil {
			acceptErr = err
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			conn.Close()
			seen.add("from "+hostOf(conn.RemoteAddr()), fmt.Errorf("dropped: %d handshakes in progress", maxHandshakes))
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if c.acceptOne(ctx, conn, &seen, won, fatal) {
				cancel() // closes ln and the other handshakes' connections
			}
		})
	}
	cancel()
	wg.Wait()
	select {
	case l := <-won:
		return l, nil
	default:
	}
	select {
	case err := <-fatal:
		return link{}, c.connectError(c.left, err)
	default:
	}
	if outer.Err() != nil {
		acceptErr = context.Cause(outer)
	}
	return link{}, c.connectError(c.left, seen.wrap(fmt.Errorf("accept on %s: %w", ln.Addr(), acceptErr)))
}

// acceptOne runs one accepted connection's handshake and reports the
// outcome: a link on won (if none won yet), errOptions on fatal, anything
// else to seen. It returns whether the outcome ends acceptLeft.
func (c *Comm) acceptOne(ctx context.Context, conn net.Conn, seen *refusals, won chan link, fatal chan error) bool {
	from := conn.RemoteAddr()
	l, err := c.handshake(ctx, conn, func(rw io.ReadWriter) ([]byte, error) {
		return acceptHandshake(rw, c.cfg.Secret, c.identity(c.left), c.flags())
	})
	switch {
	case err == nil:
		select {
		case won <- l:
		default:
			l.conn.Close() // another connection won first
		}
		return true
	case errors.Is(err, errOptions):
		select {
		case fatal <- fmt.Errorf("handshake with %s: %w", from, err):
		default:
		}
		return true
	case ctx.Err() == nil:
		seen.add("from "+hostOf(from), err)
		c.cfg.Logger.Warn("refused connection", "peer", c.left, "from", from, "err", err)
	}
	return false
}

// handshake runs hs on conn within cfg.HandshakeTimeout, closing conn
// early if ctx ends. On failure conn is closed.
func (c *Comm) handshake(ctx context.Context, conn net.Conn, hs func(io.ReadWriter) ([]byte, error)) (link, error) {
	conn.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	key, err := hs(conn)
	if !stop() && err == nil {
		err = context.Cause(ctx) // conn is closed
	}
	if err != nil {
		conn.Close()
		return link{}, err
	}
	return link{conn: c.tune(conn), key: key}, nil
}

// tune clears the handshake deadline and, for TCP, sets the socket buffers
// and keepalive (a dead peer host is noticed even while a call waits).
func (c *Comm) tune(conn net.Conn) net.Conn {
	conn.SetDeadline(time.Time{})
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	tc.SetNoDelay(true)
	if n := c.cfg.SocketBuffer; n > 0 {
		tc.SetReadBuffer(n)
		tc.SetWriteBuffer(n)
	}
	if ka := c.cfg.KeepAlive; ka > 0 {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: ka, Interval: ka, Count: 3})
	}
	return conn
}
