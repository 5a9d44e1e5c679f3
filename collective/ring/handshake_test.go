package ring

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
)

// recorder keeps a copy of everything written through it.
type recorder struct {
	io.ReadWriter
	sent bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.sent.Write(b)
	return r.ReadWriter.Write(b)
}

// pipeHandshake runs both sides over net.Pipe; mitm, if set, sits on the
// dialer's side and may change what it writes.
func pipeHandshake(dialer io.ReadWriter, acceptor net.Conn, secretD, secretA []byte, id identity, flagsD, flagsA uint32) (keyD, keyA []byte, errD, errA error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		keyD, errD = dialHandshake(dialer, secretD, id, flagsD)
		if c, ok := dialer.(io.Closer); ok && errD != nil {
			c.Close()
		}
	}()
	keyA, errA = acceptHandshake(acceptor, secretA, id, flagsA)
	acceptor.Close()
	<-done
	return keyD, keyA, errD, errA
}

// frames splits a byte stream into control frames.
func frames(t *testing.T, b []byte) (types []byte, payloads [][]byte) {
	t.Helper()
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		typ, p, err := readFrame(r, maxFrame)
		if err != nil {
			t.Fatalf("frame %d: %v", len(types), err)
		}
		types, payloads = append(types, typ), append(payloads, p)
	}
	return types, payloads
}

// TestHandshake_Replay records the dialer's bytes in a successful
// handshake and replays them to a fresh acceptor: the acceptor's fresh
// nonce must make the recorded proof worthless.
func TestHandshake_Replay(t *testing.T) {
	id := identity{job: "job", size: 2, dialer: 0, acceptor: 1}
	secret := []byte("secret")
	for _, flags := range []uint32{0, flagIntegrity} {
		t.Run(fmt.Sprintf("flags=%d", flags), func(t *testing.T) {
			a, b := net.Pipe()
			rec := &recorder{ReadWriter: a}
			_, _, errD, errA := pipeHandshake(rec, b, secret, secret, id, flags, flags)
			if errD != nil || errA != nil {
				t.Fatalf("the recorded handshake failed: dialer %v, acceptor %v", errD, errA)
			}
			if types, _ := frames(t, rec.sent.Bytes()); !bytes.Equal(types, []byte{frameHello, frameProof}) {
				t.Fatalf("recorded frame types %v, want hello and proof", types)
			}
			replay := &rw{Reader: bytes.NewReader(rec.sent.Bytes())}
			_, err := acceptHandshake(replay, secret, id, flags)
			if err == nil {
				t.Fatal("the acceptor accepted a replayed handshake")
			}
			if !errors.Is(err, ErrAuth) {
				t.Errorf("replay refused with %v, want ErrAuth", err)
			}
			if types, _ := frames(t, replay.out.Bytes()); bytes.Contains(types, []byte{frameOK}) {
				t.Errorf("the acceptor answered the replay with frames %v, including ok", types)
			}
		})
	}
}

// TestHandshake_RefusalsTellNothing: whatever an unauthenticated party
// sends, the refusals it gets name no job, size or rank. The job id
// carries digits, so a refusal must have none.
func TestHandshake_RefusalsTellNothing(t *testing.T) {
	const job = "job-4242"
	id := identity{job: job, size: 7, dialer: 5, acceptor: 6}
	secret := []byte("secret")
	helloFrame := func(h hello) []byte {
		var b bytes.Buffer
		writeFrame(&b, frameHello, h.marshal())
		return b.Bytes()
	}
	good := hello{version: protoVersion, size: 7, rank: 5, target: 6, nonce: newNonce(), job: job}
	withProof := func(h hello) []byte {
		var b bytes.Buffer
		b.Write(helloFrame(h))
		writeFrame(&b, frameProof, make([]byte, 32))
		return b.Bytes()
	}
	otherJob, otherRank, otherSize := good, good, good
	otherJob.job, otherRank.rank, otherSize.size = "job-1", 3, 8
	acceptorInputs := map[string][]byte{
		"garbage":     []byte("GET / HTTP/1.1\r\n\r\n"),
		"other-job":   helloFrame(otherJob),
		"other-rank":  helloFrame(otherRank),
		"other-size":  helloFrame(otherSize),
		"wrong-proof": withProof(good),
		"short-hello": {frameHello, 0, 0, 0, 1, 0},
	}
	for name, in := range acceptorInputs {
		t.Run("side=acceptor/"+name, func(t *testing.T) {
			c := &rw{Reader: bytes.NewReader(in)}
			if _, err := acceptHandshake(c, secret, id, 0); err == nil {
				t.Fatal("accepted")
			}
			checkRefusals(t, c.out.Bytes(), job)
		})
	}
	// A party at the peer's address without the secret: a hello-ack with
	// another identity, or with a wrong MAC.
	ack := func(h hello) []byte {
		var b bytes.Buffer
		writeFrame(&b, frameHelloAck, append(h.marshal(), make([]byte, 32)...))
		return b.Bytes()
	}
	goodAck := hello{version: protoVersion, size: 7, rank: 6, nonce: newNonce(), job: job}
	otherAck := goodAck
	otherAck.job = "job-1"
	for name, in := range map[string][]byte{"other-job": ack(otherAck), "wrong-mac": ack(goodAck)} {
		t.Run("side=dialer/"+name, func(t *testing.T) {
			c := &rw{Reader: bytes.NewReader(in)}
			if _, err := dialHandshake(c, secret, id, 0); err == nil {
				t.Fatal("accepted")
			}
			_, payloads := frames(t, c.out.Bytes())
			checkRefusals(t, c.out.Bytes()[len(helloFrame(good)):], job) // after our own hello
			if len(payloads) < 2 {
				t.Errorf("no refusal sent")
			}
		})
	}
}

