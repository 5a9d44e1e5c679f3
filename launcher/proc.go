package launcher

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ddprun/ddprun/internal/rankenv"
)

// proc is one running rank process.
type proc struct {
	id   rankenv.Identity
	node string
	cmd  *exec.Cmd
	tail *tail // nil when stderr goes to a terminal

	mu     sync.Mutex
	divert io.Writer // stack dump destination, once set

	done   chan struct{} // closed when the process has exited and its output is drained
	state  *os.ProcessState
	err    error
	exitAt time.Time
}

// rankSpec is what start needs to know about one rank.
type rankSpec struct {
	id       rankenv.Identity
	node     string
	listener *net.TCPListener // passed as fd 3 (DDPRUN_LISTEN_FD)
	// keepListener leaves the launcher's copy of the listener open, for a
	// replacement in the same slot (Note [Recovery in place]).
	keepListener bool
	env          []string // the whole environment
	command      []string
	stdout       *syncWriter
	stderr       *syncWriter
	terminal     *os.File // rank 0's stderr when it is a terminal
	logDir       string   // per-generation directory, or ""
}

// startRank starts the rank process. The listener's socket moves into the
// child; the launcher's copy is closed unless spec.keepListener.
func startRank(spec rankSpec) (*proc, error) {
	p := &proc{id: spec.id, node: spec.node, done: make(chan struct{})}
	cmd := exec.Command(spec.command[0], spec.command[1:]...)
	cmd.Env = spec.env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // a terminal's Ctrl-C reaches the launcher only; it forwards
		Pdeathsig: syscall.SIGKILL, // ranks die with a killed launcher
	}
	if spec.listener != nil {
		f, err := spec.listener.File()
		if !spec.keepListener {
			spec.listener.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("rank %d: passing its listener: %w", spec.id.Rank, err)
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f}
	}
	var pipes []io.ReadCloser
	outW, errW, closers, err := p.outputs(spec)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	if outW == nil {
		r, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		pipes = append(pipes, r)
	} else {
		cmd.Stdout = outW
	}
	var errPipe io.ReadCloser
	if errW == nil {
		if errPipe, err = cmd.StderrPipe(); err != nil {
			return nil, err
		}
	} else {
		cmd.Stderr = errW
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("rank %d: starting %s: %w", spec.id.Rank, spec.command[0], err)
	}
	p.cmd = cmd
	p.drain(spec, pipes, errPipe)
	return p, nil
}

// outputs opens the log files, or returns nil writers where a pipe is
// needed. The files are closed by the caller once the child has them.
func (p *proc) outputs(spec rankSpec) (out, errw io.Writer, closers []io.Closer, err error) {
	if spec.logDir != "" {
		base := filepath.Join(spec.logDir, fmt.Sprintf("rank-%d", spec.id.Rank))
		fo, err := os.Create(base + ".out")
		if err != nil {
			return nil, nil, nil, fmt.Errorf("rank %d: %w", spec.id.Rank, err)
		}
		closers = append(closers, fo)
		out = fo
	}
	if spec.terminal != nil {
		return out, spec.terminal, closers, nil
	}
	p.tail = newTail(tailLines)
	return out, nil, closers, nil
}

// drain copies the pipes and closes p.done once the process has exited and
// every pipe is drained.
func (p *proc) drain(spec rankSpec, pipes []io.ReadCloser, errPipe io.ReadCloser) {
	prefix := fmt.Sprintf("[rank %d] ", spec.id.Rank)
	outPrefix := prefix
	if spec.id.Rank == 0 {
		outPrefix = "" // the job's result (Note [Rank output])
	}
	var wg sync.WaitGroup
	for _, r := range pipes {
		wg.Go(func() { stream(r, spec.stdout, outPrefix, nil, p.diverted) })
	}
	if errPipe != nil {
		dst, pre := spec.stderr, prefix
		var file *os.File
		if spec.logDir != "" {
			f, err := os.Create(filepath.Join(spec.logDir, fmt.Sprintf("rank-%d.err", spec.id.Rank)))
			if err == nil {
				file, dst, pre = f, &syncWriter{w: f}, ""
			}
		}
		wg.Go(func() {
			stream(errPipe, dst, pre, p.tail, p.diverted)
			if file != nil {
				file.Close()
			}
		})
	}
	go func() {
		wg.Wait() // pipes first: cmd.Wait closes them
		err := p.cmd.Wait()
		p.exitAt = time.Now()
		p.state, p.err = p.cmd.ProcessState, err
		close(p.done)
	}()
}

func (p *proc) diverted() io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.divert
}

// divertTo sends the rank's further output to w (a stack dump file).
func (p *proc) divertTo(w io.Writer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.divert = w
}

func (p *proc) signal(sig os.Signal) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(sig)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit code (-1 when killed by a signal) and the
// signal's name.
func (p *proc) exitCode() (int, string) {
	if p.state == nil {
		return -1, ""
	}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1, sigName(ws.Signal())
	}
	return p.state.ExitCode(), ""
}

// processState is the state letter of process pid in /proc/PID/stat (R
// running, S sleeping, D uninterruptible, T stopped, t traced, Z zombie),
// or "" when it cannot be read.
func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// signalNames are the conventional names of the signals a rank dies of;
// Go's Signal.String gives descriptions ("killed").
var signalNames = map[syscall.Signal]string{
	syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT",
	syscall.SIGQUIT: "SIGQUIT", syscall.SIGINT: "SIGINT", syscall.SIGBUS: "SIGBUS",
}

func sigName(s syscall.Signal) string {
	name, ok := signalNames[s]
	if !ok {
		name = strings.ToUpper(s.String())
	}
	return fmt.Sprintf("%s (%d)", name, int(s))
}

// env builds a rank's environment: the base environment without any
// rankenv variable, then id's, then extra.
func rankEnviron(base []string, id rankenv.Identity, extra ...string) []string {
	drop := map[string]bool{}
	for _, kv := range id.Environ("") {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	for _, k := range []string{rankenv.ListenFD, rankenv.Control, rankenv.Device, rankenv.SecretFile, rankenv.Secret,
		rankenv.Recovery, rankenv.Replacement} {
		drop[k] = true
	}
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	env := make([]string, 0, len(base)+16)
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	env = append(env, id.Environ("")...)
	return append(env, extra...)
}
