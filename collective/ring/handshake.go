package ring

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Note [Handshake]: every connection carries data one way, from the dialer
// (rank r) to the acceptor (rank r+1). Before any data, both sides prove
// knowledge of the job secret without sending it:
//
//	dialer   -> hello    {version, size, dialer rank, acceptor rank, nonceD, job}
//	acceptor -> helloAck {version, size, acceptor rank, nonceA, macA}
//	dialer   -> proof    {macD}
//	acceptor -> ok
//
// macX = HMAC-SHA256(secret, label X | job | size | dialer | acceptor |
// nonceD | nonceA), with distinct labels so that a proof cannot be
// reflected. Fresh nonces on both sides prevent replay. A side that finds
// the other's MAC wrong sends a frameError with code refuseAuth, so both
// ends report ErrAuth naming the other.

const (
	protoVersion = 1
	nonceSize    = 32
	maxJobID     = 256
)

// Refusal codes carried in a frameError.
const (
	refuseAuth     = 1 // wrong secret
	refuseIdentity = 2 // wrong job, world size or rank
	refuseProtocol = 3 // unexpected frame
)

var (
	// ErrAuth means a peer could not prove knowledge of the job secret, or
	// refused this rank's proof.
	ErrAuth = errors.New("ring: authentication failed (do the ranks share the job secret?)")
	// ErrRefused means a peer refused the connection for a reason other
	// than the secret: another job, world size or rank.
	ErrRefused = errors.New("ring: connection refused by peer")
)

// identity is what each side claims in the handshake.
type identity struct {
	job      string
	size     int
	dialer   int
	acceptor int
}

type hello struct {
	version, size, rank, target uint32
	nonce                       [nonceSize]byte
	job                         string
}

func (h *hello) marshal() []byte {
	b := make([]byte, 16, 16+nonceSize+len(h.job))
	binary.BigEndian.PutUint32(b[0:], h.version)
	binary.BigEndian.PutUint32(b[4:], h.size)
	binary.BigEndian.PutUint32(b[8:], h.rank)
	binary.BigEndian.PutUint32(b[12:], h.target)
	b = append(b, h.nonce[:]...)
	return append(b, h.job...)
}

func unmarshalHello(b []byte) (hello, error) {
	if len(b) < 16+nonceSize || len(b) > 16+nonceSize+maxJobID {
		return hello{}, fmt.Errorf("%w: hello of %d bytes", errFrame, len(b))
	}
	h := hello{
		version: binary.BigEndian.Uint32(b[0:]), size: binary.BigEndian.Uint32(b[4:]),
		rank: binary.BigEndian.Uint32(b[8:]), target: binary.BigEndian.Uint32(b[12:]),
		job: string(b[16+nonceSize:]),
	}
	copy(h.nonce[:], b[16:])
	return h, nil
}

// helloAck is a hello (target unused) followed by the acceptor's MAC.
func unmarshalHelloAck(b []byte) (hello, []byte, error) {
	if len(b) < sha256.Size {
		return hello{}, nil, fmt.Errorf("%w: hello-ack of %d bytes", errFrame, len(b))
	}
	h, err := unmarshalHello(b[:len(b)-sha256.Size])
	return h, b[len(b)-sha256.Size:], err
}

func newNonce() [nonceSize]byte {
	var n [nonceSize]byte
	rand.Read(n[:]) // never fails (crypto/rand panics instead)
	return n
}

func computeMAC(secret []byte, label string, id identity, nonceD, nonceA [nonceSize]byte) []byte {
	m := hmac.New(sha256.New, secret)
	var buf [12]byte
	binary.BigEndian.PutUint32(buf[0:], uint32(id.size))
	binary.BigEndian.PutUint32(buf[4:], uint32(id.dialer))
	binary.BigEndian.PutUint32(buf[8:], uint32(id.acceptor))
	io.WriteString(m, label)
	binary.Write(m, binary.BigEndian, uint32(len(id.job)))
	io.WriteString(m, id.job)
	m.Write(buf[:])
	m.Write(nonceD[:])
	m.Write(nonceA[:])
	return m.Sum(nil)
}

func refuse(w io.Writer, code byte, msg string) {
	writeFrame(w, frameError, append([]byte{code}, msg...)) // best effort: we close next
}

// refusal turns a received frameError into an error.
func refusal(payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("%w: no reason given", ErrRefused)
	}
	if payload[0] == refuseAuth {
		return fmt.Errorf("%w: peer says: %q", ErrAuth, payload[1:])
	}
	return fmt.Errorf("%w: %q", ErrRefused, payload[1:])
}

