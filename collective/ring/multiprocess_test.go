package ring_test

import (
	"context"
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
	envWorker = "RING_TEST_WORKER" // this process is a rank: RANK,SIZE
	envPeers  = "RING_TEST_PEERS"
)

func TestMain(m *testing.M) {
	if v := os.Getenv(envWorker); v != "" {
		if err := worker(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
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
	const n = 4
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
		cmd.ExtraFiles = []*os.File{files[r]}
		cmd.Stderr = &prefixWriter{t: t, prefix: fmt.Sprintf("rank %d: ", r)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = cmd
	}
	for r, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}

type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimSpace(string(b)))
	return len(b), nil
}
