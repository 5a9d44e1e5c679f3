package ring_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
)

// The multi-process test re-executes the test binary as rank processes
// (TestMain sees the environment below). The parent opens each rank's
// listener on 127.0.0.1:0 and hands it over as file descriptor 3, so the
// ports are known before any rank starts.
const (
	envWorker  = "RING_TEST_WORKER" // this process is a rank: RANK,SIZE
	envPeers   = "RING_TEST_PEERS"
	envForever = "RING_TEST_FOREVER" // all-reduce until an error; exit exitPeerLost if a peer was lost
)

// exitPeerLost is a worker's exit status for an error wrapping
// collective.ErrPeerLost (or ErrAborted after it).
const exitPeerLost = 7

func TestMain(m *testing.M) {
	if v := os.Getenv(envWorker); v != "" {
		if err := worker(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			if errors.Is(err, collective.ErrPeerLost) {
				os.Exit(exitPeerLost)
			}
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func worker(identity string) error {
	var rank, size int
	if _, err := fmt.Sscanf(identity, "%d,%d", &rank, &size); err != nil {
		return err
	}
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return err
	}
	cfg := ring.LocalConfig()
	cfg.Rank, cfg.Size, cfg.Listener = rank, size, ln
	cfg.Peers = strings.Split(os.Getenv(envPeers), ",")
	cfg.JobID, cfg.Secret = "multiprocess", []byte("multiprocess secret")
	cfg.ChunkBytes = 64 << 10
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ring.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if os.Getenv(envForever) != "" {
		for {
			if err := mixedAllReduces(ctx, c, 10); err != nil {
				return err
			}
		}
	}
	return mixedAllReduces(ctx, c, 100)
}

// mixedAllReduces runs calls of sizes from 1 element to 256K, checking
// each result exactly against the sequential sum.
func mixedAllReduces(ctx context.Context, c collective.Comm, calls int) error {
	for i := range calls {
		count := 1 + (i*7919)%(1<<(i%19))
		x := exactInput(c.Rank()+i, count)
		if err := c.AllReduce(ctx, collective.Float32s(x), collective.Sum); err != nil {
			return err
		}
		inputs := make([][]float32, c.Size())
		for r := range inputs {
			inputs[r] = exactInput(r+i, count)
		}
		if d := diffFloats(naive(inputs, collective.Sum), x); d != "" {
			return fmt.Errorf("rank %d call %d (%d elements): %s", c.Rank(), i, count, d)
		}
	}
	return nil
}

func TestRing_MultiProcess(t *testing.T) {
	cmds := startWorkers(t, 4, nil)
	for r, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

// A rank process killed with SIGKILL in the middle of all-reduces: every
// other rank's call fails with ErrPeerLost, naming the peer, within
// seconds (the kernel closes the dead process's sockets; no timeout needed).
func TestRing_MultiProcessKill(t *testing.T) {
	const n, victim = 4, 2
	cmds := startWorkers(t, n, []string{envForever + "=1"})
	time.Sleep(500 * time.Millisecond) // let them connect and run
	killed := time.Now()
	if err := cmds[victim].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmds[victim].Wait()
	for r, cmd := range cmds {
		if r == victim {
			continue
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitPeerLost {
				t.Errorf("rank %d: %v, want exit status %d (peer lost)", r, err, exitPeerLost)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("rank %d still running 15 s after rank %d was killed", r, victim)
		}
	}
	t.Logf("all ranks failed %v after the kill", time.Since(killed).Round(time.Millisecond))
}

// startWorkers starts n rank processes with their listeners inherited.
func startWorkers(t *testing.T, n int, env []string) []*exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	files := make([]*os.File, n)
	peers := make([]string, n)
	for r := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		peers[r] = ln.Addr().String()
		files[r], err = ln.(*net.TCPListener).File()
		ln.Close() // the dup in files[r] keeps the socket open
		if err != nil {
			t.Fatal(err)
		}
		defer files[r].Close()
	}
	cmds := make([]*exec.Cmd, n)
	for r := range n {
		cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), envWorker+"="+strconv.Itoa(r)+","+strconv.Itoa(n), envPeers+"="+strings.Join(peers, ","))
		cmd.Env = append(cmd.Env, env...)
		cmd.ExtraFiles = []*os.File{files[r]}
		cmd.Stderr = &prefixWriter{t: t, prefix: fmt.Sprintf("rank %d: ", r)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = cmd
	}
	return cmds
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimSpace(string(b)))
	return len(b), nil
}
