package ring

import (
	"bytes"
	"errors"
	"testing"
)

// TestLinkMAC: a receiver accepts the sender's messages in order and
// refuses a changed, reordered, replayed or dropped message, and one
// tagged under another connection's key.
func TestLinkMAC(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	msgs := [][]byte{[]byte("header"), bytes.Repeat([]byte{1}, 1000), []byte("chunk 2")}
	send := newLinkMAC(key)
	tags := make([][]byte, len(msgs))
	for i, m := range msgs {
		tags[i] = bytes.Clone(send.sum(m))
	}
	// deliver feeds messages (by index) to a fresh receiver under key k and
	// returns the first failure.
	deliver := func(k []byte, order []int, change func(i int, m []byte) []byte) error {
		recv := newLinkMAC(k)
		for _, i := range order {
			m := msgs[i]
			if change != nil {
				m = change(i, m)
			}
			copy(recv.tagBuf(), tags[i])
			if err := recv.check(m); err != nil {
				return err
			}
		}
		return nil
	}
	if err := deliver(key, []int{0, 1, 2}, nil); err != nil {
		t.Fatalf("in order: %v", err)
	}
	flip := func(i int, m []byte) []byte {
		if i != 1 {
			return m
		}
		m = bytes.Clone(m)
		m[500] ^= 1
		return m
	}
	other := bytes.Repeat([]byte{8}, 32)
	for name, err := range map[string]error{
		"changed":   deliver(key, []int{0, 1, 2}, flip),
		"reordered": deliver(key, []int{0, 2, 1}, nil),
		"replayed":  deliver(key, []int{0, 0, 1}, nil),
		"dropped":   deliver(key, []int{0, 2}, nil),
		"other-key": deliver(other, []int{0, 1, 2}, nil),
	} {
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: got %v, want ErrIntegrity", name, err)
		}
	}
}
