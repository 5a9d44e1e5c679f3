package launcher

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/ddprun/ddprun/internal/control"
)

// TestNATS_RefusesWithoutSecret: the embedded server's only user is the
// key derived from the job secret; a client must sign the server's nonce
// with it (Note [NATS login]). Another secret, the token ddprun used to
// send, a forged signature and a replayed one are all refused.
func TestNATS_RefusesWithoutSecret(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	srv, err := startNATS("127.0.0.1", 0, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	pub, err := control.UserKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := control.NATSLogin([]byte("another secret of 32 bytes......"))
	oldToken := hex.EncodeToString(control.DeriveKey(secret, "ddprun nats token", 32))
	forge := func([]byte) ([]byte, error) { return make([]byte, ed25519.SignatureSize), nil }

	// A client with the secret logs in; record its signature.
	var mu sync.Mutex
	var seen [][]byte
	login, _ := control.NATSLogin(secret)
	var opts nats.Options
	login(&opts)
	if opts.Nkey != pub || opts.SignatureCB == nil {
		t.Fatalf("NATSLogin does not log in with the job's nkey: nkey %q", opts.Nkey)
	}
	record := func(nonce []byte) ([]byte, error) {
		sig, err := opts.SignatureCB(nonce)
		mu.Lock()
		seen = append(seen, sig)
		mu.Unlock()
		return sig, err
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.Nkey(pub, record))
	if err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	nc.Close()
	mu.Lock()
	replayed := seen[0]
	mu.Unlock()
	replay := func([]byte) ([]byte, error) { return replayed, nil }

	for name, opts := range map[string][]nats.Option{
		"no credentials":       nil,
		"another secret":       {other},
		"old token":            {nats.Token(oldToken)},
		"raw secret as token":  {nats.Token(string(secret))},
		"public key, forged":   {nats.Nkey(pub, forge)},
		"replayed signature":   {nats.Nkey(pub, replay)},
		"user and secret text": {nats.UserInfo(pub, string(secret))},
	} {
		if nc, err := nats.Connect(srv.ClientURL(), append(opts, nats.Timeout(2*time.Second), nats.NoReconnect())...); err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("%s: %v, want an authorization error", name, err)
		}
	}
}

// TestNATS_LoginSendsNothingReplayable plays a NATS server to record what
// a client with the secret sends: the public key and a signature of this
// connection's nonce, and nothing derived from the secret that another
// connection could reuse.
func TestNATS_LoginSendsNothingReplayable(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const nonce = "n0nce-of-this-connection"
	connect := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(c, "INFO {\"server_id\":\"fake\",\"version\":\"2.10.0\",\"proto\":1,\"max_payload\":1048576,\"nonce\":%q}\r\n", nonce)
		line, _ := bufio.NewReader(c).ReadString('\n')
		connect <- line
	}()
	login, err := control.NATSLogin(secret)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if nc, err := nats.Connect("nats://"+ln.Addr().String(), login, nats.Timeout(2*time.Second), nats.NoReconnect()); err == nil {
			nc.Close()
		}
	}()
	var line string
	select {
	case line = <-connect:
	case <-time.After(10 * time.Second):
		t.Fatal("no CONNECT")
	}
	js, ok := strings.CutPrefix(strings.TrimSpace(line), "CONNECT ")
	if !ok {
		t.Fatalf("not a CONNECT: %q", line)
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatalf("CONNECT %s: %v", js, err)
	}
	pub, _ := control.UserKey(secret)
	sig, _ := base64.RawURLEncoding.DecodeString(fmt.Sprint(c["sig"]))
	verifier, err := nkeys.FromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if c["nkey"] != pub || verifier.Verify([]byte(nonce), sig) != nil {
		t.Errorf("CONNECT %s: want nkey %s and a signature of this connection's nonce", js, pub)
	}
	for _, field := range []string{"auth_token", "user", "pass", "jwt"} {
		if v, ok := c[field]; ok && v != "" {
			t.Errorf("CONNECT sends %s=%v", field, v)
		}
	}
	for _, leak := range []string{string(secret), hex.EncodeToString(secret),
		hex.EncodeToString(control.DeriveKey(secret, "ddprun nats token", 32)),
		hex.EncodeToString(control.DeriveKey(secret, "ddprun nats nkey v1", 32))} {
		if strings.Contains(line, leak) {
			t.Errorf("CONNECT contains %q", leak)
		}
	}
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
