package launcher_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
	"github.com/ddprun/ddprun/internal/testbin"
	"github.com/ddprun/ddprun/launcher"
)

// TestMain makes the test binary double as a fake rank: with FAKE_RANK
// set, it runs fakeRank instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_RANK"); mode != "" {
		os.Exit(fakeRank(mode))
	}
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

// fakeRank behaves as mode says, for the rank in FAKE_TARGET (others
// succeed after heartbeating 20 steps of FAKE_STEP_TIME (20ms), or wait
// for a stop):
//
//	ok        every rank exits 0
//	fail      the target exits 7 with a message on stderr
//	refuse    the target exits RankRefusedCode at step 3 (a refusal to start)
//	crash     the target kills itself with SIGKILL
//	fail-once the target fails on the first start only (restarts succeed)
//	hang      every rank heartbeats a few steps, then the target stops heartbeating; all wait
//	wait      every rank waits for SIGTERM or a stop request, then exits 3
//	recover   the target kills itself with SIGKILL in generation 0; the others
//	          wait for an in-place world and report that they are back (fakeRecovery)
//	recover-fail  as recover, and the target's replacement kills itself too
func fakeRank(mode string) int {
	id, err := rankenv.FromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake rank:", err)
		return 9
	}
	if id.ListenFD != 3 {
		fmt.Fprintln(os.Stderr, "fake rank: no listener fd")
		return 9
	}
	ln, err := net.FileListener(os.NewFile(3, "ring"))
	if err != nil || ln.Addr().String() != id.Peers[id.Rank] {
		fmt.Fprintln(os.Stderr, "fake rank: listener does not match DDPRUN_PEERS:", err)
		return 9
	}
	ln.Close()
	rep, err := control.Dial(context.Background(), id)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake rank:", err)
		return 9
	}
	defer rep.Close()
	target := fmt.Sprint(id.Rank) == os.Getenv("FAKE_TARGET")
	stepTime := 20 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("FAKE_STEP_TIME")); err == nil {
		stepTime = d
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Printf("rank %d of %d restart %d\n", id.Rank, id.WorldSize, id.Restart)
	if k := os.Getenv("FAKE_PRINT_ENV"); k != "" {
		v, ok := os.LookupEnv(k)
		fmt.Printf("rank %d env %s=%q set=%v\n", id.Rank, k, v, ok)
	}
	if strings.HasPrefix(mode, "recover") {
		return fakeRecovery(mode, id, rep, target, sig)
	}
	for step := 1; step <= 20; step++ {
		if mode == "hang" && target && step > 3 {
			break
		}
		rep.Heartbeat(control.Heartbeat{Rank: id.Rank, Step: step, Phase: control.PhaseCompute, Compute: time.Millisecond})
		time.Sleep(stepTime)
		if target && step == 3 {
			switch {
			case mode == "fail" || mode == "fail-once" && id.Restart == 0:
				fmt.Fprintln(os.Stderr, "boom: rank", id.Rank, "failed on purpose")
				return 7
			case mode == "refuse":
				fmt.Fprintln(os.Stderr, "rank", id.Rank, "refuses: its output holds another run")
				return launcher.RankRefusedCode
			case mode == "crash":
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	if mode == "ok" || mode == "fail" || mode == "fail-once" || mode == "crash" {
		return 0
	}
	select {
	case <-sig:
	case <-rep.StopRequested():
	case <-time.After(time.Minute):
		return 8
	}
	return launcher.RankStoppedCode
}

// fakeRecovery is a rank of the recover modes (Note [Recovery in place]):
// a replacement reports at once; the target of generation 0 (and, with
// recover-fail, its replacement) kills itself after a few steps; the
// others wait for the in-place world that follows and report from it.
func fakeRecovery(mode string, id rankenv.Identity, rep control.Reporter, target bool, sig <-chan os.Signal) int {
	rr, ok := rep.(control.Recoverer)
	if !ok {
		fmt.Fprintln(os.Stderr, "fake rank: no recovery in place (DDPRUN_RECOVERY)", id.Recovery)
		return 9
	}
	dies := target && (id.Restart == 0 || mode == "recover-fail" && id.Replacement)
	if id.Replacement {
		fmt.Printf("rank %d replaces a lost rank in generation %d\n", id.Rank, id.Restart)
		if !dies {
			rr.Recovered(control.Recovered{Gen: id.Restart, Rank: id.Rank, Step: 3})
		}
	}
	for step := 1; step <= 3; step++ {
		rep.Heartbeat(control.Heartbeat{Rank: id.Rank, Step: step, Phase: control.PhaseCompute})
		time.Sleep(20 * time.Millisecond)
	}
	if dies {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	if id.Restart > 0 || id.Replacement {
		return 0 // a restart, or a replacement: nothing is lost any more
	}
	select {
	case w := <-rr.Worlds():
		fmt.Printf("rank %d continues in generation %d\n", id.Rank, w.Gen)
		rr.Recovered(control.Recovered{Gen: w.Gen, Rank: id.Rank, Step: 3})
	case <-rep.StopRequested():
		return launcher.RankStoppedCode
	case <-sig:
		return launcher.RankStoppedCode
	case <-time.After(20 * time.Second):
		return 8
	}
	// Train on in the new generation before finishing, as a real rank
	// would (it needs the replacement in its ring): a survivor that exited
	// at once could do so before its launcher took in the new world.
	for step := 4; step <= 20 && mode != "recover-fail"; step++ {
		rep.Heartbeat(control.Heartbeat{Rank: id.Rank, Step: step, Phase: control.PhaseCompute})
		time.Sleep(100 * time.Millisecond)
	}
	if mode == "recover-fail" {
		// Outlive the replacement: the restart stops this process.
		select {
		case <-rep.StopRequested():
		case <-sig:
		case <-time.After(20 * time.Second):
		}
		return launcher.RankStoppedCode
	}
	return 0
}

type result struct {
	code           int
	err            error
	stdout, stderr string
}

func run(t *testing.T, ctx context.Context, cfg launcher.Config, env ...string) result {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	cfg.Command = []string{exe}
	cfg.Env = append(os.Environ(), env...)
	cfg.Stdout, cfg.Stderr = &syncBuilder{b: &out}, &syncBuilder{b: &errb}
	if cfg.NProc == 0 {
		cfg.NProc = 2
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	code, err := launcher.Run(ctx, cfg)
	r := result{code: code, err: err, stdout: cfg.Stdout.(*syncBuilder).String(), stderr: cfg.Stderr.(*syncBuilder).String()}
	t.Logf("exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, r.stdout, r.stderr)
	return r
}

func TestRun_OK(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{NProc: 3}, "FAKE_RANK=ok")
	if r.code != launcher.ExitOK || r.err != nil {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	// Rank 0's stdout is the job's result, as the rank wrote it; the
	// others' lines are prefixed (Note [Rank output]).
	lines := strings.Split(r.stdout, "\n")
	for i := range 3 {
		want := fmt.Sprintf("[rank %d] rank %d of 3 restart 0", i, i)
		if i == 0 {
			want = "rank 0 of 3 restart 0"
		}
		if !slices.Contains(lines, want) {
			t.Errorf("stdout lacks the line %q", want)
		}
	}
}

// TestRun_RankEnvironment: ranks get MALLOC_ARENA_MAX=1 (Note [Malloc
// arenas]) unless the user set it, to anything.
func TestRun_RankEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string // added to the launcher's environment, without MALLOC_ARENA_MAX
		want string
	}{
		{"unset", nil, `MALLOC_ARENA_MAX="1" set=true`},
		{"set by the user", []string{"MALLOC_ARENA_MAX=4"}, `MALLOC_ARENA_MAX="4" set=true`},
		{"set empty by the user", []string{"MALLOC_ARENA_MAX="}, `MALLOC_ARENA_MAX="" set=true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "MALLOC_ARENA_MAX=") {
					env = append(env, kv)
				}
			}
			var out, errb strings.Builder
			cfg := launcher.Config{NProc: 2, Command: []string{exe}, Stdout: &syncBuilder{b: &out}, Stderr: &syncBuilder{b: &errb},
				Env: append(append(env, "FAKE_RANK=ok", "FAKE_PRINT_ENV=MALLOC_ARENA_MAX"), tc.env...)}
			if code, err := launcher.Run(t.Context(), cfg); code != launcher.ExitOK {
				t.Fatalf("exit %d, %v\n%s", code, err, errb.String())
			}
			for r := range 2 {
				if want := fmt.Sprintf("rank %d env %s", r, tc.want); !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestRun_RankFails(t *testing.T) {
	for _, tc := range []struct{ mode, want string }{
		{"fail", "exitcode  : 7"},
		{"crash", "signal    : SIGKILL (9)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			start := time.Now()
			r := run(t, t.Context(), launcher.Config{}, "FAKE_RANK="+tc.mode, "FAKE_TARGET=1")
			if r.code != launcher.ExitFailed || !errors.Is(r.err, launcher.ErrRankFailed) {
				t.Fatalf("exit %d, %v", r.code, r.err)
			}
			for _, want := range []string{"Root cause", "rank      : 1 (local_rank: 1)", tc.want} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("summary lacks %q", want)
				}
			}
			if tc.mode == "fail" && !strings.Contains(r.stderr, "| boom: rank 1 failed on purpose") {
				t.Errorf("summary lacks the rank's last stderr line")
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestRun_Restart: with --recovery restart, a failure restarts every rank.
func TestRun_Restart(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{MaxRestarts: 1, Recovery: launcher.RecoverRestart}, "FAKE_RANK=fail-once", "FAKE_TARGET=0")
	if r.code != launcher.ExitOK {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	if !strings.Contains(r.stdout, "rank 1 of 2 restart 1") || !strings.Contains(r.stderr, "restarting all ranks") {
		t.Error("no second generation")
	}
}

// TestRun_MaxRestarts: a rank that fails in every generation gets the
// first start plus exactly --max-restarts restarts, and the last summary
// says the job gave up at restart N of N.
func TestRun_MaxRestarts(t *testing.T) {
	for _, maxRestarts := range []int{0, 1, 2} {
		t.Run(fmt.Sprintf("max=%d", maxRestarts), func(t *testing.T) {
			r := run(t, t.Context(), launcher.Config{NProc: 1, MaxRestarts: maxRestarts}, "FAKE_RANK=fail", "FAKE_TARGET=0")
			if r.code != launcher.ExitFailed || !errors.Is(r.err, launcher.ErrRankFailed) {
				t.Fatalf("exit %d, %v", r.code, r.err)
			}
			if got, want := strings.Count(r.stdout, "rank 0 of 1 restart "), maxRestarts+1; got != want {
				t.Errorf("%d generations started, want %d (the first start and %d restarts)", got, want, maxRestarts)
			}
			for g := range maxRestarts + 2 {
				started := strings.Contains(r.stdout, fmt.Sprintf("rank 0 of 1 restart %d\n", g))
				if started != (g <= maxRestarts) {
					t.Errorf("generation %d started: %v, want %v", g, started, g <= maxRestarts)
				}
			}
			if got := strings.Count(r.stderr, "Root cause"); got != maxRestarts+1 {
				t.Errorf("%d failure summaries, want %d (one per generation)", got, maxRestarts+1)
			}
			if got := strings.Count(r.stderr, "restarting all ranks"); got != maxRestarts {
				t.Errorf("%d summaries announce a restart, want %d", got, maxRestarts)
			}
			last := fmt.Sprintf("failed (restart %d of %d)\nRoot cause", maxRestarts, maxRestarts)
			if !strings.Contains(r.stderr, last) {
				t.Errorf("no final summary %q", last)
			}
		})
	}
}

// TestRun_RefusalIsNotRestarted: a rank that refuses to start (its output
// holds another run) ends the job at once, whatever --max-restarts says:
// a restart would be refused again.
func TestRun_RefusalIsNotRestarted(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{NProc: 2, MaxRestarts: 2}, "FAKE_RANK=refuse", "FAKE_TARGET=0")
	if r.code != launcher.ExitRefused || !errors.Is(r.err, launcher.ErrRankFailed) {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	if n := strings.Count(r.stdout, "rank 0 of 2 restart "); n != 1 {
		t.Errorf("%d generations started, want 1 (no restart after a refusal)", n)
	}
}

// TestRun_MetricsOnBindAddress: --metrics-addr :PORT serves on the
// launcher's bind address (127.0.0.1 alone), not on every interface.
func TestRun_MetricsOnBindAddress(t *testing.T) {
	r := run(t, t.Context(), launcher.Config{NProc: 1, MetricsAddr: ":0"}, "FAKE_RANK=ok")
	if r.code != launcher.ExitOK {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	if !strings.Contains(r.stderr, "url=http://127.0.0.1:") {
		t.Errorf("metrics not served on 127.0.0.1 (the bind address):\n%s", r.stderr)
	}
}

func TestRun_Stall(t *testing.T) {
	dir := t.TempDir()
	r := run(t, t.Context(), launcher.Config{StallTimeout: 2 * time.Second, LogDir: dir}, "FAKE_RANK=hang", "FAKE_TARGET=1")
	if r.code != launcher.ExitFailed {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	for _, want := range []string{"no progress for 2s", "rank 1 (node ", "step 3", "ranks behind: 1", "goroutine stacks"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stall report lacks %q", want)
		}
	}
	b, err := os.ReadFile(dir + "/restart-0/stacks-rank-0.txt")
	if err != nil || !strings.Contains(string(b), "goroutine ") {
		t.Errorf("no goroutine dump of rank 0: %v\n%s", err, b)
	}
}

func TestRun_Signal(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(time.Second, cancel)
	r := run(t, ctx, launcher.Config{}, "FAKE_RANK=wait")
	if r.code != launcher.ExitStopped || !errors.Is(r.err, launcher.ErrStopped) {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
}

// TestRun_MultiNode runs two launchers in this process, as two nodes on
// loopback with memberlist's local preset: the world has 4 ranks.
func TestRun_MultiNode(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	port := testbin.FreePort(t)
	base := launcher.Config{Nodes: launcher.Nodes{Min: 2, Max: 2}, Secret: secret, Bind: "127.0.0.1",
		Memberlist: memberlist.DefaultLocalConfig, JoinTimeout: 20 * time.Second}
	first, second := base, base
	first.NodeName, first.Port = "n0", port
	second.NodeName, second.Join = "n1", fmt.Sprintf("127.0.0.1:%d", port)
	results := make(chan result, 2)
	go func() { results <- run(t, t.Context(), first, "FAKE_RANK=ok") }()
	time.Sleep(300 * time.Millisecond)
	go func() { results <- run(t, t.Context(), second, "FAKE_RANK=ok") }()
	var all string
	for range 2 {
		r := <-results
		if r.code != launcher.ExitOK {
			t.Errorf("exit %d, %v", r.code, r.err)
		}
		all += r.stdout
	}
	for i := range 4 {
		if !strings.Contains(all, fmt.Sprintf("rank %d of 4", i)) {
			t.Errorf("no rank %d of 4", i)
		}
	}
}

// TestRun_LeftOutNodeExits: a third node joins a 2-node job after its
// world was decided. It waits (Note [Left out]); when the job ends
// without it, it exits 0 too, instead of waiting for --join-timeout.
func TestRun_LeftOutNodeExits(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := testbin.FreePort(t)
	type node struct {
		stderr syncBuilder
		code   chan int
	}
	var nodes [3]node
	start := func(i int) {
		cfg := launcher.Config{Nodes: launcher.Nodes{Min: 2, Max: 2}, NProc: 1, Secret: []byte("0123456789abcdef0123456789abcdef"),
			Bind: "127.0.0.1", Memberlist: memberlist.DefaultLocalConfig, JoinTimeout: 5 * time.Minute, Grace: 10 * time.Second,
			NodeName: fmt.Sprintf("n%d", i), Command: []string{exe}, Stdout: discard{},
			Env: append(os.Environ(), "FAKE_RANK=ok", "FAKE_STEP_TIME=150ms")}
		if i == 0 {
			cfg.Port = port
		} else {
			cfg.Join = fmt.Sprintf("127.0.0.1:%d", port)
		}
		n := &nodes[i]
		n.stderr.b, n.code, cfg.Stderr = &strings.Builder{}, make(chan int, 1), &n.stderr
		go func() {
			code, err := launcher.Run(t.Context(), cfg)
			t.Logf("%v n%d: exit %d, %v\n%s", time.Now().Format("05.000"), i, code, err, n.stderr.String())
			n.code <- code
		}()
	}
	start(0)
	start(1)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(nodes[0].stderr.String(), "starting ranks"); {
		if time.Now().After(deadline) {
			t.Fatal("the job of n0 and n1 did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start(2)
	began := time.Now()
	for i := range nodes {
		select {
		case code := <-nodes[i].code:
			if code != launcher.ExitOK {
				t.Errorf("n%d: exit %d", i, code)
			}
		case <-time.After(time.Minute):
			t.Fatalf("n%d still runs a minute after the job ended", i)
		}
	}
	t.Logf("n2 started -> all exited: %v", time.Since(began))
	if !strings.Contains(nodes[0].stderr.String(), "node n2 waits: generation 0 is running without it") {
		t.Error("n2 did not wait")
	}
	if !strings.Contains(nodes[2].stderr.String(), "the job finished without this node") {
		t.Error("n2 does not say the job finished without it")
	}
}
