package rankenv

import (
	"errors"
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
		Control: "nats://127.0.0.1:4222", Restart: 3, ListenFD: 3, Device: "cpu"}
	got, err := FromEnv(envOf(want.Environ("")))
	if err != nil {
		t.Fatal(err)
	}
	if got.Rank != want.Rank || got.NodeRank != 1 || !slices.Equal(got.Peers, want.Peers) || string(got.Secret) != string(want.Secret) ||
		got.Restart != 3 || got.ListenFD != 3 || got.Control != want.Control || got.Device != "cpu" {
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
	} {
		if _, err := FromEnv(envOf(edit(base.Environ("")))); !errors.Is(err, ErrEnv) {
			t.Errorf("%s: error %v, want ErrEnv", name, err)
		}
	}
}
