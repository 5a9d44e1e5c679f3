package ring

import (
	"crypto/sha256"
	"fmt"
	"io"
)

// Hooks for the external tests, which can use ringtest (an internal test
// cannot: ringtest imports ring).

// Impostor plays a dialer that claims to be rank dialer of job but lacks
// the secret: it sends a hello, waits for the hello-ack and answers it
// with a frame of type typ carrying payload instead of a valid proof.
func Impostor(rw io.ReadWriter, job string, size, dialer, acceptor int, typ byte, payload []byte) error {
	h := hello{version: protoVersion, size: uint32(size), rank: uint32(dialer), target: uint32(acceptor), nonce: newNonce(), job: job}
	if err := writeFrame(rw, frameHello, h.marshal()); err != nil {
		return err
	}
	if _, err := expectFrame(rw, frameHelloAck); err != nil {
		return fmt.Errorf("impostor: %w", err)
	}
	return writeFrame(rw, typ, payload)
}

// FakeAcceptor plays an acceptor that lacks the secret: it reads a hello
// and answers with a hello-ack echoing its identity but carrying a wrong
// MAC, or, if forgeRefusal, with a refusal saying the dialer's secret is
// wrong.
func FakeAcceptor(rw io.ReadWriter, forgeRefusal bool) error {
	typ, payload, err := readFrame(rw, maxFrame)
	if err != nil || typ != frameHello {
		return fmt.Errorf("fake acceptor: frame %d: %v", typ, err)
	}
	h, err := unmarshalHello(payload)
	if err != nil {
		return err
	}
	if forgeRefusal {
		refuse(rw, refuseAuth, "forged refusal")
		return nil
	}
	ack := hello{version: h.version, size: h.size, rank: h.target, flags: h.flags, nonce: newNonce(), job: h.job}
	mac := newNonce() // random, so wrong
	return writeFrame(rw, frameHelloAck, append(ack.marshal(), mac[:sha256.Size]...))
}

// Frame types and refusal codes, for forging frames.
const (
	FrameProof = frameProof
	FrameError = frameError
	RefuseAuth = refuseAuth
)

// ChunkBytesOf is c's pipelining unit.
func ChunkBytesOf(c *Comm) int { return c.cfg.ChunkBytes }
