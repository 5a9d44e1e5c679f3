package netns

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// Command returns a command that runs name with args inside the host's
// network namespace (through `ip netns exec`, which execs name in place:
// the process is the command itself, so signalling Cmd.Process reaches
// it). The caller sets Stdout, Stderr, Env, SysProcAttr and starts it;
// everything but the network (files, users, processes) is shared with the
// machine.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.net.ip, append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Cut pulls the host's cable: every packet between it and the other hosts
// is dropped, with no RST or FIN. See Note [Cutting a link].
func (h *Host) Cut(ctx context.Context) error {
	return h.net.run(ctx, "ip", "-n", h.net.bridge(), "link", "set", h.port, "down")
}

// Restore plugs the cable back in after Cut; connections that have not
// timed out carry on (TCP retransmits what was lost).
func (h *Host) Restore(ctx context.Context) error {
	return h.net.run(ctx, "ip", "-n", h.net.bridge(), "link", "set", h.port, "up")
}

// SetRate limits the host's link to rate in both directions, in tc's
// units ("100mbit"); an empty rate removes the limit. See Note [Rates].
func (h *Host) SetRate(ctx context.Context, rate string) error {
	ends := [][2]string{{h.Name, hostDev}, {h.net.bridge(), h.port}}
	for _, e := range ends {
		args := []string{"tc", "-n", e[0], "qdisc", "replace", "dev", e[1], "root", "tbf", "rate", rate, "burst", "256kb", "latency", "20ms"}
		if rate == "" {
			args = []string{"tc", "-n", e[0], "qdisc", "replace", "dev", e[1], "root", "pfifo_fast"}
		}
		if err := h.net.run(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// PIDs lists the processes running in the host's namespace.
func (h *Host) PIDs(ctx context.Context) []int {
	return namespacePIDs(ctx, h.net.ip, h.Name)
}

// Listen announces on address inside the host's network namespace, for a
// peer in this process (see inside).
func (h *Host) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var ln net.Listener
	err := h.inside(func() (err error) {
		ln, err = (&net.ListenConfig{}).Listen(ctx, network, address)
		return err
	})
	return ln, err
}

// DialContext connects to address from inside the host's network
// namespace.
func (h *Host) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := h.inside(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// inside runs f on an OS thread moved into the host's namespace. A socket
// belongs to the namespace it was made in, so what f opens works from any
// goroutine afterwards. The thread moves back before it is unlocked; if it
// cannot, it stays locked, and the runtime discards it when the goroutine
// ends rather than reuse a thread in the wrong namespace. (The thread may
// be the main one, whose namespace is the process's in /proc/PID/ns/net,
// which `ip netns pids` reads: it must not stay in the host's.)
func (h *Host) inside(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: this thread's namespace: %w", err)
			return
		}
		defer unix.Close(home)
		if err := enter(h.Name); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = f()
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// enter moves the calling thread into the namespace called name.
func enter(name string) error {
	fd, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns: opening host %s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("netns: entering host %s: %w", name, err)
	}
	return nil
}
