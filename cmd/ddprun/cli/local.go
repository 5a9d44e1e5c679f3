package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/ddprun/ddprun/collective/ring"
)

// Note [Local launch]: `--nproc N` re-executes this binary N times with the
// same arguments and a rank environment (env.go). The parent opens every
// rank's listener on 127.0.0.1:0 itself and hands it to the child as file
// descriptor 3, so all ports are known before any rank starts: no port
// races and no rendezvous service. Rank 0's stdout is the command's
// stdout; every rank's stderr goes to stderr with a "rank N: " prefix.
// The first rank to fail kills the others.

// launchLocal runs args as n local rank processes. See Note [Local launch].
func launchLocal(ctx context.Context, o IO, n int, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	files, peers, err := openListeners(n)
	if err != nil {
		return err
	}
	defer closeFiles(files)
	secret := make([]byte, 32)
	rand.Read(secret)
	job := "local-" + hex.EncodeToString(secret[:4])
	g, ctx := errgroup.WithContext(ctx)
	stderr := &lockedWriter{w: o.Stderr}
	for r := range n {
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), EnvRank+"="+strconv.Itoa(r), EnvWorldSize+"="+strconv.Itoa(n),
			EnvPeers+"="+strings.Join(peers, ","), EnvJobID+"="+job,
			EnvSecret+"="+hex.EncodeToString(secret), EnvListenFD+"=3")
		cmd.ExtraFiles = []*os.File{files[r]}
		cmd.Stderr = &prefixWriter{w: stderr, prefix: fmt.Sprintf("rank %d: ", r)}
		if r == 0 {
			cmd.Stdout = &lockedWriter{w: o.Stdout}
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		g.Go(func() error {
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("rank %d: %w", r, err)
			}
			return nil
		})
	}
	return g.Wait()
}

func openListeners(n int) ([]*os.File, []string, error) {
	files := make([]*os.File, 0, n)
	peers := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		f, err := ln.(*net.TCPListener).File() // a dup: closing ln keeps it
		ln.Close()
		if err != nil {
			closeFiles(files)
			return nil, nil, err
		}
		files, peers = append(files, f), append(peers, ln.Addr().String())
	}
	return files, peers, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// isRank reports whether this process was started as a rank.
func isRank(getenv func(string) string) bool { return getenv(EnvRank) != "" }

// ringConfigFromEnv builds rank's ring configuration from its environment.
func ringConfigFromEnv(getenv func(string) string) (ring.Config, error) {
	cfg := ring.DefaultConfig()
	var err1, err2, err3 error
	cfg.Rank, err1 = strconv.Atoi(getenv(EnvRank))
	cfg.Size, err2 = strconv.Atoi(getenv(EnvWorldSize))
	cfg.Secret, err3 = hex.DecodeString(getenv(EnvSecret))
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return cfg, fmt.Errorf("rank environment: %w", err)
		}
	}
	cfg.Peers = strings.Split(getenv(EnvPeers), ",")
	cfg.JobID = getenv(EnvJobID)
	if fd := getenv(EnvListenFD); fd != "" {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return cfg, fmt.Errorf("rank environment: %s: %w", EnvListenFD, err)
		}
		ln, err := net.FileListener(os.NewFile(uintptr(n), "listener"))
		if err != nil {
			return cfg, fmt.Errorf("rank environment: inherited listener: %w", err)
		}
		cfg.Listener = ln
	}
	return cfg, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// prefixWriter prefixes every line; it buffers partial lines.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := p.w.Write(append([]byte(p.prefix), p.buf[:i+1]...)); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}