// dialHandshake runs the dialer's side on rw. See Note [Handshake].
func dialHandshake(rw io.ReadWriter, secret []byte, id identity) error {
	h := hello{version: protoVersion, size: uint32(id.size), rank: uint32(id.dialer),
		target: uint32(id.acceptor), nonce: newNonce(), job: id.job}
	if err := writeFrame(rw, frameHello, h.marshal()); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	ack, err := expectFrame(rw, frameHelloAck)
	if err != nil {
		return err
	}
	h2, macA, err := unmarshalHelloAck(ack)
	if err != nil {
		return err
	}
	if h2.version != protoVersion || h2.size != uint32(id.size) || h2.rank != uint32(id.acceptor) || h2.job != id.job {
		refuse(rw, refuseIdentity, "identity mismatch")
		return fmt.Errorf("%w: peer claims job %q rank %d of %d (protocol %d), want job %q rank %d of %d",
			ErrRefused, h2.job, h2.rank, h2.size, h2.version, id.job, id.acceptor, id.size)
	}
	if !hmac.Equal(macA, computeMAC(secret, "ddprun-ring acceptor", id, h.nonce, h2.nonce)) {
		refuse(rw, refuseAuth, fmt.Sprintf("rank %d could not verify rank %d's proof of the job secret", id.dialer, id.acceptor))
		return fmt.Errorf("%w: the peer's proof of the secret is wrong", ErrAuth)
	}
	if err := writeFrame(rw, frameProof, computeMAC(secret, "ddprun-ring dialer", id, h.nonce, h2.nonce)); err != nil {
		return fmt.Errorf("send proof: %w", err)
	}
	_, err = expectFrame(rw, frameOK)
	return err
}

// expectFrame reads a frame of type want, turning a frameError into the
// peer's refusal.
func expectFrame(r io.Reader, want byte) ([]byte, error) {
	typ, payload, err := readFrame(r, maxFrame)
	switch {
	case err != nil:
		return nil, fmt.Errorf("handshake: %w", err)
	case typ == frameError:
		return nil, refusal(payload)
	case typ != want:
		return nil, fmt.Errorf("%w: handshake frame type %d, want %d", errFrame, typ, want)
	}
	return payload, nil
}

// errStranger marks connections that are not from this job's expected
// peer: the acceptor drops them and keeps waiting.
var errStranger = errors.New("not the expected peer")

// acceptHandshake runs the acceptor's side on rw, expecting id.dialer.
// Errors wrapping errStranger mean "ignore this connection"; others are
// fatal (a peer of this job with the wrong secret). See Note [Handshake].
func acceptHandshake(rw io.ReadWriter, secret []byte, id identity) error {
	typ, payload, err := readFrame(rw, maxFrame)
	if err != nil || typ != frameHello {
		refuse(rw, refuseProtocol, "expected hello")
		return fmt.Errorf("%w: bad hello (type %d): %v", errStranger, typ, err)
	}
	h, err := unmarshalHello(payload)
	if err != nil {
		refuse(rw, refuseProtocol, "malformed hello")
		return fmt.Errorf("%w: %w", errStranger, err)
	}
	if h.version != protoVersion || h.job != id.job || h.size != uint32(id.size) ||
		h.rank != uint32(id.dialer) || h.target != uint32(id.acceptor) {
		msg := fmt.Sprintf("rank %d of job %q (size %d, protocol %d) expects rank %d; got job %q rank %d of %d for rank %d (protocol %d)",
			id.acceptor, id.job, id.size, protoVersion, id.dialer, h.job, h.rank, h.size, h.target, h.version)
		refuse(rw, refuseIdentity, msg)
		return fmt.Errorf("%w: %s", errStranger, msg)
	}
	nonceA := newNonce()
	ack := hello{version: protoVersion, size: uint32(id.size), rank: uint32(id.acceptor), nonce: nonceA, job: id.job}
	if err := writeFrame(rw, frameHelloAck, append(ack.marshal(), computeMAC(secret, "ddprun-ring acceptor", id, h.nonce, nonceA)...)); err != nil {
		return fmt.Errorf("%w: send hello-ack: %w", errStranger, err)
	}
	proof, err := expectFrame(rw, frameProof)
	if errors.Is(err, ErrAuth) {
		return err // the dialer refused our proof: a peer of this job with another secret
	} else if err != nil {
		return fmt.Errorf("%w: %w", errStranger, err)
	}
	if !hmac.Equal(proof, computeMAC(secret, "ddprun-ring dialer", id, h.nonce, nonceA)) {
		refuse(rw, refuseAuth, fmt.Sprintf("rank %d could not verify rank %d's proof of the job secret", id.acceptor, id.dialer))
		return fmt.Errorf("%w: the peer's proof of the secret is wrong", ErrAuth)
	}
	return writeFrame(rw, frameOK, nil)
}
