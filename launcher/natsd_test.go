package launcher

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/ddprun/ddprun/internal/control"
)

// TestNATS_Cluster: servers started with the job secret form one cluster
// (Note [Route authentication]): a message published on one reaches a
// subscriber on another, and still does once the first server, which the
// others routed to, is gone. A server with another secret gets no route.
func TestNATS_Cluster(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	a := startClustered(t, secret, nil)
	b := startClustered(t, secret, []string{routeURL(a)})
	c := startClustered(t, secret, []string{routeURL(a)})
	stranger := startClustered(t, []byte("another secret of thirty-two b.."), []string{routeURL(a)})
	waitRoutes(t, a, 2)
	waitRoutes(t, b, 2)
	sub := connectTo(t, c, secret)
	got, err := sub.SubscribeSync("ddprun.j.ctl.abort")
	if err != nil {
		t.Fatal(err)
	}
	sub.Flush()
	time.Sleep(200 * time.Millisecond) // the interest crosses the routes
	connectTo(t, b, secret).Publish("ddprun.j.ctl.abort", []byte("1"))
	if _, err := got.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("no message from b to c: %v", err)
	}
	a.Shutdown()
	time.Sleep(200 * time.Millisecond)
	connectTo(t, b, secret).Publish("ddprun.j.ctl.abort", []byte("2"))
	if _, err := got.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("no message from b to c once a is gone: %v", err)
	}
	if n := stranger.NumRoutes(); n != 0 {
		t.Errorf("a server without the secret has %d routes", n)
	}
}

func startClustered(t *testing.T, secret []byte, routes []string) *server.Server {
	t.Helper()
	s, err := startNATS("127.0.0.1", 0, secret, &natsCluster{name: "ddprun-j", routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func waitRoutes(t *testing.T, s *server.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.NumRoutes() < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d routes, want %d", s.NumRoutes(), n)
		}
	}
}

func connectTo(t *testing.T, s *server.Server, secret []byte) *nats.Conn {
	t.Helper()
	login, err := control.NATSLogin(secret)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), login, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
