package ring

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sync/errgroup"
)

// connect opens the two links of the ring: it dials the right neighbour and
// accepts the left one, concurrently, so ranks may start in any order.
// It closes ln when done.
func (c *Comm) connect(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	defer ln.Close()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		c.send, err = c.dialRight(gctx)
		return err
	})
	g.Go(func() (err error) {
		c.recv, err = c.acceptLeft(gctx, ln)
		return err
	})
	err := g.Wait()
	if err != nil {
		closeIfSet(c.send)
		closeIfSet(c.recv)
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

// dialRight dials the right neighbour until it answers and completes the
// handshake, backing off between tries, or until ctx ends. A wrong secret
// stops it at once.
func (c *Comm) dialRight(ctx context.Context) (net.Conn, error) {
	addr := c.cfg.Peers[c.right]
	wait := c.cfg.DialBackoff
	var last error
	for try := 1; ; try++ {
		conn, err := c.dialOnce(ctx, addr)
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrAuth) {
			return nil, c.connectError(c.right, fmt.Errorf("handshake with %s: %w", addr, err))
		}
		last = err
		c.cfg.Logger.Debug("dial failed, retrying", "peer", c.right, "addr", addr, "try", try, "err", err)
		select {
		case <-ctx.Done():
			return nil, c.connectError(c.right, fmt.Errorf("dial %s: gave up after %d tries (%w): last error: %w", addr, try, context.Cause(ctx), last))
		case <-time.After(wait):
		}
		wait = min(2*wait, c.cfg.DialBackoffMax)
	}
}

func (c *Comm) dialOnce(ctx context.Context, addr string) (net.Conn, error) {
	conn, err := c.cfg.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c.setHandshakeDeadline(ctx, conn)
	if err := dialHandshake(conn, c.cfg.Secret, c.identity(c.rank)); err != nil {
		conn.Close()
		return nil, err
	}
	return c.tune(conn), nil
}

// acceptLeft accepts connections until the left neighbour completes the
// handshake. Strangers (other jobs, port scanners) are logged and dropped;
// a peer of this job with the wrong secret is fatal.
func (c *Comm) acceptLeft(ctx context.Context, ln net.Listener) (net.Conn, error) {
	var last error
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (last refused connection: %v)", context.Cause(ctx), last)
			}
			return nil, c.connectError(c.left, fmt.Errorf("accept on %s: %w", ln.Addr(), err))
		}
		c.setHandshakeDeadline(ctx, conn)
		err = acceptHandshake(conn, c.cfg.Secret, c.identity(c.left))
		if err == nil {
			return c.tune(conn), nil
		}
		conn.Close()
		if !errors.Is(err, errStranger) {
			return nil, c.connectError(c.left, fmt.Errorf("handshake with %s: %w", conn.RemoteAddr(), err))
		}
		last = fmt.Errorf("%s: %w", conn.RemoteAddr(), err)
		c.cfg.Logger.Warn("refused connection", "from", conn.RemoteAddr(), "err", err)
	}
}

func (c *Comm) setHandshakeDeadline(ctx context.Context, conn net.Conn) {
	d := time.Now().Add(c.cfg.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	conn.SetDeadline(d)
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
