package launcher

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/nats-io/nats.go"

	"github.com/ddprun/ddprun/internal/control"
)

// TestNATS_RefusesWithoutSecret: the embedded server accepts only the
// token derived from the job secret.
func TestNATS_RefusesWithoutSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	srv, err := startNATS("127.0.0.1", 0, control.Token(secret))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	for name, opts := range map[string][]nats.Option{
		"no token":    nil,
		"wrong token": {nats.Token(control.Token([]byte("another secret of 32 bytes......")))},
		"raw secret":  {nats.Token(string(secret))},
	} {
		if nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.Timeout(2*time.Second))...); err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Token(control.Token(secret)))
	if err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	nc.Close()
}

// TestMemberlist_RefusesWithoutSecret: a node with another secret cannot
// join the gossip.
func TestMemberlist_RefusesWithoutSecret(t *testing.T) {
	mk := func(name string, secret string, seed string) (*membership, error) {
		return joinCluster(memberConfig{preset: memberlist.DefaultLocalConfig, name: name, bind: "127.0.0.1",
			secret: []byte(secret), meta: nodeMeta{Job: "j", Slots: 1}, joinTimeout: time.Second}, seed)
	}
	a, err := mk("a", "0123456789abcdef0123456789abcdef", "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close(time.Second)
	b, err := mk("b", "ffffffffffffffffffffffffffffffff", a.addr())
	if err == nil {
		b.close(time.Second)
		t.Fatal("a node with another secret joined")
	}
	c, err := mk("c", "0123456789abcdef0123456789abcdef", a.addr())
	if err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	defer c.close(time.Second)
	// a learns of c from gossip that Join does not wait for: poll.
	deadline := time.Now().Add(10 * time.Second)
	for len(a.ml.Members()) != 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(a.ml.Members()); got != 2 {
		t.Errorf("%d members after 10 s, want 2 (a and c; not b)", got)
	}
}
