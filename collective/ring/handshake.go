package ring

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ddprun/ddprun/collective"
)

// Note [Handshake]: every connection carries data one way, from the dialer
// (rank r) to the acceptor (rank r+1). Before any data, both sides prove
// knowledge of the job secret without sending it:
//
//	dialer   -> hello    {version, size, dialer rank, acceptor rank, flagsD, nonceD, job}
//	acceptor -> helloAck {version, size, acceptor rank, flagsA, nonceA, job, macA}
//	dialer   -> proof    {macD}
//	acceptor -> ok
//
// macX = HMAC-SHA256(secret, label X | job | size | dialer | acceptor |
// flagsD | flagsA | nonceD | nonceA), with distinct labels so that a proof
// cannot be reflected. Fresh nonces on both sides prevent replay: a
// recorded dialer transcript fails against the acceptor's new nonceA. The
// flags (Config.Integrity) are covered by both MACs, so once a side has
// checked the other's MAC it knows the other's options for certain; ranks
// that disagree then fail at once with collective.ErrInvalid naming the
// option. That is the only failure that ends a connect early: only a party
// that knows the secret can cause it.
//
// Every other failure is a stranger's (see Note [Strangers] in
// connect.go): anyone who can reach a port can claim any identity, send a
// wrong proof or forge a refusal frame, so none of these may abort the
// job. Refusals are generic ("identity mismatch", "authentication
// failed") and tell an unauthenticated party nothing about the job: no
// job id, size or ranks. The helloAck echoes only what the hello claimed.
// What was refused, and why, goes to this rank's log and, if the connect
// times out, into its error; a rank whose handshakes failed authentication
// reports ErrAuth then, since mismatched secrets are the likely cause.
//
// What the handshake does not hide: the dialer's hello names the job and
// ranks to whoever answers at the peer's address, and whether a hello's
// identity matched is visible (a helloAck or a refusal). Job ids are not
// secrets. After the handshake the data are unauthenticated unless
// Config.Integrity is set (see Note [Integrity] in integrity.go).

const (
	protoVersion = 2
	nonceSize    = 32
	maxJobID     = 256
	helloFixed   = 20 // version, size, rank, target, flags
)

// Hello flags: options both ends of a link must agree on.
const flagIntegrity = 1

// Refusal codes carried in a frameError.
const (
	refuseAuth     = 1 // wrong secret
	refuseIdentity = 2 // wrong job, world size or rank
	refuseProtocol = 3 // unexpected frame
	refuseOptions  = 4 // an authenticated peer with other options
)

// MAC and key labels; none is a prefix of another.
const (
	labelAcceptor = "ddprun-ring acceptor"
	labelDialer   = "ddprun-ring dialer"
	labelDataKey  = "ddprun-ring data key"
)

var (
	// ErrAuth means handshakes failed because a party could not prove
	// knowledge of the job secret, or refused this rank's proof. New
	// reports it when the connect times out after such failures.
	ErrAuth = errors.New("ring: authentication failed")
	// ErrRefused means a peer refused the connection for a reason other
	// than the secret: another job, world size, rank or protocol.
	ErrRefused = errors.New("ring: connection refused by peer")

	// errOptions marks the one fatal handshake failure: an authenticated
	// peer with other options.
	errOptions = fmt.Errorf("%w: ranks disagree on ring options", collective.ErrInvalid)
	// errIdentity marks a hello from another job, world size, rank or
	// protocol version.
	errIdentity = errors.New("another identity")
)

// identity is what each side claims in the handshake.
type identity struct {
	job      string
	size     int
	dialer   int
	acceptor int
}

func (id identity) String() string {
	return fmt.Sprintf("job %q rank %d of %d for rank %d (protocol %d)", id.job, id.dialer, id.size, id.acceptor, protoVersion)
}

type hello struct {
	version, size, rank, target, flags uint32
	nonce                              [nonceSize]byte
	job                                string
}

