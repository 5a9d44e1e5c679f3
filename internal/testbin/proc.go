package testbin

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proc is a process started by a test (a launcher, a simulated pod), its
// stdout and stderr collected together.
type Proc struct {
	Cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

// Start starts cmd with its output collected and kills it when the test
// ends.
func Start(t testing.TB, cmd *exec.Cmd) (*Proc, error) {
	p := &Proc{Cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return p, nil
}

// Write collects output; it is the process's stdout and stderr.
func (p *Proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output is the output so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Wait waits up to d for the process to exit, logs its output under name,
// and returns its exit code; past d it kills the process and fails the
// test.
func (p *Proc) Wait(t testing.TB, name string, d time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		t.Logf("%s: %v\n%s", name, err, p.Output())
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(d):
		p.Cmd.Process.Kill()
		t.Fatalf("%s did not finish in %v:\n%s", name, d, p.Output())
		return -1
	}
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TrainCSV writes dir/train.csv: 64 rows of 8 words, 2 labels that the
// words separate, for end-to-end training runs.
func TrainCSV(t testing.TB, dir string) string {
	t.Helper()
	words := [][]string{{"meeting", "report", "lunch", "project", "team", "agenda"}, {"spam", "offer", "free", "win", "money", "click"}}
	var b strings.Builder
	b.WriteString("text,label\n")
	for i := range 64 {
		l := i % 2
		for j := range 8 {
			b.WriteString(words[l][(i*7+j*3)%6] + " ")
		}
		fmt.Fprintf(&b, ",%d\n", l)
	}
	path := filepath.Join(dir, "train.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
