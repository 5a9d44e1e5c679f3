package ring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/ddprun/ddprun/collective"
)

// A pipe is one call's traffic on this rank: nSend items to the right
// neighbour, written by a sender goroutine, and nRecv items from the left,
// read by the calling goroutine. Send item j may depend on received data:
// it waits until receive items 0..j-lag are done. Sending, receiving and
// reducing therefore overlap chunk by chunk, and a receiver never waits for
// its own sender, so the ring cannot deadlock on full socket buffers.
type pipe struct {
	sendHdr, recvHdr bool // whether the call uses each link at all
	nSend, nRecv     int
	lag              int
	// Receive items from fence on wait until fenceSent send items are
	// written. See Note [Receive fence].
	fence, fenceSent int
	sendItem         func(j int) []byte    // bytes of send item j
	recvItem         func(j int) []byte    // where receive item j goes
	received         func(j int, b []byte) // after receive item j is read
}

var errStopped = errors.New("stopped")

// Note [Receive fence]: in the all-gather phase of an all-reduce, the
// receiver writes final values straight into the buffer regions that the
// sender wrote to the socket during the reduce-scatter. That is safe
// without the fence (the final value of a region cannot arrive before this
// rank's contribution to it has left), but the race detector cannot see
// causality through sockets, and the fence costs nothing: by then the
// sender is long done with those writes.

// run moves a pipe's traffic, announcing the call with h on both links.
func (c *Comm) run(ctx context.Context, h header, p *pipe) (err error) {
	if ctx.Err() != nil {
		return c.fail(c.opError(h, -1, context.Cause(ctx)))
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.fail(c.opError(h, -1, context.Cause(ctx)))
		close(fired)
	})
	defer func() {
		if !stop() {
			<-fired // the Comm is poisoned: report it even if the I/O finished
			err = c.fail(nil)
		}
	}()
	c.progress.Store(0)
	c.sent.Store(0)
	c.stopSend.Store(false)
	c.senderDone.Store(!p.sendHdr)
	drain(c.notify)
	drain(c.sentNotify)
	if p.sendHdr {
		c.wg.Add(1)
		go c.sender(ctx, h, p)
	}
	err = c.receive(ctx, h, p)
	if err != nil {
		c.stopSend.Store(true)
		wake(c.notify)
	}
	if p.sendHdr {
		if serr := <-c.sendDone; err == nil {
			err = serr
		}
	}
	return err
}

func (c *Comm) opError(h header, peer int, err error) *collective.OpError {
	return &collective.OpError{Rank: c.rank, Op: h.kind.String(), Seq: h.seq, Peer: peer, Err: err}
}

func drain(ch chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Comm) sender(ctx context.Context, h header, p *pipe) {
	defer c.wg.Done()
	err := c.sendAll(h, p)
	if err != nil && !errors.Is(err, errStopped) {
		// Before senderDone: a receiver waiting at the fence must find
		// this failure, not report "sender stopped" as the first.
		err = c.fail(c.opError(h, c.right, fmt.Errorf("send to rank %d: %w", c.right, c.classify(ctx, err))))
	}
	c.senderDone.Store(true)
	wake(c.sentNotify)
	c.sendDone <- err
}

func (c *Comm) sendAll(h header, p *pipe) error {
	h.encode(&c.hdrOut)
	if err := c.write(c.hdrOut[:]); err != nil {
		return err
	}
	for j := range p.nSend {
		if err := c.waitProgress(j - p.lag + 1); err != nil {
			return err
		}
		if err := c.write(p.sendItem(j)); err != nil {
			return err
		}
		c.sent.Store(int64(j + 1))
		wake(c.sentNotify)
	}
	return nil
}

// waitSent waits until need send items are written; false if the sender
// stopped first.
func (c *Comm) waitSent(need int) bool {
	for c.sent.Load() < int64(need) {
		if c.senderDone.Load() {
			return c.sent.Load() >= int64(need)
		}
		<-c.sentNotify
	}
	return true
}

// waitProgress waits until need receive items are done.
func (c *Comm) waitProgress(need int) error {
	for c.progress.Load() < int64(need) {
		if c.stopSend.Load() {
			return errStopped
		}
		<-c.notify
	}
	return nil
}

func (c *Comm) receive(ctx context.Context, h header, p *pipe) error {
	if !p.recvHdr {
		return nil
	}
	if err := c.readHeader(h); err != nil {
		return c.fail(c.opError(h, c.left, fmt.Errorf("receive from rank %d: %w", c.left, c.classify(ctx, err))))
	}
	for j := range p.nRecv {
		if j == p.fence && p.fenceSent > 0 && !c.waitSent(p.fenceSent) {
			return c.fail(c.opError(h, c.right, errors.New("sender stopped")))
		}
		b := p.recvItem(j)
		if err := c.read(b); err != nil {
			return c.fail(c.opError(h, c.left, fmt.Errorf("receive from rank %d: %w", c.left, c.classify(ctx, err))))
		}
		p.received(j, b)
		c.progress.Store(int64(j + 1))
		wake(c.notify)
	}
	return nil
}

// readHeader reads the left neighbour's announcement of its call and
// checks that it is the call this rank is making.
func (c *Comm) readHeader(want header) error {
	if err := c.read(c.hdrIn[:]); err != nil {
		return err
	}
	got, err := decodeHeader(c.hdrIn[:])
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: rank %d called %v; rank %d called %v", collective.ErrMismatch, c.left, got, c.rank, want)
	}
	return nil
}

// read receives b and, with Config.Integrity, checks its tag. See Note
// [Integrity].
func (c *Comm) read(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.recv.SetReadDeadline(c.deadline())
	if _, err := io.ReadFull(c.recv, b); err != nil {
		return err
	}
	if c.recvMAC == nil {
		return nil
	}
	if _, err := io.ReadFull(c.recv, c.recvMAC.tagBuf()); err != nil {
		return err
	}
	if err := c.recvMAC.check(b); err != nil {
		return fmt.Errorf("%w from rank %d", err, c.left)
	}
	return nil
}

// write sends b, followed with Config.Integrity by its tag; empty chunks
// (count < ranks) are not sent at all.
func (c *Comm) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.send.SetWriteDeadline(c.deadline())
	if c.sendMAC == nil {
		_, err := c.send.Write(b)
		return err
	}
	bufs := net.Buffers{b, c.sendMAC.sum(b)}
	_, err := bufs.WriteTo(c.send) // one writev on TCP
	return err
}
