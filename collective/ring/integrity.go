package ring

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// Note [Integrity]: with Config.Integrity, every message on a link (each
// call's header and each chunk) is followed by a 16-byte tag: AES-256-GCM
// with the message as additional data and nothing to encrypt (GMAC),
// under the link's data key and with the message's index on the link as
// the nonce. The handshake derives the key from the secret and both
// nonces (Note [Handshake]), so it is fresh for every connection and no
// (key, nonce) pair repeats. The receiver checks the tag before the
// message is reduced, decoded or announced as received, so a changed,
// dropped, injected, replayed or reordered message fails the call with an
// error wrapping ErrIntegrity and collective.ErrPeerLost (the link is
// untrustworthy) instead of corrupting the result. A failed call leaves
// its buffer undefined, as any failure does: an all-gather may have
// written the bad chunk before its tag was checked.
//
// GMAC because it is the fastest keyed MAC at hand: AES-NI and carry-less
// multiplication make it several times faster than HMAC-SHA256, BLAKE2b
// or Poly1305 on amd64, and it is in the standard library. The data are
// still sent in the clear.

// ErrIntegrity means a message on a link failed its integrity check (see
// Config.Integrity): the link was tampered with or corrupted.
var ErrIntegrity = errors.New("ring: integrity check failed")

const tagSize = 16

// linkMAC tags (or checks) the messages of one direction of one link.
type linkMAC struct {
	aead  cipher.AEAD
	n     uint64 // messages so far
	nonce [12]byte
	tag   [tagSize]byte
}

func newLinkMAC(key []byte) *linkMAC {
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		panic(err) // a 32-byte key cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &linkMAC{aead: aead}
}

// next advances to the next message and returns its nonce.
func (m *linkMAC) next() []byte {
	binary.BigEndian.PutUint64(m.nonce[4:], m.n)
	m.n++
	return m.nonce[:]
}

// sum returns the tag of the next message, b. It is valid until the next
// call.
func (m *linkMAC) sum(b []byte) []byte {
	return m.aead.Seal(m.tag[:0], m.next(), nil, b)
}

// tagBuf is where the receiver reads the next message's tag.
func (m *linkMAC) tagBuf() []byte { return m.tag[:] }

// check verifies the tag in tagBuf for the next message, b.
func (m *linkMAC) check(b []byte) error {
	n := m.n
	if _, err := m.aead.Open(nil, m.next(), m.tag[:], b); err != nil {
		return fmt.Errorf("%w: message %d on the link", ErrIntegrity, n)
	}
	return nil
}
