package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/k8s"
	"github.com/ddprun/ddprun/launcher"
)

// launchFlags are the flags before a rank subcommand:
//
//	ddprun [launch flags] train [train flags]
type launchFlags struct {
	nproc        int
	nodes        launcher.Nodes
	join         string
	bind         string
	port         int
	nats         string
	natsPort     int
	nodeName     string
	secretFile   string
	jobID        string
	logDir       string
	maxRestarts  int
	recovery     string
	stallTimeout time.Duration
	grace        time.Duration
	rdzvTimeout  time.Duration
	joinTimeout  time.Duration
	metricsAddr  string
}

// Register binds the flags to fs.
func (f *launchFlags) Register(fs *flag.FlagSet) {
	fs.IntVar(&f.nproc, "nproc", 0, "ranks on this node (default: one per GPU, else 1)")
	alias(fs, "nproc-per-node", "nproc") // torchrun's spellings
	alias(fs, "nproc_per_node", "nproc")
	fs.Var(&f.nodes, "nodes", "number of nodes `N`, or MIN:MAX for an elastic job (multi-node; needs a shared secret)")
	alias(fs, "nnodes", "nodes")
	fs.StringVar(&f.join, "join", "", "host:port of any running node of the job (none on the first node; in a pod from ddprun k8s render: derived from JOB_COMPLETION_INDEX and DDPRUN_K8S_*)")
	fs.StringVar(&f.bind, "bind", "", "address to listen on (default: 127.0.0.1 alone, else the address that routes to --join)")
	fs.IntVar(&f.port, "port", 7946, "gossip (memberlist) port of this node (0: any)")
	fs.StringVar(&f.nats, "nats", "", "URL of an existing NATS server (default: embedded in the first node)")
	fs.IntVar(&f.natsPort, "nats-port", 0, "port of the embedded NATS server (0: any)")
	fs.StringVar(&f.nodeName, "node-name", "", "this node's name (default: hostname-pid)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file with the job secret, hex or raw, >= 16 bytes, readable by its owner only (chmod 600) (default: $"+rankenv.Secret+", or a random one alone)")
	fs.StringVar(&f.jobID, "job-id", "", "job id (default: derived from the secret)")
	fs.StringVar(&f.logDir, "log-dir", "", "write each rank's stdout/stderr to DIR/restart-G/rank-N.{out,err} instead of the console")
	fs.IntVar(&f.maxRestarts, "max-restarts", 0, "recover from this many failures (each in-place recovery or restart counts)")
	fs.StringVar(&f.recovery, "recovery", launcher.RecoverInPlace, "how a lost rank is recovered: inplace (replace it, the other ranks keep their state; an elastic job goes on without a lost node) or restart (every rank from the last checkpoint)")
	fs.DurationVar(&f.stallTimeout, "stall-timeout", 5*time.Minute, "diagnose a hang and stop after this long without progress (0: off)")
	fs.DurationVar(&f.grace, "grace", 60*time.Second, "time ranks get to checkpoint and exit after SIGINT/SIGTERM before they are killed")
	fs.DurationVar(&f.rdzvTimeout, "rdzv-timeout", 30*time.Second, "elastic: how long to wait for more nodes once MIN have joined")
	fs.DurationVar(&f.joinTimeout, "join-timeout", 10*time.Minute, "fail when the nodes have not all joined after this long")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on HOST:PORT; :PORT listens on the --bind address only (0.0.0.0:PORT: every interface)")
}

// isLaunch reports whether a command line starts with launch flags.
func isLaunch(args []string) bool {
	return len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help"
}

// runLaunch runs the launcher: the flags up to the first non-flag
// argument are launch flags; the rest is the rank command, re-executed
// from os.Executable() once per rank. The command's flags are checked
// here first (Command.Check).
func runLaunch(ctx context.Context, o IO, args []string) error {
	var f launchFlags
	fs := flag.NewFlagSet("ddprun", flag.ContinueOnError)
	f.Register(fs)
	restore := quiet(fs)
	err := fs.Parse(args)
	restore()
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(o.Stdout)
		return nil
	case err != nil:
		return flagError(fs, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: launch flags need a command to run, e.g. ddprun --nproc 2 train ...", ErrUsage)
	}
	cmd, ok := lookup(fs.Arg(0))
	if !ok {
		return unknownCommand(fs.Arg(0))
	}
	if cmd.Check != nil { // the rank's own parse and validation, once, before any rank starts
		if done, err := cmd.Check(o, fs.Args()[1:]); done {
			return err
		}
	}
	if err := f.podDefaults(ctx); err != nil {
		return err
	}
	return f.launch(ctx, o, fs.Args())
}

