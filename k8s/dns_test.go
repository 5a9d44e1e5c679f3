package k8s_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ddprun/ddprun/k8s"
)

// flakyResolver fails until the clock reaches ready, like a pod's DNS
// record that appears once the pod has an IP.
type flakyResolver struct {
	ready time.Time
	calls atomic.Int32
}

func (r *flakyResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	r.calls.Add(1)
	if time.Now().Before(r.ready) {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []string{"10.0.0.7"}, nil
}

func TestWaitForDNS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &flakyResolver{ready: time.Now().Add(8 * time.Second)}
		start := time.Now()
		addrs, err := k8s.WaitForDNS(t.Context(), "ddp-0.ddp-svc", r)
		if err != nil || len(addrs) != 1 || addrs[0] != "10.0.0.7" {
			t.Fatalf("got %v %v", addrs, err)
		}
		// 0.1+0.2+0.4+0.8+1.6+3.2 = 6.3 s, then 5 s: resolved at 11.3 s.
		if took := time.Since(start); took != 11300*time.Millisecond || r.calls.Load() != 8 {
			t.Errorf("took %v in %d lookups, want 11.3s in 8 (backoff 100ms doubling to 5s)", took, r.calls.Load())
		}
	})
}

func TestWaitForDNSTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &flakyResolver{ready: time.Now().Add(time.Hour)}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		_, err := k8s.WaitForDNS(ctx, "ddp-0.ddp-svc", r)
		if !errors.Is(err, k8s.ErrNoDNS) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want ErrNoDNS and DeadlineExceeded", err)
		}
		t.Log(err)
	})
}

func TestResolverFromEnv(t *testing.T) {
	r, err := k8s.ResolverFromEnv(envMap(map[string]string{k8s.EnvResolve: "ddp-0.ddp-svc=127.0.0.1, ddp-1.ddp-svc=127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := r.LookupHost(t.Context(), "ddp-1.ddp-svc")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Fatalf("got %v %v", addrs, err)
	}
	if r, _ := k8s.ResolverFromEnv(envMap(nil)); r != net.DefaultResolver {
		t.Errorf("without %s: %T, want net.DefaultResolver", k8s.EnvResolve, r)
	}
	if _, err := k8s.ResolverFromEnv(envMap(map[string]string{k8s.EnvResolve: "ddp-0=localhost"})); !errors.Is(err, k8s.ErrPodEnv) {
		t.Errorf("name=non-IP: err %v", err)
	}
}

// TestWaitForSeed: the name resolves at 2 s, the port accepts at 7 s.
func TestWaitForSeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		r := &flakyResolver{ready: start.Add(2 * time.Second)}
		var dialed []string
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = append(dialed, addr)
			if time.Since(start) < 7*time.Second {
				return nil, errors.New("connection refused")
			}
			c1, c2 := net.Pipe()
			c2.Close()
			return c1, nil
		}
		addr, err := k8s.WaitForSeed(t.Context(), "ddp-0.ddp-svc:7946", r, dial)
		if err != nil || addr != "10.0.0.7:7946" {
			t.Fatalf("got %q %v", addr, err)
		}
		if len(dialed) < 2 || dialed[0] != "10.0.0.7:7946" || time.Since(start) < 7*time.Second {
			t.Errorf("dialed %v by %v", dialed, time.Since(start))
		}
	})
}
