package launcher

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ddprun/ddprun/internal/rankenv"
)

// Exit codes of a launcher (Run's first result).
const (
	ExitOK      = 0 // every rank finished
	ExitFailed  = 1 // a rank failed, a node left or the job stalled, and no restart was left
	ExitUsage   = 2 // bad flags or environment
	ExitStopped = 3 // stopped on request (a signal): every rank checkpointed and exited cleanly
	ExitKilled  = 4 // stopped on request, but some rank had to be killed after the grace period
	ExitRefused = 5 // a rank refused to start (RankRefusedCode): not restarted
)

// RankStoppedCode is the exit code of a rank that stopped cleanly after a
// checkpoint because it was asked to (SIGTERM or a stop request).
const RankStoppedCode = 3

// RankRefusedCode is the exit code of a rank that refused to start for a
// reason a restart cannot change (its output folder holds another run's
// checkpoints): the launcher does not restart the job after it.
const RankRefusedCode = 5

// ErrConfig is wrapped by every error about a bad Config.
var ErrConfig = errors.New("launcher: bad configuration")

// Nodes is a node count or an elastic range MIN:MAX.
type Nodes struct{ Min, Max int }

// Set parses "N" or "MIN:MAX" (a flag.Value).
func (n *Nodes) Set(s string) error {
	lo, hi, elastic := strings.Cut(s, ":")
	a, err := strconv.Atoi(lo)
	b := a
	if err == nil && elastic {
		b, err = strconv.Atoi(hi)
	}
	if err != nil || a < 1 || b < a {
		return fmt.Errorf("%w: --nodes %q: want N or MIN:MAX with 1 <= MIN <= MAX", ErrConfig, s)
	}
	n.Min, n.Max = a, b
	return nil
}

func (n *Nodes) String() string {
	if n == nil || n.Max == 0 {
		return ""
	}
	if n.Min == n.Max {
		return strconv.Itoa(n.Min)
	}
	return fmt.Sprintf("%d:%d", n.Min, n.Max)
}

// MultiNode reports whether the job spans launchers on several machines
// (or was asked to rendezvous with --nodes at all).
func (n Nodes) MultiNode() bool { return n.Max > 0 }

