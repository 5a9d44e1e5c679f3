package k8s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Resolver looks up a host name. *net.Resolver implements it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) (addrs []string, err error)
}

// ResolverFromEnv returns net.DefaultResolver, or, when EnvResolve is set
// ("name=addr,name=addr"), a resolver that answers those names itself
// and passes the others to net.DefaultResolver. It is how N launchers on
// one machine play N pods (all names map to 127.0.0.1).
func ResolverFromEnv(getenv func(string) string) (Resolver, error) {
	spec := getenv(EnvResolve)
	if spec == "" {
		return net.DefaultResolver, nil
	}
	hosts := StaticResolver{Hosts: map[string][]string{}, Next: net.DefaultResolver}
	for _, kv := range strings.Split(spec, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || name == "" || net.ParseIP(addr) == nil {
			return nil, fmt.Errorf("%w: %s entry %q: want name=ip", ErrPodEnv, EnvResolve, kv)
		}
		hosts.Hosts[name] = append(hosts.Hosts[name], addr)
	}
	return hosts, nil
}

// StaticResolver answers from Hosts, and asks Next (if not nil) about
// names Hosts lacks.
type StaticResolver struct {
	Hosts map[string][]string
	Next  Resolver
}

// LookupHost implements Resolver.
func (s StaticResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	if a, ok := s.Hosts[host]; ok {
		return a, nil
	}
	if s.Next == nil {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return s.Next.LookupHost(ctx, host)
}

// Backoff between lookups: it starts at FirstBackoff and doubles up to
// MaxBackoff. A pod's peers get their DNS records within seconds of being
// scheduled, but the first pod may wait minutes for an image pull.
const (
	FirstBackoff = 100 * time.Millisecond
	MaxBackoff   = 5 * time.Second
)

// WaitForDNS resolves name, retrying with backoff while it does not
// resolve (a pod's record appears only once the pod has an IP; the
// manifest's publishNotReadyAddresses makes it appear before the pod is
// ready). It returns the addresses, or, when ctx ends first, an error
// wrapping ErrNoDNS and ctx.Err() that quotes the last lookup's error.
// Bound the wait with ctx (the launcher's --join-timeout).
func WaitForDNS(ctx context.Context, name string, r Resolver) ([]string, error) {
	for wait := FirstBackoff; ; wait = min(2*wait, MaxBackoff) {
		addrs, err := r.LookupHost(ctx, name)
		if err == nil && len(addrs) > 0 {
			return addrs, nil
		}
		if err == nil {
			err = errors.New("no addresses")
		}
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w: %s: %w (last lookup: %v)", ErrNoDNS, name, serr, err)
		}
	}
}

// DialFunc opens a connection; (*net.Dialer).DialContext is one.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// WaitForSeed turns the seed "host:port" into "ip:port" once the host
// resolves (WaitForDNS) and the port accepts TCP connections, retrying
// with the same backoff: a record can exist seconds before the seed's
// launcher listens. The probe connection is closed at once (memberlist
// drops it). The launcher then joins the returned address.
func WaitForSeed(ctx context.Context, seed string, r Resolver, dial DialFunc) (string, error) {
	host, port, err := net.SplitHostPort(seed)
	if err != nil {
		return "", fmt.Errorf("%w: seed %q: %w", ErrOptions, seed, err)
	}
	for wait := FirstBackoff; ; wait = min(2*wait, MaxBackoff) {
		addrs, err := WaitForDNS(ctx, host, r)
		if err != nil {
			return "", err
		}
		addr := net.JoinHostPort(addrs[0], port)
		c, err := dial(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return addr, nil
		}
		if serr := sleep(ctx, wait); serr != nil {
			return "", fmt.Errorf("k8s: seed %s (%s) does not accept connections: %w (last dial: %v)", seed, addr, serr, err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