// checkRefusals checks every frame in out is a refusal (or a hello-ack,
// which echoes only what the hello claimed) that names nothing.
func checkRefusals(t *testing.T, out []byte, job string) {
	t.Helper()
	types, payloads := frames(t, out)
	for i, typ := range types {
		switch typ {
		case frameHelloAck:
		case frameError:
			msg := string(payloads[i][1:])
			if strings.Contains(msg, job) || strings.ContainsAny(msg, "0123456789") {
				t.Errorf("refusal to an unauthenticated party says %q", msg)
			}
		default:
			t.Errorf("frame type %d sent to an unauthenticated party", typ)
		}
	}
}

// flipFlags clears the integrity flag in the hello written through it, as
// a man in the middle would to downgrade the link.
type flipFlags struct {
	net.Conn
	done bool
}

func (f *flipFlags) Write(b []byte) (int, error) {
	if !f.done && len(b) > 5+helloFixed && b[0] == frameHello {
		f.done = true
		b = bytes.Clone(b)
		b[5+19] &^= flagIntegrity
	}
	return f.Conn.Write(b)
}

// TestHandshake_Options: ranks that know the secret but disagree on
// Integrity fail with errOptions on both sides (the only fatal handshake
// failure); a man in the middle who changes the flag is only an
// authentication failure, since both MACs cover both sides' flags.
func TestHandshake_Options(t *testing.T) {
	id := identity{job: "job", size: 3, dialer: 2, acceptor: 0}
	secret := []byte("secret")
	t.Run("mismatch", func(t *testing.T) {
		a, b := net.Pipe()
		_, _, errD, errA := pipeHandshake(a, b, secret, secret, id, flagIntegrity, 0)
		for side, err := range map[string]error{"dialer": errD, "acceptor": errA} {
			if !errors.Is(err, errOptions) || !strings.Contains(fmt.Sprint(err), "rank 2 has Integrity on, rank 0 has Integrity off") {
				t.Errorf("%s: got %v, want errOptions naming both ranks' settings", side, err)
			}
		}
	})
	t.Run("mitm", func(t *testing.T) {
		a, b := net.Pipe()
		_, _, errD, errA := pipeHandshake(&flipFlags{Conn: a}, b, secret, secret, id, flagIntegrity, flagIntegrity)
		for side, err := range map[string]error{"dialer": errD, "acceptor": errA} {
			if !errors.Is(err, ErrAuth) || errors.Is(err, errOptions) {
				t.Errorf("%s: got %v, want ErrAuth (a stranger's failure), not errOptions", side, err)
			}
		}
	})
	t.Run("keys", func(t *testing.T) {
		a, b := net.Pipe()
		keyD, keyA, errD, errA := pipeHandshake(a, b, secret, secret, id, flagIntegrity, flagIntegrity)
		if errD != nil || errA != nil || !bytes.Equal(keyD, keyA) || len(keyD) != 32 {
			t.Fatalf("dialer %v key %x, acceptor %v key %x: want equal 32-byte keys", errD, keyD, errA, keyA)
		}
		a, b = net.Pipe()
		keyD2, _, _, _ := pipeHandshake(a, b, secret, secret, id, flagIntegrity, flagIntegrity)
		if bytes.Equal(keyD, keyD2) {
			t.Error("two connections got the same data key")
		}
	})
}