// Config is one launcher's job description. Zero fields take the defaults
// noted on each.
type Config struct {
	// Command is the rank's argv: the executable and its arguments, run
	// once per rank with the rankenv contract in its environment.
	Command []string
	// NProc is the number of ranks on this node (0: one per GPU, else 1).
	NProc int
	// Nodes is the node count; zero means a single-node job with no
	// rendezvous network (everything on 127.0.0.1).
	Nodes Nodes
	// Join is a running node's memberlist address ("host:port"); empty on
	// the first node, which hosts the NATS server and the rendezvous.
	Join string
	// Bind is the address this node listens on (memberlist, NATS, ring).
	// Empty: 127.0.0.1 for single-node jobs, else the address that routes
	// to Join (or the default route on the first node).
	Bind string
	// Port is memberlist's port (0: any free port; the CLI defaults to 7946).
	Port int
	// NATSPort is the embedded NATS server's port (0: any free port).
	NATSPort int
	// NATS names an existing NATS server instead of the embedded one.
	NATS string
	// NodeName names this node in the cluster (default: hostname-port).
	NodeName string
	// Secret is the job secret (at least 16 bytes); nil generates one for
	// a single-node job. Multi-node jobs must share one.
	Secret []byte
	// JobID scopes NATS subjects and ring handshakes (default: derived from
	// the secret, so every node agrees).
	JobID string
	// LogDir, when set, receives each rank's stdout and stderr as files
	// (LogDir/restart-G/rank-N.{out,err}) instead of prefixed console lines,
	// and stack dumps of stalled ranks.
	LogDir string
	// MaxRestarts is how many times the job is restarted after a failure.
	// Each recovery in place counts as one (a generation).
	MaxRestarts int
	// Recovery is how a lost rank is recovered when MaxRestarts allows:
	// RecoverInPlace (the default, "") replaces it and the other ranks
	// keep their state (Note [Recovery in place]), and an elastic job
	// goes on without a node that leaves; RecoverRestart restarts every
	// rank from the newest checkpoint. The first node's setting applies.
	Recovery string
	// StallTimeout is how long the job may make no progress before the
	// launcher diagnoses a hang and stops it (0: 5 minutes; <0: off).
	StallTimeout time.Duration
	// Grace is how long ranks get to checkpoint and exit after a stop
	// request before they are killed (0: 60 s).
	Grace time.Duration
	// LastCall is how long an elastic rendezvous waits for more nodes once
	// MIN have joined (0: 30 s).
	LastCall time.Duration
	// JoinTimeout bounds a rendezvous (0: 10 minutes).
	JoinTimeout time.Duration
	// MetricsAddr, when set, serves Prometheus /metrics there, for this
	// node's ranks (Note [Metrics]). Without a host (":9400") it listens
	// on Bind, like the other listeners; "0.0.0.0:9400" listens on every
	// interface.
	MetricsAddr string
	// GPUs is the number of GPUs on this node (-1: detect).
	GPUs int
	// Env is the environment the ranks inherit (os.Environ() in
	// production); rankenv variables in it are replaced.
	Env []string
	// Stdout and Stderr receive the ranks' prefixed output (rank 0's
	// stdout unprefixed: Note [Rank output]) and the launcher's reports. StderrTerminal says Stderr is a terminal: rank 0
	// then writes to it directly so its progress bar redraws in place.
	Stdout, Stderr io.Writer
	StderrTerminal bool
	// Log receives the launcher's own diagnostics (default: text on Stderr).
	Log *slog.Logger
	// Memberlist returns the memberlist preset (default
	// memberlist.DefaultLANConfig; tests use DefaultLocalConfig).
	Memberlist func() *memberlist.Config
}

// Recovery modes (Config.Recovery).
const (
	RecoverInPlace = rankenv.RecoverInPlace
	RecoverRestart = "restart"
)

// inPlace is the World's Recovery this configuration gives: in place when
// asked for (the default) and restarts are allowed.
func (c *Config) inPlace() string {
	if c.MaxRestarts > 0 && c.Recovery != RecoverRestart {
		return RecoverInPlace
	}
	return ""
}

func (c *Config) grace() time.Duration       { return orDefault(c.Grace, 60*time.Second) }
func (c *Config) lastCall() time.Duration    { return orDefault(c.LastCall, 30*time.Second) }
func (c *Config) joinTimeout() time.Duration { return orDefault(c.JoinTimeout, 10*time.Minute) }
func (c *Config) stallTimeout() time.Duration {
	return orDefault(c.StallTimeout, 5*time.Minute)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (c *Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
	}
	switch {
	case len(c.Command) == 0:
		return bad("no rank command")
	case c.NProc < 1:
		return bad("--nproc %d: want at least 1", c.NProc)
	case c.MaxRestarts < 0:
		return bad("--max-restarts %d: want >= 0", c.MaxRestarts)
	case c.Nodes.MultiNode() && len(c.Secret) < 16:
		return bad("a multi-node job needs a shared secret of at least 16 bytes on every node: " +
			"--secret-file FILE or DDPRUN_SECRET=hex (e.g. `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`)")
	case c.Secret != nil && len(c.Secret) < 16:
		return bad("the job secret is %d bytes; want at least 16", len(c.Secret))
	case !c.Nodes.MultiNode() && c.Join != "":
		return bad("--join needs --nodes")
	case c.Recovery != "" && c.Recovery != RecoverInPlace && c.Recovery != RecoverRestart:
		return bad("--recovery %q: want %s or %s", c.Recovery, RecoverInPlace, RecoverRestart)
	}
	for _, r := range c.JobID {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return bad("job id %q: use letters, digits, '-' and '_' only", c.JobID)
		}
	}
	return nil
}