func (h *hello) marshal() []byte {
	b := make([]byte, helloFixed, helloFixed+nonceSize+len(h.job)+sha256.Size)
	binary.BigEndian.PutUint32(b[0:], h.version)
	binary.BigEndian.PutUint32(b[4:], h.size)
	binary.BigEndian.PutUint32(b[8:], h.rank)
	binary.BigEndian.PutUint32(b[12:], h.target)
	binary.BigEndian.PutUint32(b[16:], h.flags)
	b = append(b, h.nonce[:]...)
	return append(b, h.job...)
}

func unmarshalHello(b []byte) (hello, error) {
	if len(b) < helloFixed+nonceSize || len(b) > helloFixed+nonceSize+maxJobID {
		return hello{}, fmt.Errorf("%w: hello of %d bytes", errFrame, len(b))
	}
	h := hello{
		version: binary.BigEndian.Uint32(b[0:]), size: binary.BigEndian.Uint32(b[4:]),
		rank: binary.BigEndian.Uint32(b[8:]), target: binary.BigEndian.Uint32(b[12:]),
		flags: binary.BigEndian.Uint32(b[16:]), job: string(b[helloFixed+nonceSize:]),
	}
	copy(h.nonce[:], b[helloFixed:])
	return h, nil
}

// String describes the identity a hello claims, for this rank's own logs
// and errors (never for a refusal).
func (h *hello) String() string {
	return fmt.Sprintf("job %q rank %d of %d for rank %d (protocol %d)", h.job, h.rank, h.size, h.target, h.version)
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

// session is what one handshake's MACs and data key are computed over.
type session struct {
	id             identity
	flagsD, flagsA uint32
	nonceD, nonceA [nonceSize]byte
}

func (s *session) mac(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	var buf [20]byte
	binary.BigEndian.PutUint32(buf[0:], uint32(s.id.size))
	binary.BigEndian.PutUint32(buf[4:], uint32(s.id.dialer))
	binary.BigEndian.PutUint32(buf[8:], uint32(s.id.acceptor))
	binary.BigEndian.PutUint32(buf[12:], s.flagsD)
	binary.BigEndian.PutUint32(buf[16:], s.flagsA)
	io.WriteString(m, label)
	binary.Write(m, binary.BigEndian, uint32(len(s.id.job)))
	io.WriteString(m, s.id.job)
	m.Write(buf[:])
	m.Write(s.nonceD[:])
	m.Write(s.nonceA[:])
	return m.Sum(nil)
}

// dataKey is the link's key for Note [Integrity]: fresh per connection.
func (s *session) dataKey(secret []byte) []byte { return s.mac(secret, labelDataKey) }

// checkOptions fails if the authenticated peer's options differ.
func (s *session) checkOptions() error {
	if s.flagsD == s.flagsA {
		return nil
	}
	return fmt.Errorf("%w: rank %d has %s, rank %d has %s",
		errOptions, s.id.dialer, describeFlags(s.flagsD), s.id.acceptor, describeFlags(s.flagsA))
}

func describeFlags(f uint32) string {
	if f&flagIntegrity != 0 {
		return "Integrity on"
	}
	return "Integrity off"
}

// refuse tells the other side, best effort, that the handshake failed;
// msg must not describe the job unless the other side is authenticated.
func refuse(w io.Writer, code byte, msg string) {
	writeFrame(w, frameError, append([]byte{code}, msg...)) // best effort: we close next
}

// refusal turns a received frameError into an error. Its content is
// unauthenticated.
func refusal(payload []byte) error {
	if len(payload) == 0 {
		return fmt.Errorf("%w: no reason given", ErrRefused)
	}
	if payload[0] == refuseAuth {
		return fmt.Errorf("%w: peer says: %q", ErrAuth, payload[1:])
	}
	return fmt.Errorf("%w: %q", ErrRefused, payload[1:])
}

// dialHandshake runs the dialer's side on rw and returns the data key.
// Only an error wrapping errOptions comes from an authenticated peer. See
// Note [Handshake].
func dialHandshake(rw io.ReadWriter, secret []byte, id identity, flags uint32) ([]byte, error) {
	h := hello{version: protoVersion, size: uint32(id.size), rank: uint32(id.dialer),
		target: uint32(id.acceptor), flags: flags, nonce: newNonce(), job: id.job}
	if err := writeFrame(rw, frameHello, h.marshal()); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	ack, err := expectFrame(rw, frameHelloAck)
	if err != nil {
		return nil, err
	}
	h2, macA, err := unmarshalHelloAck(ack)
	if err != nil {
		return nil, err
	}
	if h2.version != protoVersion || h2.size != uint32(id.size) || h2.rank != uint32(id.acceptor) || h2.job != id.job {
		refuse(rw, refuseIdentity, "identity mismatch")
		return nil, fmt.Errorf("%w: the peer claims job %q rank %d of %d (protocol %d); want job %q rank %d of %d (protocol %d)",
			ErrRefused, h2.job, h2.rank, h2.size, h2.version, id.job, id.acceptor, id.size, protoVersion)
	}
	s := session{id: id, flagsD: flags, flagsA: h2.flags, nonceD: h.nonce, nonceA: h2.nonce}
	if !hmac.Equal(macA, s.mac(secret, labelAcceptor)) {
		refuse(rw, refuseAuth, "authentication failed")
		return nil, fmt.Errorf("%w: the peer's proof of the secret is wrong", ErrAuth)
	}
	if err := writeFrame(rw, frameProof, s.mac(secret, labelDialer)); err != nil {
		return nil, fmt.Errorf("send proof: %w", err)
	}
	if err := s.checkOptions(); err != nil {
		return nil, err // the acceptor, which checks our proof, reports it too
	}
	if _, err := expectFrame(rw, frameOK); err != nil {
		return nil, err
	}
	return s.dataKey(secret), nil
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

// acceptHandshake runs the acceptor's side on rw, expecting id.dialer, and
// returns the data key. Only an error wrapping errOptions comes from an
// authenticated peer; others mean "drop this connection". See Note
// [Handshake].
func acceptHandshake(rw io.ReadWriter, secret []byte, id identity, flags uint32) ([]byte, error) {
	typ, payload, err := readFrame(rw, maxFrame)
	if err != nil || typ != frameHello {
		refuse(rw, refuseProtocol, "expected hello")
		return nil, fmt.Errorf("no hello (frame type %d): %v", typ, err)
	}
	h, err := unmarshalHello(payload)
	if err != nil {
		refuse(rw, refuseProtocol, "malformed hello")
		return nil, err
	}
	if h.version != protoVersion || h.job != id.job || h.size != uint32(id.size) ||
		h.rank != uint32(id.dialer) || h.target != uint32(id.acceptor) {
		refuse(rw, refuseIdentity, "identity mismatch")
		return nil, fmt.Errorf("%w: claims %v; want %v", errIdentity, &h, id)
	}
	s := session{id: id, flagsD: h.flags, flagsA: flags, nonceD: h.nonce, nonceA: newNonce()}
	ack := hello{version: protoVersion, size: uint32(id.size), rank: uint32(id.acceptor), flags: flags, nonce: s.nonceA, job: id.job}
	if err := writeFrame(rw, frameHelloAck, append(ack.marshal(), s.mac(secret, labelAcceptor)...)); err != nil {
		return nil, fmt.Errorf("send hello-ack: %w", err)
	}
	proof, err := expectFrame(rw, frameProof)
	if err != nil {
		return nil, err // ErrAuth if the dialer refused our proof
	}
	if !hmac.Equal(proof, s.mac(secret, labelDialer)) {
		refuse(rw, refuseAuth, "authentication failed")
		return nil, fmt.Errorf("%w: the peer's proof of the secret is wrong", ErrAuth)
	}
	if err := s.checkOptions(); err != nil {
		refuse(rw, refuseOptions, err.Error()) // the peer is authenticated
		return nil, err
	}
	if err := writeFrame(rw, frameOK, nil); err != nil {
		return nil, fmt.Errorf("send ok: %w", err)
	}
	return s.dataKey(secret), nil
}
