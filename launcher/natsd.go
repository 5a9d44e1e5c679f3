package launcher

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ddprun/ddprun/internal/control"
)

// startNATS runs an embedded NATS server on host:port (port 0: any free
// port) whose only user is the job's NATS user key, derived from secret:
// clients log in by signing the server's nonce (internal/control, Note
// [NATS login]). It listens on host only, never on all interfaces.
func startNATS(host string, port int, secret []byte) (*server.Server, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	user, err := control.UserKey(secret)
	if err != nil {
		return nil, fmt.Errorf("launcher: NATS server: %w", err)
	}
	opts := &server.Options{
		ServerName: "ddprun",
		Host:       host,
		Port:       port,
		Nkeys:      []*server.NkeyUser{{Nkey: user}},
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("launcher: NATS server on %s: %w", host, err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("launcher: NATS server on %s:%d not ready after 10s", host, port)
	}
	return s, nil
}