// launchLocalRanks runs command as n ranks on this machine under the
// launcher, as `ddprun --nproc n <command>` does, for a command that
// launches itself when started alone (bench allreduce).
func launchLocalRanks(ctx context.Context, o IO, n int, command []string) error {
	var f launchFlags
	f.Register(flag.NewFlagSet("ddprun", flag.ContinueOnError)) // the defaults
	f.nproc = n
	return f.launch(ctx, o, command)
}

// launch runs the launcher on command with f and maps its exit code.
func (f *launchFlags) launch(ctx context.Context, o IO, command []string) error {
	cfg, err := f.config(o, command)
	if err != nil {
		return err
	}
	code, err := launcher.Run(ctx, cfg)
	if code == launcher.ExitOK {
		return nil
	}
	if err == nil {
		err = fmt.Errorf("launcher exited with code %d", code)
	}
	return ExitError{Code: code, Err: err}
}

// podDefaults fills what a pod rendered by `ddprun k8s render` knows from
// its environment (node rank from JOB_COMPLETION_INDEX, the join seed
// <job>-0.<svc>, the pod IP) into the flags the user left unset, and waits
// until the seed resolves and listens, so pods may start in any order.
func (f *launchFlags) podDefaults(ctx context.Context) error {
	if !f.nodes.MultiNode() {
		return nil
	}
	host, _ := os.Hostname()
	d, ok, err := k8s.PodDefaults(os.Getenv, host)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if !ok {
		return nil
	}
	if f.bind == "" {
		f.bind = d.Bind
	}
	if f.nodeName == "" {
		f.nodeName = d.NodeName
	}
	if f.join != "" || d.Join == "" {
		return nil
	}
	r, err := k8s.ResolverFromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	jctx, cancel := context.WithTimeout(ctx, f.joinTimeout)
	defer cancel()
	f.join, err = k8s.WaitForSeed(jctx, d.Join, r, (&net.Dialer{}).DialContext)
	return err
}

func (f *launchFlags) config(o IO, command []string) (launcher.Config, error) {
	exe, err := os.Executable()
	if err != nil {
		return launcher.Config{}, fmt.Errorf("finding the ddprun executable: %w", err)
	}
	secret, err := f.secret()
	if err != nil {
		return launcher.Config{}, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	stall := f.stallTimeout
	if stall == 0 {
		stall = -1 // off
	}
	cfg := launcher.Config{
		Command: append([]string{exe}, command...),
		NProc:   f.nproc, Nodes: f.nodes, Join: f.join, Bind: f.bind, Port: f.port,
		NATS: f.nats, NATSPort: f.natsPort, NodeName: f.nodeName, Secret: secret, JobID: f.jobID,
		LogDir: f.logDir, MaxRestarts: f.maxRestarts, Recovery: f.recovery, StallTimeout: stall, Grace: f.grace,
		LastCall: f.rdzvTimeout, JoinTimeout: f.joinTimeout, MetricsAddr: f.metricsAddr,
		GPUs: -1, Env: os.Environ(), Stdout: o.Stdout, Stderr: o.Stderr, StderrTerminal: isTerminal(o.Stderr),
	}
	if !f.nodes.MultiNode() {
		cfg.Port = 0
	}
	return cfg, nil
}

// secret reads --secret-file, else $DDPRUN_SECRET (hex), else nil (the
// launcher generates one for a single-node job).
func (f *launchFlags) secret() ([]byte, error) {
	if f.secretFile != "" {
		return rankenv.ReadSecretFile(f.secretFile)
	}
	if s := os.Getenv(rankenv.Secret); s != "" {
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s is not hex: %w", rankenv.Secret, err)
		}
		return b, nil
	}
	return nil, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
