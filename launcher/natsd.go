package launcher

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ddprun/ddprun/internal/control"
)

// natsCluster, when set, makes an embedded server one of the job's
// clustered servers (Note [No single coordinator]): routes to the others
// are mutual TLS with a key derived from the job secret.
type natsCluster struct {
	name   string   // the cluster's name: every server of the job has the same
	routes []string // nats-route:// URLs of the servers already up
}

// maxNATSServers is how many nodes, the first ones to join, run a NATS
// server of the job.
const maxNATSServers = 3

// startNATS runs an embedded NATS server on host:port (port 0: any free
// port) whose only user is the job's NATS user key, derived from secret:
// clients log in by signing the server's nonce (internal/control, Note
// [NATS login]). It listens on host only, never on all interfaces. With
// cluster, it also listens for routes on host (any port) and joins the
// servers in cluster.routes.
func startNATS(host string, port int, secret []byte, cluster *natsCluster) (*server.Server, error) {
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
	if cluster != nil {
		if err := clusterOptions(opts, host, secret, cluster); err != nil {
			return nil, err
		}
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

// clusterOptions sets the route listener and the routes. Note [Route
// authentication]: a route is TLS 1.3 both ways with one certificate
// whose ed25519 key is derived from the job secret (HKDF, its own label),
// and each side pins the other's public key to it (nats-server's
// TLSPinnedCerts), names and CAs unchecked: a server that does not know
// the secret cannot finish the handshake, and nothing a sniffer sees
// (routes carry every control message) can be read or replayed.
func clusterOptions(opts *server.Options, host string, secret []byte, c *natsCluster) error {
	cert, pin, err := routeCert(secret)
	if err != nil {
		return err
	}
	opts.ServerName = "ddprun-" + randomName()
	opts.Cluster = server.ClusterOpts{
		Name: c.name, Host: host, Port: server.RANDOM_PORT, TLSTimeout: 5,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
			ClientAuth: tls.RequireAnyClientCert, InsecureSkipVerify: true},
		TLSPinnedCerts: server.PinnedCertSet{pin: {}},
	}
	for _, r := range c.routes {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("launcher: NATS route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// routeCert is the job's route certificate and its pin (the hex SHA-256 of
// its SubjectPublicKeyInfo). The key is a function of the secret; the
// certificate around it need not be (each server makes its own).
func routeCert(secret []byte) (tls.Certificate, string, error) {
	key := ed25519.NewKeyFromSeed(control.DeriveKey(secret, "ddprun nats route key", ed25519.SeedSize))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ddprun nats route"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("launcher: route certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, "", fmt.Errorf("launcher: route certificate: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, hex.EncodeToString(sum[:]), nil
}

// routeURL is s's route address, for the servers that start later.
func routeURL(s *server.Server) string {
	a := s.ClusterAddr()
	if a == nil {
		return ""
	}
	return "nats-route://" + net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

// randomName tells the cluster's servers apart (nats-server refuses a
// route to a server of the same name).
func randomName() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
