package rankenv

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func envOf(lines []string) func(string) string {
	m := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestSingleWhenUnset(t *testing.T) {
	id, err := FromEnv(func(string) string { return "" })
	if err != nil || id.Distributed() || id.WorldSize != 1 {
		t.Fatalf("%+v, %v", id, err)
	}
}

func TestRoundTrip(t *testing.T) {
	want := Identity{Rank: 2, WorldSize: 4, LocalRank: 0, LocalWorldSize: 2, NodeRank: 1,
		Peers: []string{"a:1", "a:2", "b:1", "b:2"}, JobID: "j1", Secret: []byte("0123456789abcdef!"),
		Control: "nats://127.0.0.1:4222", Restart: 3, ListenFD: 3, Device: "cpu", Recovery: RecoverInPlace, Replacement: true}
	got, err := FromEnv(envOf(want.Environ("")))
	if err != nil {
		t.Fatal(err)
	}
	if got.Rank != want.Rank || got.NodeRank != 1 || !slices.Equal(got.Peers, want.Peers) || string(got.Secret) != string(want.Secret) ||
		got.Restart != 3 || got.ListenFD != 3 || got.Control != want.Control || got.Device != "cpu" ||
		got.Recovery != RecoverInPlace || !got.Replacement {
		t.Errorf("got %+v, want %+v", got, want)
	}
	f := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(f, []byte("raw secret of enough bytes\n"), 0o600)
	got, err = FromEnv(envOf(want.Environ(f)))
	if err != nil || string(got.Secret) != "raw secret of enough bytes" {
		t.Errorf("secret file: %q, %v", got.Secret, err)
	}
}

func TestErrors(t *testing.T) {
	base := Identity{Rank: 1, WorldSize: 2, LocalWorldSize: 2, LocalRank: 1, Peers: []string{"h:1", "h:2"}, JobID: "j", Secret: make([]byte, 32)}
	for name, edit := range map[string]func([]string) []string{
		"rank out of range": func(e []string) []string { return append(e, "RANK=2") },
		"not an integer":    func(e []string) []string { return append(e, "WORLD_SIZE=two") },
		"peer count":        func(e []string) []string { return append(e, "DDPRUN_PEERS=h:1") },
		"bad peer":          func(e []string) []string { return append(e, "DDPRUN_PEERS=h:1,nocolon") },
		"no secret":         func(e []string) []string { return append(e, "DDPRUN_SECRET=") },
		"short secret":      func(e []string) []string { return append(e, "DDPRUN_SECRET=abcd") },
		"no job":            func(e []string) []string { return append(e, "DDPRUN_JOB_ID=") },
		"recovery":          func(e []string) []string { return append(e, "DDPRUN_RECOVERY=later") },
	} {
		if _, err := FromEnv(envOf(edit(base.Environ("")))); !errors.Is(err, ErrEnv) {
			t.Errorf("%s: error %v, want ErrEnv", name, err)
		}
	}
}

// TestReadSecretFile_Mode: a secret file that others may read is refused
// with the file, its mode and the chmod that fixes it; the owner's
// 0600/0400 are fine.
func TestReadSecretFile_Mode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode fs.FileMode
		ok   bool
	}{{0o600, true}, {0o400, true}, {0o644, false}, {0o640, false}, {0o604, false}, {0o620, false}, {0o666, false}} {
		f := filepath.Join(dir, fmt.Sprintf("secret-%04o", tc.mode))
		if err := os.WriteFile(f, []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, tc.mode); err != nil {
			t.Fatal(err)
		}
		if owner := fileOwnerOf(t, f); owner == 0 && tc.mode == 0o640 {
			tc.ok = true // root's file, readable by root's choice of group: see TestCheckSecretMode
		}
		b, err := ReadSecretFile(f)
		switch {
		case tc.ok && (err != nil || len(b) != 16):
			t.Errorf("mode %04o: %x, %v; want the secret", tc.mode, b, err)
		case !tc.ok && !errors.Is(err, ErrSecretFileMode):
			t.Errorf("mode %04o: %v; want ErrSecretFileMode", tc.mode, err)
		case !tc.ok:
			for _, want := range []string{f, fmt.Sprintf("mode %04o", tc.mode), "chmod 600 " + f} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("mode %04o: error %q does not say %q", tc.mode, err, want)
				}
			}
		}
	}
	// The same through DDPRUN_SECRET_FILE, as a rank reads it.
	f := filepath.Join(dir, "secret-0644")
	id := Identity{Rank: 0, WorldSize: 2, LocalWorldSize: 2, Peers: []string{"h:1", "h:2"}, JobID: "j"}
	if _, err := FromEnv(envOf(id.Environ(f))); !errors.Is(err, ErrSecretFileMode) {
		t.Errorf("DDPRUN_SECRET_FILE with mode 0644: %v, want ErrSecretFileMode", err)
	}
}

