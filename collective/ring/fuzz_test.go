package ring

import (
	"bytes"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

// halves feeds b in two reads, split at k, like a frame split across TCP
// segments.
func halves(b []byte, k int) io.Reader {
	k = min(k, len(b))
	return io.MultiReader(bytes.NewReader(b[:k]), bytes.NewReader(b[k:]))
}

func FuzzFrameDecode(f *testing.F) {
	var frame bytes.Buffer
	h := hello{version: protoVersion, size: 4, rank: 1, target: 2, nonce: newNonce(), job: "job"}
	writeFrame(&frame, frameHello, h.marshal())
	f.Add(frame.Bytes(), 3)
	var hdr [headerSize]byte
	(&header{kind: kindAllReduce, dtype: 1, wire: 2, op: 1, seq: 7, count: 1 << 40}).encode(&hdr)
	f.Add(hdr[:], 16)
	f.Add([]byte{frameOK, 0, 0, 0, 0}, 1)
	f.Add([]byte{frameError, 0xff, 0xff, 0xff, 0xff}, 2) // huge length: must not allocate
	f.Fuzz(func(t *testing.T, b []byte, k int) {
		k = max(k, 0)
		typ, payload, err := readFrame(halves(b, k), maxFrame)
		typ2, payload2, err2 := readFrame(iotest.OneByteReader(bytes.NewReader(b)), maxFrame)
		if (err == nil) != (err2 == nil) || typ != typ2 || !bytes.Equal(payload, payload2) {
			t.Fatalf("split reads disagree: (%d %x %v) vs (%d %x %v)", typ, payload, err, typ2, payload2, err2)
		}
		if err == nil {
			var out bytes.Buffer
			writeFrame(&out, typ, payload)
			if !bytes.Equal(out.Bytes(), b[:out.Len()]) {
				t.Fatalf("re-encoding %x gives %x", b[:out.Len()], out.Bytes())
			}
			unmarshalHello(payload)
			unmarshalHelloAck(payload)
			refusal(payload)
		}
		if len(b) >= headerSize {
			if h, err := decodeHeader(b[:headerSize]); err == nil {
				var enc [headerSize]byte
				h.encode(&enc)
				_ = h.String()
				if h2, _ := decodeHeader(enc[:]); h2 != h {
					t.Fatalf("header round trip: %+v -> %+v", h, h2)
				}
			}
		}
	})
}

// rw is a connection whose peer's bytes are fixed in advance.
type rw struct {
	io.Reader
	out bytes.Buffer
}

func (c *rw) Write(b []byte) (int, error) { return c.out.Write(b) }

// FuzzHandshake feeds arbitrary peer bytes to both sides of the handshake:
// no panic, no allocation beyond the frame bound, and never success
// without the secret (the fuzzer cannot forge an HMAC over a fresh nonce).
func FuzzHandshake(f *testing.F) {
	id := identity{job: "job", size: 2, dialer: 0, acceptor: 1}
	var seed bytes.Buffer
	writeFrame(&seed, frameHello, (&hello{version: protoVersion, size: 2, rank: 0, target: 1, job: "job"}).marshal())
	writeFrame(&seed, frameProof, make([]byte, 32))
	f.Add(seed.Bytes(), 7)
	var ack bytes.Buffer
	writeFrame(&ack, frameHelloAck, append((&hello{version: protoVersion, size: 2, rank: 1, job: "job"}).marshal(), make([]byte, 32)...))
	writeFrame(&ack, frameOK, nil)
	f.Add(ack.Bytes(), 40)
	f.Add([]byte{frameError, 0, 0, 0, 2, refuseAuth, 'x'}, 3)
	f.Fuzz(func(t *testing.T, b []byte, k int) {
		k = max(k, 0)
		if _, err := acceptHandshake(&rw{Reader: halves(b, k)}, []byte("secret"), id, 0); err == nil {
			t.Fatal("acceptor accepted a peer that does not know the secret")
		}
		if _, err := dialHandshake(&rw{Reader: iotest.OneByteReader(bytes.NewReader(b))}, []byte("secret"), id, 0); err == nil {
			t.Fatal("dialer accepted a peer that does not know the secret")
		}
	})
}

// TestHandshake_Pipe runs both sides against each other in memory.
func TestHandshake_Pipe(t *testing.T) {
	id := identity{job: "job", size: 3, dialer: 2, acceptor: 0}
	for _, secrets := range [][2]string{{"s", "s"}, {"s", "t"}} {
		a, b := net.Pipe()
		errs := make(chan error, 1)
		go func() {
			_, err := dialHandshake(a, []byte(secrets[0]), id, 0)
			errs <- err
		}()
		_, errA := acceptHandshake(b, []byte(secrets[1]), id, 0)
		errD := <-errs
		if ok := secrets[0] == secrets[1]; (errA == nil) != ok || (errD == nil) != ok {
			t.Errorf("secrets %q: acceptor %v, dialer %v", secrets, errA, errD)
		}
	}
}
