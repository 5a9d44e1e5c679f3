package netns_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/netns"
)

// echo serves one echo listener in h on port and returns its address.
func echo(t *testing.T, h *netns.Host, port string) string {
	t.Helper()
	ln, err := h.Listen(t.Context(), "tcp", net.JoinHostPort(h.Addr, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends msg over c and reads it back within d.
func roundTrip(c net.Conn, msg string, d time.Duration) error {
	c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

func links(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, f[1])
		}
	}
	return strings.Join(names, " ")
}

func namespaces(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestNew_HostsTalk: every host reaches every other over the bridge; the
// root namespace gains no interface; Close removes every namespace.
func TestNew_HostsTalk(t *testing.T) {
	if err := netns.Check(); err != nil {
		t.Skip(err)
	}
	before := links(t)
	n, err := netns.New(t.Context(), netns.Config{Hosts: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := links(t); got != before {
		t.Errorf("the root namespace's interfaces changed:\nbefore %s\nafter  %s", before, got)
	}
	for _, h := range n.Hosts {
		addr := echo(t, h, "0")
		for _, from := range n.Hosts {
			c, err := from.DialContext(t.Context(), "tcp", addr)
			if err != nil {
				t.Fatalf("host %d -> %s: %v", from.Index, addr, err)
			}
			if err := roundTrip(c, "hello", 5*time.Second); err != nil {
				t.Errorf("host %d -> %s: %v", from.Index, addr, err)
			}
			c.Close()
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, h := range n.Hosts {
		if strings.Contains(namespaces(t), h.Name) {
			t.Errorf("namespace %s left behind", h.Name)
		}
	}
}

// TestHost_Cut: a cut link drops packets without a word (a write
// succeeds, the read times out: no RST, no EOF); connections inside the
// cut host still work; after Restore the same connection carries on.
func TestHost_Cut(t *testing.T) {
	n := netns.ForTest(t, netns.Config{Hosts: 2})
	a, b := n.Hosts[0], n.Hosts[1]
	addr := echo(t, b, "0")
	c, err := a.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(c, "before", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Cut(t.Context()); err != nil {
		t.Fatal(err)
	}
	err = roundTrip(c, "during", time.Second)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("across a cut link: %v, want a timeout (no RST, no EOF)", err)
	}
	local, err := b.DialContext(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("inside the cut host: %v", err)
	}
	if err := roundTrip(local, "local", 5*time.Second); err != nil {
		t.Errorf("inside the cut host: %v", err)
	}
	local.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if _, err := a.DialContext(ctx, "tcp", addr); !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("a new connection across the cut: %v, want no answer at all", err)
	}
	if err := b.Restore(t.Context()); err != nil {
		t.Fatal(err)
	}
	// "during" was lost and is retransmitted; its echo comes first.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len("during"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "during" {
		t.Fatalf("after Restore: %q, %v", buf, err)
	}
	if err := roundTrip(c, "after", 5*time.Second); err != nil {
		t.Errorf("after Restore: %v", err)
	}
}

// TestHost_SetRate: a limited host's link is limited both ways: sending
// (the qdisc on its eth0) and receiving (the qdisc on the bridge's end),
// each tested from an unlimited peer; a bulk transfer takes at least as
// long as the rate says. Without the limit it is fast again.
func TestHost_SetRate(t *testing.T) {
	const rate, bytesPerSec, size = "32mbit", 4e6, 3 << 20
	n := netns.ForTest(t, netns.Config{Hosts: 2, Rate: rate})
	a, b := n.Hosts[0], n.Hosts[1]
	if err := a.SetRate(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []struct {
		name     string
		from, to *netns.Host
	}{{"b sends", b, a}, {"b receives", a, b}} {
		t.Run(dir.name, func(t *testing.T) {
			elapsed := transfer(t, dir.from, dir.to, size)
			min := time.Duration(float64(size-256<<10) / bytesPerSec * 0.8 * float64(time.Second))
			t.Logf("%d bytes at %s: %v (%.1f MB/s)", size, rate, elapsed, size/elapsed.Seconds()/1e6)
			if elapsed < min {
				t.Errorf("%d bytes took %v at %s, want at least %v", size, elapsed, rate, min)
			}
		})
	}
	if err := b.SetRate(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if elapsed := transfer(t, a, b, size); elapsed > time.Second/2 {
		t.Errorf("without a rate, %d bytes took %v", size, elapsed)
	}
}

// transfer sends size bytes from one host to another and returns how
// long until the receiver had them all.
func transfer(t *testing.T, from, to *netns.Host, size int) time.Duration {
	t.Helper()
	ln, err := to.Listen(t.Context(), "tcp", to.Addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		k, _ := io.Copy(io.Discard, c)
		got <- k
	}()
	c, err := from.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.Copy(c, bytes.NewReader(make([]byte, size))); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if k := <-got; k != int64(size) {
		t.Fatalf("received %d bytes of %d", k, size)
	}
	return time.Since(start)
}

// TestClose_KillsProcesses: a command still running in a host when the
// hosts are closed is killed, and the namespaces are gone.
func TestClose_KillsProcesses(t *testing.T) {
	if err := netns.Check(); err != nil {
		t.Skip(err)
	}
	n, err := netns.New(t.Context(), netns.Config{Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	cmd := n.Hosts[0].Command(context.Background(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		n.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var pids []int // ip netns exec enters the namespace, then execs sleep
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pids = n.Hosts[0].PIDs(t.Context()); len(pids) > 0 {
			break
		}
	}
	if len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("PIDs %v, want [%d]", pids, cmd.Process.Pid)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("sleep ended with %v, want killed", err)
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("sleep still runs after Close")
	}
	if strings.Contains(namespaces(t), n.Hosts[0].Name) {
		t.Error("namespace left behind")
	}
}

// TestNew_SweepsStale: namespaces of a creator that no longer runs are
// removed by the next New with the same prefix; a live creator's stay.
func TestNew_SweepsStale(t *testing.T) {
	if err := netns.Check(); err != nil {
		t.Skip(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	prefix := "ddpnsweep"
	stale := prefix + "-" + strconv.Itoa(dead.Process.Pid) + "-abcdef-h0"
	live := prefix + "-" + strconv.Itoa(os.Getpid()) + "-abcdef-h0"
	for _, name := range []string{stale, live} {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	}
	netns.ForTest(t, netns.Config{Hosts: 1, Prefix: prefix})
	all := namespaces(t)
	if strings.Contains(all, stale) {
		t.Errorf("stale namespace %s (creator pid %d gone) not removed", stale, dead.Process.Pid)
	}
	if !strings.Contains(all, live) {
		t.Errorf("namespace %s of a live creator was removed", live)
	}
}
