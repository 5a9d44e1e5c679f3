package netns

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrUnavailable is wrapped by Check's error when network namespaces
// cannot be made here.
var ErrUnavailable = errors.New("netns: network namespaces unavailable")

// Config describes the hosts New makes. Zero fields take the defaults
// noted on each.
type Config struct {
	// Hosts is the number of hosts, 1 to 250.
	Hosts int
	// Prefix starts every namespace name (default "ddpn"); the names are
	// <Prefix>-<pid>-<random>-br for the bridge and ...-h<i> for host i.
	Prefix string
	// Subnet is the first three octets of the hosts' /24 (default
	// "10.213.0"); host i gets Subnet.<i+1>. The addresses exist only in
	// the namespaces, so runs with the same subnet do not clash.
	Subnet string
	// Rate limits every link in both directions, in tc's units
	// ("100mbit", "1gbit"); empty: no limit. See Note [Rates].
	Rate string
}

// Net is a set of hosts on one bridge.
type Net struct {
	// Hosts are the hosts, in order: Hosts[i].Addr is Subnet.<i+1>.
	Hosts []*Host
	name  string // <prefix>-<pid>-<random>
	ip    string // the ip binary
	tc    string // the tc binary, "" when absent (no rates)

	mu     sync.Mutex
	made   []string // namespaces created, in order
	closed bool
}

// Host is one test host: a network namespace with eth0 on the bridge.
type Host struct {
	// Index is the host's position in Net.Hosts.
	Index int
	// Name is the network namespace's name (ip netns exec Name ...).
	Name string
	// Addr is the host's IPv4 address on eth0.
	Addr string
	port string // the bridge's end of the host's veth pair
	net  *Net
}

// Defaults of Config.
const (
	DefaultPrefix = "ddpn"
	DefaultSubnet = "10.213.0"
	hostDev       = "eth0"
	bridgeDev     = "br0"
)

// New makes cfg.Hosts hosts on a bridge. On error everything made so far
// is removed again. The caller must Close the Net.
func New(ctx context.Context, cfg Config) (*Net, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Net{name: uniqueName(cfg.Prefix)}
	n.ip, _ = exec.LookPath("ip")
	n.tc, _ = exec.LookPath("tc")
	if cfg.Rate != "" && n.tc == "" {
		return nil, fmt.Errorf("netns: rate %s: no tc binary in PATH", cfg.Rate)
	}
	sweepStale(ctx, n.ip, cfg.Prefix)
	if err := n.build(ctx, cfg); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (c Config) withDefaults() (Config, error) {
	if c.Hosts < 1 || c.Hosts > 250 {
		return c, fmt.Errorf("netns: %d hosts: want 1 to 250", c.Hosts)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(c.Prefix, "/ \t\n") {
		return c, fmt.Errorf("netns: prefix %q: no slashes or spaces", c.Prefix)
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	if ip := net.ParseIP(c.Subnet + ".1").To4(); ip == nil {
		return c, fmt.Errorf("netns: subnet %q: want the first three octets of an IPv4 /24, e.g. %s", c.Subnet, DefaultSubnet)
	}
	return c, nil
}

// uniqueName is <prefix>-<pid>-<random>; the pid lets sweepStale tell
// whether the creator still runs.
func uniqueName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", prefix, os.Getpid(), hex.EncodeToString(b))
}

func (n *Net) bridge() string { return n.name + "-br" }

// build makes the bridge namespace, then each host. Note [Cutting a link]
// says why the veth pairs are made from the bridge's side.
func (n *Net) build(ctx context.Context, cfg Config) error {
	br := n.bridge()
	if err := n.addNamespace(ctx, br); err != nil {
		return err
	}
	if err := n.run(ctx, "ip", "-n", br, "link", "add", bridgeDev, "type", "bridge"); err != nil {
		return err
	}
	if err := n.run(ctx, "ip", "-n", br, "link", "set", bridgeDev, "up"); err != nil {
		return err
	}
	for i := range cfg.Hosts {
		h := &Host{Index: i, Name: fmt.Sprintf("%s-h%d", n.name, i), Addr: fmt.Sprintf("%s.%d", cfg.Subnet, i+1),
			port: "p" + strconv.Itoa(i), net: n}
		if err := n.addHost(ctx, h); err != nil {
			return err
		}
		if cfg.Rate != "" {
			if err := h.SetRate(ctx, cfg.Rate); err != nil {
				return err
			}
		}
		n.Hosts = append(n.Hosts, h)
	}
	return nil
}

func (n *Net) addNamespace(ctx context.Context, name string) error {
	if err := n.run(ctx, "ip", "netns", "add", name); err != nil {
		return err
	}
	n.mu.Lock()
	n.made = append(n.made, name)
	n.mu.Unlock()
	return nil
}

// addHost makes h's namespace and its veth pair, created in the bridge's
// namespace with the host's end moved straight into h's: nothing passes
// through the root namespace.
func (n *Net) addHost(ctx context.Context, h *Host) error {
	br := n.bridge()
	if err := n.addNamespace(ctx, h.Name); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "-n", br, "link", "add", h.port, "type", "veth", "peer", "name", hostDev, "netns", h.Name},
		{"ip", "-n", br, "link", "set", h.port, "master", bridgeDev},
		{"ip", "-n", br, "link", "set", h.port, "up"},
		{"ip", "-n", h.Name, "addr", "add", h.Addr + "/24", "dev", hostDev},
		{"ip", "-n", h.Name, "link", "set", hostDev, "up"},
		{"ip", "-n", h.Name, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := n.run(ctx, s...); err != nil {
			return err
		}
	}
	return nil
}

// run runs ip or tc with args and returns an error carrying its output.
func (n *Net) run(ctx context.Context, args ...string) error {
	bin := n.ip
	if args[0] == "tc" {
		bin = n.tc
	}
	out, err := exec.CommandContext(ctx, bin, args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Close kills every process left in the hosts and deletes the namespaces
// (their interfaces go with them). It may be called more than once; it
// returns the first error, after trying everything.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var first error
	for i := len(n.made) - 1; i >= 0; i-- {
		if err := removeNamespace(n.ip, n.made[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// removeNamespace kills the processes in namespace name (they were
// started there by this package's user) and deletes it. Its own context:
// cleanup must happen even when the caller's has ended.
func removeNamespace(ip, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 50 {
		pids := namespacePIDs(ctx, ip, name)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if pid != os.Getpid() { // a thread of ours visiting (Host.inside)
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.CommandContext(ctx, ip, "netns", "del", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: ip netns del %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// namespacePIDs lists the processes whose network namespace is name.
func namespacePIDs(ctx context.Context, ip, name string) []int {
	out, err := exec.CommandContext(ctx, ip, "netns", "pids", name).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Note [Stale namespaces]: a test process killed by go test's -timeout
// (or SIGKILL) runs no cleanup. Every namespace name carries the pid of
// the process that made it, so New deletes namespaces with its prefix
// whose creator no longer exists. Namespaces of live processes, and names
// without the prefix, are never touched.
func sweepStale(ctx context.Context, ip, prefix string) {
	out, err := exec.CommandContext(ctx, ip, "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if pid, ok := creator(f[0], prefix); ok && !alive(pid) {
			removeNamespace(ip, f[0])
		}
	}
}

// creator parses the pid out of <prefix>-<pid>-<random>-<suffix>.
func creator(name, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix+"-")
	if !ok {
		return 0, false
	}
	f := strings.Split(rest, "-")
	if len(f) != 3 {
		return 0, false
	}
	pid, err := strconv.Atoi(f[0])
	return pid, err == nil && pid > 0
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