// TestCheckSecretMode is the rule for every owner (Note [Secret file
// mode]): only root's files may be group-readable.
func TestCheckSecretMode(t *testing.T) {
	for _, tc := range []struct {
		mode  fs.FileMode
		owner int
		ok    bool
	}{
		{0o600, 1000, true}, {0o400, 1000, true}, {0o640, 1000, false}, {0o440, 1000, false}, {0o604, 1000, false},
		{0o602, 1000, false}, {0o610, 1000, false},
		{0o400, 0, true}, {0o440, 0, true}, {0o640, 0, true}, {0o660, 0, false}, {0o644, 0, false}, {0o444, 0, false}, {0o650, 0, false},
		{0o600 | fs.ModeSymlink, 1000, true},
	} {
		err := checkSecretMode("/s", tc.mode, tc.owner)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrSecretFileMode) {
			t.Errorf("mode %04o owner %d: %v, want ok=%v", tc.mode.Perm(), tc.owner, err, tc.ok)
		}
	}
}

func fileOwnerOf(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileOwner(fi)
}

// The inherited socket serves one listener after another: closing the
// first (as a ring does once it is up) leaves the descriptor open, so the
// next accepts on the same address.
func TestListener_Reusable(t *testing.T) {
	if ln, err := (Identity{}).Listener(); ln != nil || err != nil {
		t.Fatalf("no ListenFD: %v, %v; want nil, nil", ln, err)
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := tcp.(*net.TCPListener).File()
	tcp.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id := Identity{ListenFD: int(f.Fd())}
	for i := range 3 {
		ln, err := id.Listener()
		if err != nil {
			t.Fatalf("listener %d: %v", i, err)
		}
		if ln.Addr().String() != tcp.Addr().String() {
			t.Errorf("listener %d on %v, want %v", i, ln.Addr(), tcp.Addr())
		}
		c, err := net.Dial("tcp", tcp.Addr().String())
		if err != nil {
			t.Fatalf("listener %d: dial: %v", i, err)
		}
		a, err := ln.Accept()
		if err != nil {
			t.Fatalf("listener %d: accept: %v", i, err)
		}
		a.Close()
		c.Close()
		ln.Close()
	}
}

// TestInWorld: in a generation that continues in place the rank keeps its
// address, and its rank is that address's place in the new ring.
func TestInWorld(t *testing.T) {
	id := Identity{Rank: 2, WorldSize: 4, Peers: []string{"a:1", "a:2", "b:1", "b:2"}, Restart: 0}
	got, err := id.InWorld(1, []string{"a:1", "a:2", "b:1", "b:2"})
	if err != nil || got.Rank != 2 || got.WorldSize != 4 || got.Restart != 1 {
		t.Errorf("same world: %+v, %v", got, err)
	}
	got, err = id.InWorld(2, []string{"a:1", "b:1", "b:2"})
	if err != nil || got.Rank != 1 || got.WorldSize != 3 || !slices.Equal(got.Peers, []string{"a:1", "b:1", "b:2"}) {
		t.Errorf("smaller world: %+v, %v", got, err)
	}
	if _, err := id.InWorld(3, []string{"a:1", "a:2"}); !errors.Is(err, ErrEnv) {
		t.Errorf("without its address: %v, want ErrEnv", err)
	}
}
