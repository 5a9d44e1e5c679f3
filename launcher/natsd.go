package launcher

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startNATS runs an embedded NATS server on host:port (port 0: any free
// port) that accepts only clients presenting token, and returns it with
// its client URL. It listens on host only, never on all interfaces.
func startNATS(host string, port int, token string) (*server.Server, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:    "ddprun",
		Host:          host,
		Port:          port,
		Authorization: token,
		NoLog:         true,
		NoSigs:        true,
		MaxPayload:    1 << 20,
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
