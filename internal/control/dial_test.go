package control_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
)

func TestDial_HeartbeatAndStop(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	user, err := control.UserKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT,
		Nkeys: []*server.NkeyUser{{Nkey: user}}, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(5 * time.Second) {
		t.Fatal("server not ready")
	}
	login, err := control.NATSLogin(secret)
	if err != nil {
		t.Fatal(err)
	}
	launcher, err := nats.Connect(srv.ClientURL(), login)
	if err != nil {
		t.Fatal(err)
	}
	defer launcher.Close()
	hbs, _ := launcher.SubscribeSync(control.HeartbeatWildcard("job"))
	launcher.Flush()

	id := rankenv.Identity{Rank: 1, WorldSize: 2, JobID: "job", Secret: secret, Control: srv.ClientURL()}
	rep, err := control.Dial(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Close()
	rep.Heartbeat(control.Heartbeat{Rank: 1, Step: 5, Phase: control.PhaseAllReduce, CollSeq: 9})
	m, err := hbs.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var h control.Heartbeat
	if err := json.Unmarshal(m.Data, &h); err != nil || h.Step != 5 || h.CollSeq != 9 || m.Subject != "ddprun.job.hb.1" {
		t.Errorf("got %s %+v, %v", m.Subject, h, err)
	}
	launcher.Publish(control.StopSubject("job"), nil)
	select {
	case <-rep.StopRequested():
	case <-time.After(5 * time.Second):
		t.Fatal("stop request not delivered")
	}

	id.Secret = []byte("another secret, also 32 bytes...")
	if r, err := control.Dial(t.Context(), id); err == nil {
		r.Close()
		t.Error("dialled with the wrong secret")
	}
}

// TestUserKey: the key is a pure function of the secret (every node and
// rank derives the same), and another secret gives another key.
func TestUserKey(t *testing.T) {
	a1, err1 := control.UserKey([]byte("0123456789abcdef0123456789abcdef"))
	a2, err2 := control.UserKey([]byte("0123456789abcdef0123456789abcdef"))
	b, err3 := control.UserKey([]byte("0123456789abcdef0123456789abcdeX"))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	if a1 != a2 || a1 == b || !strings.HasPrefix(a1, "U") {
		t.Errorf("keys %s %s %s: want equal for one secret, different for another, user keys (U...)", a1, a2, b)
	}
}
