// Package rankenv is the contract between the launcher and a rank process:
// the environment variables that tell a rank who it is, where its peers
// are and how to prove it belongs to the job. It follows torchrun's names
// where torchrun has one, so a rank can also be started by hand, by a
// scheduler or by Kubernetes.
//
//	RANK, WORLD_SIZE               global rank and world size
//	LOCAL_RANK, LOCAL_WORLD_SIZE   rank on this node and ranks on this node
//	NODE_RANK                      this node's rank among the nodes
//	DDPRUN_PEERS                   ring addresses, rank order: "host:port,host:port,..."
//	DDPRUN_LISTEN_FD               optional: an inherited listening socket for this rank's ring address
//	DDPRUN_JOB_ID                  job id; every rank must agree
//	DDPRUN_SECRET                  the per-job secret (hex), or
//	DDPRUN_SECRET_FILE             a file holding it
//	DDPRUN_CONTROL                 optional: the control plane's NATS URL (heartbeats, stop requests)
//	DDPRUN_RESTART                 how many times the job has been restarted (0 on the first start)
//	DDPRUN_DEVICE                  optional: the device this rank uses ("cpu", "cuda:0")
//	DDPRUN_RECOVERY                optional: "inplace": the rank outlives a lost peer, waiting for a new world on the control plane
//	DDPRUN_REPLACEMENT             optional: "1": the rank replaces a lost one in a running job and takes the survivors' state
//
// With none of them set, a process is rank 0 of 1 and needs no network.
package rankenv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Variable names.
const (
	Rank           = "RANK"
	WorldSize      = "WORLD_SIZE"
	LocalRank      = "LOCAL_RANK"
	LocalWorldSize = "LOCAL_WORLD_SIZE"
	NodeRank       = "NODE_RANK"
	Peers          = "DDPRUN_PEERS"
	ListenFD       = "DDPRUN_LISTEN_FD"
	JobID          = "DDPRUN_JOB_ID"
	Secret         = "DDPRUN_SECRET"
	SecretFile     = "DDPRUN_SECRET_FILE"
	Control        = "DDPRUN_CONTROL"
	Restart        = "DDPRUN_RESTART"
	Device         = "DDPRUN_DEVICE"
	Recovery       = "DDPRUN_RECOVERY"
	Replacement    = "DDPRUN_REPLACEMENT"
)

// RecoverInPlace is the Recovery of a rank that outlives a lost peer.
const RecoverInPlace = "inplace"

// ErrEnv is wrapped by every error about a malformed environment.
var ErrEnv = errors.New("rankenv: bad environment")

// Identity is everything a rank learns from its environment.
type Identity struct {
	Rank, WorldSize           int
	LocalRank, LocalWorldSize int
	NodeRank                  int
	Peers                     []string
	ListenFD                  int // 0: none
	JobID                     string
	Secret                    []byte
	Control                   string
	Restart                   int
	Device                    string
	Recovery                  string // RecoverInPlace or ""
	Replacement               bool
}

// Single is the identity of a process started alone.
func Single() Identity {
	return Identity{WorldSize: 1, LocalWorldSize: 1}
}

// Distributed reports whether the rank has peers.
func (id Identity) Distributed() bool { return id.WorldSize > 1 }

// Launched reports whether getenv holds a rank identity (RANK or
// WORLD_SIZE set): the process was started as one rank of a job, by the
// launcher, a scheduler or by hand, rather than alone.
func Launched(getenv func(string) string) bool {
	return getenv(Rank) != "" || getenv(WorldSize) != ""
}

