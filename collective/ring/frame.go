package ring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ddprun/ddprun/collective"
)

// Control frames carry the handshake: a type byte, a big-endian uint32
// payload length, then the payload. Lengths are checked against a bound
// before anything is allocated.
const (
	frameHello    = 1 // dialer -> acceptor: who I am, my nonce
	frameHelloAck = 2 // acceptor -> dialer: who I am, my nonce, my proof
	frameProof    = 3 // dialer -> acceptor: my proof
	frameOK       = 4 // acceptor -> dialer: welcome
	frameError    = 5 // either way: refusal code and message, then close

	maxFrame = 1024 // no control frame is larger
)

var errFrame = errors.New("ring: malformed frame")

func writeFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > maxFrame {
		return fmt.Errorf("%w: %d-byte payload exceeds %d", errFrame, len(payload), maxFrame)
	}
	b := make([]byte, 5+len(payload))
	b[0] = typ
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	copy(b[5:], payload)
	_, err := w.Write(b)
	return err
}

// readFrame reads one control frame whose payload is at most max bytes.
func readFrame(r io.Reader, max int) (typ byte, payload []byte, err error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > uint32(max) {
		return 0, nil, fmt.Errorf("%w: type %d, length %d exceeds %d", errFrame, h[0], n, max)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: truncated payload: %w", errFrame, err)
	}
	return h[0], payload, nil
}

// Every collective starts with a fixed 32-byte header on each link it uses,
// so that ranks which disagree about the call get ErrMismatch instead of
// reading each other's data as garbage.
//
//	0:2 magic, 2 kind, 3 dtype, 4 wire dtype, 5 op, 6:8 zero,
//	8:16 seq, 16:24 count, 24:32 extra (root, or a hash of AllGatherV counts)
const headerSize = 32

var headerMagic = [2]byte{0xdd, 0x72}

type kind uint8

const (
	kindAllReduce kind = iota + 1
	kindBroadcast
	kindAllGather
	kindReduceScatter
)

var kindNames = [...]string{"", "all-reduce", "broadcast", "all-gather", "reduce-scatter"}

func (k kind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

type header struct {
	kind  kind
	dtype collective.DType
	wire  collective.DType
	op    collective.Op
	seq   uint64
	count uint64
	extra uint64
}

func (h *header) encode(b *[headerSize]byte) {
	*b = [headerSize]byte{0: headerMagic[0], 1: headerMagic[1], 2: byte(h.kind),
		3: byte(h.dtype), 4: byte(h.wire), 5: byte(h.op)}
	binary.LittleEndian.PutUint64(b[8:], h.seq)
	binary.LittleEndian.PutUint64(b[16:], h.count)
	binary.LittleEndian.PutUint64(b[24:], h.extra)
}

func decodeHeader(b []byte) (header, error) {
	if len(b) != headerSize || b[0] != headerMagic[0] || b[1] != headerMagic[1] {
		return header{}, fmt.Errorf("%w: bad operation header % x", errFrame, b[:min(len(b), 8)])
	}
	return header{
		kind: kind(b[2]), dtype: collective.DType(b[3]), wire: collective.DType(b[4]),
		op:  collective.Op(b[5]),
		seq: binary.LittleEndian.Uint64(b[8:]), count: binary.LittleEndian.Uint64(b[16:]),
		extra: binary.LittleEndian.Uint64(b[24:]),
	}, nil
}

// String describes the call the header announces, for mismatch errors.
func (h header) String() string {
	s := fmt.Sprintf("%v #%d of %d %v", h.kind, h.seq, h.count, h.dtype)
	switch h.kind {
	case kindAllReduce, kindReduceScatter:
		s += fmt.Sprintf(" op %v wire %v", h.op, h.wire)
	case kindBroadcast:
		s += fmt.Sprintf(" root %d", h.extra)
	case kindAllGather:
		s += fmt.Sprintf(" layout %#x", h.extra)
	}
	return s
}