// FromEnv reads the identity from getenv (os.Getenv in production).
func FromEnv(getenv func(string) string) (Identity, error) {
	id := Single()
	if !Launched(getenv) {
		return id, nil
	}
	r := envReader{getenv: getenv}
	id.Rank = r.int(Rank, 0)
	id.WorldSize = r.int(WorldSize, 1)
	id.LocalRank = r.int(LocalRank, id.Rank)
	id.LocalWorldSize = r.int(LocalWorldSize, id.WorldSize)
	id.NodeRank = r.int(NodeRank, 0)
	id.ListenFD = r.int(ListenFD, 0)
	id.Restart = r.int(Restart, 0)
	id.JobID = getenv(JobID)
	id.Control = getenv(Control)
	id.Device = getenv(Device)
	id.Recovery = getenv(Recovery)
	id.Replacement = getenv(Replacement) == "1"
	if p := getenv(Peers); p != "" {
		id.Peers = strings.Split(p, ",")
	}
	if r.err != nil {
		return id, r.err
	}
	var err error
	if id.Secret, err = readSecret(getenv); err != nil {
		return id, err
	}
	return id, id.Validate()
}

// Validate checks that the identity is complete and consistent.
func (id Identity) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrEnv}, a...)...)
	}
	switch {
	case id.WorldSize < 1 || id.Rank < 0 || id.Rank >= id.WorldSize:
		return bad("%s=%d is not in [0, %s=%d)", Rank, id.Rank, WorldSize, id.WorldSize)
	case id.LocalWorldSize < 1 || id.LocalRank < 0 || id.LocalRank >= id.LocalWorldSize:
		return bad("%s=%d is not in [0, %s=%d)", LocalRank, id.LocalRank, LocalWorldSize, id.LocalWorldSize)
	case !id.Distributed():
		return nil
	case len(id.Peers) != id.WorldSize:
		return bad("%s lists %d addresses for %s=%d", Peers, len(id.Peers), WorldSize, id.WorldSize)
	case id.JobID == "":
		return bad("%s is not set", JobID)
	case len(id.Secret) < 16:
		return bad("the job secret (%s or %s) must be set and at least 16 bytes", Secret, SecretFile)
	case id.Recovery != "" && id.Recovery != RecoverInPlace:
		return bad("%s=%q: want %q or nothing", Recovery, id.Recovery, RecoverInPlace)
	}
	for i, p := range id.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return bad("%s entry %d (%q): %v", Peers, i, p, err)
		}
	}
	return nil
}

// Listener returns a listener on the listening socket the rank inherited
// (ListenFD), or nil when it has none. The listener holds a duplicate of
// the descriptor, so closing it (as a backend does once its ring is up)
// leaves ListenFD open: a rank that joins more than one communicator in
// turn (bench allreduce, one per wire dtype) listens on its announced
// address every time, and no other process can take the port meanwhile.
func (id Identity) Listener() (net.Listener, error) {
	if id.ListenFD <= 0 {
		return nil, nil
	}
	fd, err := syscall.Dup(id.ListenFD)
	if err != nil {
		return nil, fmt.Errorf("rankenv: the inherited listening socket (%s=%d): %w", ListenFD, id.ListenFD, err)
	}
	f := os.NewFile(uintptr(fd), "ring-listener")
	defer f.Close() // FileListener holds its own duplicate
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("rankenv: the inherited listening socket (%s=%d): %w", ListenFD, id.ListenFD, err)
	}
	return ln, nil
}

// InWorld is the identity of this rank in generation gen of a job that
// continues in place with ring addresses peers: the rank keeps its own
// address (its inherited listening socket), and its rank is that
// address's index.
func (id Identity) InWorld(gen int, peers []string) (Identity, error) {
	self := id.Peers[id.Rank]
	r := slices.Index(peers, self)
	if r < 0 {
		return id, fmt.Errorf("%w: generation %d's ring has no place for this rank's address %s", ErrEnv, gen, self)
	}
	id.Rank, id.WorldSize, id.Peers, id.Restart = r, len(peers), peers, gen
	return id, nil
}

// Environ renders the identity as KEY=VALUE lines for a child process.
// The secret travels as hex in DDPRUN_SECRET unless secretFile is set.
func (id Identity) Environ(secretFile string) []string {
	env := []string{
		Rank + "=" + strconv.Itoa(id.Rank),
		WorldSize + "=" + strconv.Itoa(id.WorldSize),
		LocalRank + "=" + strconv.Itoa(id.LocalRank),
		LocalWorldSize + "=" + strconv.Itoa(id.LocalWorldSize),
		NodeRank + "=" + strconv.Itoa(id.NodeRank),
		Peers + "=" + strings.Join(id.Peers, ","),
		JobID + "=" + id.JobID,
		Restart + "=" + strconv.Itoa(id.Restart),
	}
	if secretFile != "" {
		env = append(env, SecretFile+"="+secretFile)
	} else {
		env = append(env, Secret+"="+hex.EncodeToString(id.Secret))
	}
	if id.ListenFD > 0 {
		env = append(env, ListenFD+"="+strconv.Itoa(id.ListenFD))
	}
	if id.Control != "" {
		env = append(env, Control+"="+id.Control)
	}
	if id.Device != "" {
		env = append(env, Device+"="+id.Device)
	}
	if id.Recovery != "" {
		env = append(env, Recovery+"="+id.Recovery)
	}
	if id.Replacement {
		env = append(env, Replacement+"=1")
	}
	return env
}

type envReader struct {
	getenv func(string) string
	err    error
}

func (r *envReader) int(key string, def int) int {
	s := r.getenv(key)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%w: %s=%q is not an integer", ErrEnv, key, s)
	}
	return v
}

// readSecret takes DDPRUN_SECRET (hex) or the content of DDPRUN_SECRET_FILE
// (hex, or raw bytes if it is not hex), trimmed of surrounding whitespace.
func readSecret(getenv func(string) string) ([]byte, error) {
	if s := getenv(Secret); s != "" {
		b, err := hex.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not hex: %v", ErrEnv, Secret, err)
		}
		return b, nil
	}
	f := getenv(SecretFile)
	if f == "" {
		return nil, nil
	}
	return ReadSecretFile(f)
}

// ErrSecretFileMode is returned by ReadSecretFile for a file that users
// other than its owner may read or change.
var ErrSecretFileMode = errors.New("rankenv: secret file permissions are too open")

// ReadSecretFile reads a secret file: hex, or raw bytes if it is not hex.
// It refuses a file whose permissions let others read it (Note [Secret
// file mode]), with an error wrapping ErrSecretFileMode.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the secret file: %v", ErrEnv, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: reading the secret file: %v", ErrEnv, err)
	}
	if err := checkSecretMode(path, fi.Mode(), fileOwner(fi)); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the secret file: %v", ErrEnv, err)
	}
	s := strings.TrimSpace(string(raw))
	if b, err := hex.DecodeString(s); err == nil && len(b) > 0 {
		return b, nil
	}
	return []byte(s), nil
}

// Note [Secret file mode]: like ssh with a private key, a secret file must
// give its owner alone any access: no group or other permission bits
// (mode&0o077 == 0, e.g. 0600 or 0400). One exception, PostgreSQL's rule
// for its key file: a file owned by root may also be readable by its group
// (mode&0o037 == 0, e.g. 0440 or 0640), since root chose who is in that
// group. It is what Kubernetes makes of a Secret volume for a non-root pod
// with an fsGroup (root:<fsGroup>, 0440, whatever defaultMode says).
// Other-readable is refused always.
func checkSecretMode(path string, mode fs.FileMode, owner int) error {
	perm := mode.Perm()
	open := perm&0o077 != 0
	if owner == 0 {
		open = perm&0o037 != 0
	}
	if !open {
		return nil
	}
	return fmt.Errorf("%w: %s has mode %04o, so users other than its owner can read or change the job secret; "+
		"run `chmod 600 %s`", ErrSecretFileMode, path, perm, path)
}

// fileOwner is the owner's uid, or -1 where the system does not say.
func fileOwner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}
