package ddp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/quick"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
	"github.com/ddprun/ddprun/collective/ring/ringtest"
	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// loss is where a recovery test loses a rank: at its collective number
// call (from 1), when: before the call starts; during it, once the rank
// has sent its first message (some ranks may finish the call, others
// not); or after it returned on the lost rank.
type loss struct {
	rank int
	call int
	when string // before, during, after
	// behind, if set, is a survivor whose call fails too once it has
	// returned (its links to the lost rank broke before the last
	// message): it stays one step behind the others (a ring's partial
	// completion, which ringtest's synchronous pipes make a race).
	behind *int
}

func (l loss) String() string {
	s := fmt.Sprintf("rank%d-%s-call%d", l.rank, l.when, l.call)
	if l.behind != nil {
		s += fmt.Sprintf("-rank%d-behind", *l.behind)
	}
	return s
}

// recoveryRun is one in-process job of Note [Recovery in place]'s tests:
// n ranks over a ringtest.Network, this test playing the launcher: when
// the rank of its loss is lost (its links cut, and no world will come for
// it), it starts a replacement in the same slot and sends the survivors
// the world of generation 1.
type recoveryRun struct {
	t     *testing.T
	cfg   Config
	n     int
	loss  *loss
	nw    *ringtest.Network
	outs  []string
	trace []string // the lost (or, without a loss, rank 1's) collectives, "op@label"

	mu     sync.Mutex
	labels []string        // each rank's place: s<k> in step k, p<k> after it
	logs   strings.Builder // the ranks' logs

	hung, release chan struct{} // a loss "hang": the lost rank stopped; let it go on
}

func newRecoveryRun(t *testing.T, cfg Config, n int, l *loss) *recoveryRun {
	r := &recoveryRun{t: t, cfg: cfg, n: n, loss: l, nw: ringtest.NewNetwork(n), labels: make([]string, n)}
	for range n {
		r.outs = append(r.outs, t.TempDir())
	}
	return r
}

func (j *recoveryRun) watched() int {
	if j.loss != nil {
		return j.loss.rank
	}
	return 1
}

type exit struct {
	rank int
	err  error
}

// run trains to the end and fails the test on any rank's error.
func (j *recoveryRun) run() {
	t := j.t
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	worlds := make([]chan control.World, j.n)
	for r := range worlds {
		worlds[r] = make(chan control.World, 4)
	}
	exits := make(chan exit, 2*j.n)
	for r := range j.n {
		go j.start(ctx, r, 0, worlds[r], exits)
	}
	replaced := false
	for done := 0; done < j.n; {
		e := <-exits
		if j.loss != nil && e.rank == j.loss.rank && e.err != nil && !replaced {
			replaced = true
			j.nw.Revive(e.rank)
			w := control.World{Gen: 1, InPlace: true}
			for i := range j.n {
				w.Peers = append(w.Peers, j.nw.Addr(i))
			}
			for r := range j.n {
				if r != e.rank {
					worlds[r] <- w
				}
			}
			go j.start(ctx, e.rank, 1, make(chan control.World, 4), exits)
			continue
		}
		if e.err != nil {
			t.Errorf("rank %d: %v", e.rank, e.err)
		}
		done++
	}
}

// start runs rank r of generation gen (a replacement when gen > 0).
func (j *recoveryRun) start(ctx context.Context, r, gen int, worlds chan control.World, exits chan<- exit) {
	open := func(ctx context.Context, gen int, peers []string) (collective.Comm, error) {
		cfg := j.nw.Config(r)
		cfg.JobID = fmt.Sprintf("ringtest/%d", gen)
		if peers != nil {
			cfg.Rank, cfg.Size, cfg.Peers = slices.Index(peers, j.nw.Addr(r)), len(peers), peers
		}
		c, err := ring.New(ctx, cfg)
		if err != nil {
			return nil, err
		}
		tc := &tracedComm{Comm: c}
		switch {
		case gen > 0:
		case r == j.watched():
			tc.onCall = j.onCall(r, worlds)
		case j.loss != nil && j.loss.behind != nil && *j.loss.behind == r:
			tc.onCall = j.failAfter(j.loss.call)
		}
		return tc, nil
	}
	c, err := open(ctx, gen, nil)
	if err != nil {
		exits <- exit{r, err}
		return
	}
	cfg := j.cfg
	cfg.Output = j.outs[r]
	env := Env{ID: rankenv.Identity{Rank: r, WorldSize: j.n, LocalRank: r, LocalWorldSize: j.n}, Comm: c,
		Reporter: &labelReporter{j: j, rank: r}, Log: slog.New(slog.NewTextHandler(&lockedWriter{j}, nil)),
		Recover: &Recovery{Worlds: worlds, Gen: gen, Replacement: gen > 0, Wait: 30 * time.Second,
			Open: func(ctx context.Context, w control.World) (collective.Comm, error) { return open(ctx, w.Gen, w.Peers) }}}
	_, err = Train(ctx, cfg, env)
	c.Close()
	exits <- exit{r, err}
}

// onCall records rank r's collectives and loses it at j.loss: its links
// are cut and its worlds closed, so that its Train ends.
func (j *recoveryRun) onCall(r int, worlds chan control.World) func(n int, op string, after bool) error {
	return func(n int, op string, after bool) error {
		if !after {
			j.mu.Lock()
			j.trace = append(j.trace, op+"@"+j.labels[r])
			j.mu.Unlock()
		}
		l := j.loss
		if l == nil || l.call != n || (l.when == "after") != after {
			return nil
		}
		if l.when == "hang" {
			close(j.hung)
			<-j.release
			return nil
		}
		close(worlds)
		if l.when == "during" {
			j.nw.KillAfterWrites(r, 2) // the call's header, then its first message
		} else {
			j.nw.Kill(r)
		}
		return nil
	}
}

// runShrink is run for a loss "hang": the lost rank stops before its call
// without breaking its links (a host cut off: TCP stalls, no RST), and
// the survivors get the world of generation 1 without it: a smaller ring,
// the ranks after it renumbered. Once they are done, the lost rank dies.
func (j *recoveryRun) runShrink() {
	t := j.t
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	j.hung, j.release = make(chan struct{}), make(chan struct{})
	worlds := make([]chan control.World, j.n)
	exits := make(chan exit, j.n)
	for r := range j.n {
		worlds[r] = make(chan control.World, 4)
		go j.start(ctx, r, 0, worlds[r], exits)
	}
	lost := j.loss.rank
	select {
	case <-j.hung:
	case e := <-exits:
		t.Fatalf("rank %d ended before the loss: %v", e.rank, e.err)
	}
	w := control.World{Gen: 1, InPlace: true}
	for r := range j.n {
		if r != lost {
			w.Peers = append(w.Peers, j.nw.Addr(r))
		}
	}
	for r := range j.n {
		if r != lost {
			worlds[r] <- w
		}
	}
	for range j.n - 1 {
		if e := <-exits; e.err != nil || e.rank == lost {
			t.Errorf("rank %d: %v", e.rank, e.err)
		}
	}
	j.nw.Kill(lost)
	close(worlds[lost])
	close(j.release)
	if e := <-exits; e.err == nil {
		t.Errorf("the lost rank %d ended without an error", e.rank)
	}
}

// failAfter fails collective number call once it has returned.
func (j *recoveryRun) failAfter(call int) func(n int, op string, after bool) error {
	return func(n int, op string, after bool) error {
		if n == call && after {
			return fmt.Errorf("%w: its last message did not arrive (injected)", collective.ErrPeerLost)
		}
		return nil
	}
}

type lockedWriter struct{ j *recoveryRun }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.j.mu.Lock()
	defer w.j.mu.Unlock()
	return w.j.logs.Write(p)
}

func (j *recoveryRun) log() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.logs.String()
}

// labelReporter follows a rank's place from its heartbeats.
type labelReporter struct {
	j    *recoveryRun
	rank int
}

func (l *labelReporter) Heartbeat(h control.Heartbeat) {
	l.j.mu.Lock()
	defer l.j.mu.Unlock()
	switch {
	case h.Phase == control.PhaseData:
		l.j.labels[l.rank] = fmt.Sprintf("s%d", h.Step+1)
	case h.StepTime > 0:
		l.j.labels[l.rank] = fmt.Sprintf("p%d", h.Step)
	}
}

func (*labelReporter) StopRequested() <-chan struct{} { return nil }
func (*labelReporter) Close() error                   { return nil }

// tracedComm calls onCall before and after each collective; an error
// onCall returns after the call is the call's.
type tracedComm struct {
	collective.Comm
	n      int
	onCall func(n int, op string, after bool) error
}

func (c *tracedComm) do(op string, f func() error) error {
	c.n++
	n := c.n
	if c.onCall != nil {
		c.onCall(n, op, false)
	}
	err := f()
	if c.onCall != nil && err == nil {
		err = c.onCall(n, op, true)
	}
	return err
}

func (c *tracedComm) AllReduce(ctx context.Context, buf collective.Buffer, op collective.Op) error {
	return c.do("allreduce", func() error { return c.Comm.AllReduce(ctx, buf, op) })
}

func (c *tracedComm) Broadcast(ctx context.Context, buf collective.Buffer, root int) error {
	return c.do("broadcast", func() error { return c.Comm.Broadcast(ctx, buf, root) })
}

func (c *tracedComm) AllGather(ctx context.Context, send, recv collective.Buffer) error {
	return c.do("allgather", func() error { return c.Comm.AllGather(ctx, send, recv) })
}

func (c *tracedComm) AllGatherV(ctx context.Context, send, recv collective.Buffer, counts []int) error {
	return c.do("allgatherv", func() error {
		return c.Comm.(collective.VarAllGatherer).AllGatherV(ctx, send, recv, counts)
	})
}

func (c *tracedComm) Seq() uint64 { return c.Comm.(collective.Sequencer).Seq() }

// recoveryConfig: 3 ranks, 6 steps of batch 4 (one epoch of 72 rows),
// evaluation and a checkpoint every 2 steps, no dropout (in-process ranks
// share libtorch's generator), fp32 on the wire.
func recoveryConfig(t *testing.T) Config {
	model, data := tinyModelDir(t, 0), t.TempDir()
	cfg := testTrainConfig(t, model, data, "")
	cfg.Train = writeData(t, data, "train72.csv", 72, 1)
	cfg.Test, cfg.NoReport, cfg.LoadBestAtEnd = "", true, false
	cfg.Epochs, cfg.BatchSize, cfg.EvalSteps, cfg.SaveSteps, cfg.SaveTotalLimit = 1, 4, 2, 2, 0
	cfg.Wire = "fp32"
	return cfg
}

// TestRecoverInPlace: a rank lost at any collective of a step, and of the
// work after it (evaluation, stop agreement, checkpoint), before the call
// or after it returned on that rank, is replaced; the job ends with the
// weights, optimizer state and trainer state of an uninterrupted run, bit
// for bit, and no checkpoint is read (Note [Recovery in place]). Also the
// loss of rank 0 (which writes the checkpoints and logs) and a loss
// during the final evaluation and model writing.
func TestRecoverInPlace(t *testing.T) {
	cfg := recoveryConfig(t)
	ref := newRecoveryRun(t, cfg, 3, nil)
	ref.run()
	t.Logf("rank 1's collectives: %s", strings.Join(ref.trace, " "))
	var behind, redone atomic.Int32
	for _, l := range recoveryLosses(t, ref.trace) {
		t.Run(l.String(), func(t *testing.T) {
			before := checkpointReads.Load()
			j := newRecoveryRun(t, cfg, 3, &l)
			j.run()
			if reads := checkpointReads.Load() - before; reads != 0 {
				t.Errorf("the recovery read %d checkpoints, want 0", reads)
			}
			log := j.log()
			if os.Getenv("RECOVERY_LOG") != "" { // the ranks' logs, to see what a case does
				t.Log(log)
			}
			if !strings.Contains(log, "recovered in place") {
				t.Errorf("no recovery logged:\n%s", log)
			}
			if strings.Contains(log, "ranks_behind=[") && !strings.Contains(log, "ranks_behind=[]") {
				behind.Add(1)
			}
			if strings.Contains(log, "redo_after_step=true") {
				redone.Add(1)
			}
			if t.Failed() {
				return
			}
			compareRuns(t, ref.outs[0], j.outs[0])
		})
	}
	// The cases the Note reasons about happened: a survivor one step behind
	// another, and work after a step redone.
	t.Logf("%d recoveries had a survivor behind, %d redid the work after a step", behind.Load(), redone.Load())
	if behind.Load() == 0 || redone.Load() == 0 {
		t.Errorf("%d recoveries had a survivor behind, %d redid the work after a step; want some of each", behind.Load(), redone.Load())
	}
}

// recoveryLosses picks the losses to test from the reference's trace of
// rank 1's collectives: every collective of step 4 and of the work after
// it (an evaluation and a checkpoint), before, during and after; with
// -short only the first and last of them, and the loss average during.
// Then rank 0 before step 2's first collective; rank 2 during step 3's
// last collective; rank 2 once its last collective of step 5 returned,
// which fails on rank 0 (so rank 1, not the lowest survivor, holds the
// job's last step); and rank 1 before the last collective of all
// (writing the final model).
func recoveryLosses(t *testing.T, trace []string) []loss {
	var calls []int
	for i, c := range trace {
		if strings.HasSuffix(c, "@s4") || strings.HasSuffix(c, "@p4") {
			calls = append(calls, i+1)
		}
	}
	if len(calls) == 0 {
		t.Fatalf("no collectives in step 4: %v", trace)
	}
	var ls []loss
	for i, c := range calls {
		if testing.Short() && i > 0 && i < len(calls)-1 && !strings.HasSuffix(trace[c], "@p4") {
			continue
		}
		for _, when := range []string{"before", "during", "after"} {
			ls = append(ls, loss{rank: 1, call: c, when: when})
		}
	}
	first2 := slices.IndexFunc(trace, func(c string) bool { return strings.HasSuffix(c, "@s2") }) + 1
	last := func(label string) int {
		n := 0
		for i, c := range trace {
			if strings.HasSuffix(c, "@"+label) {
				n = i + 1
			}
		}
		return n
	}
	zero := 0
	return append(ls, loss{rank: 0, call: first2, when: "before"}, loss{rank: 2, call: last("s3"), when: "during"},
		loss{rank: 2, call: last("s5"), when: "after", behind: &zero}, loss{rank: 1, call: len(trace), when: "before"})
}

// compareRuns compares two runs' final models and last checkpoints:
// weights, optimizer state and trainer state (but the run id).
func compareRuns(t *testing.T, a, b string) {
	t.Helper()
	compareFolders(t, a, b)
	cks, _ := listCheckpoints(a)
	if len(cks) == 0 {
		t.Fatalf("no checkpoint in %s", a)
	}
	last := filepath.Base(cks[0])
	compareFolders(t, cks[0], filepath.Join(b, last))
	sa, sb := readState(t, cks[0]), readState(t, filepath.Join(b, last))
	if sa != sb {
		i := 0
		for i < min(len(sa), len(sb)) && sa[i] == sb[i] {
			i++
		}
		t.Errorf("%s's trainer state differs from byte %d: %.80s, not %.80s", last, i, sb[i:], sa[i:])
	}
}

// readState is a checkpoint's trainer state without its run id and the
// best checkpoint's folder.
func readState(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st TrainerState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st.RunID, st.BestCheckpoint = "", filepath.Base(st.BestCheckpoint)
	out, _ := json.Marshal(st)
	return string(out)
}

// TestRecoverInPlace_Shrink: a rank of 3 stops answering (its host cut
// off: its links stall) before step 5, and the survivors get a world of
// 2 without it: the world watch aborts their blocked collective, the
// ring shrinks in place (the ranks after the lost one renumbered) and the
// job goes on. It ends as the same job stopped at step 4 and resumed from
// that checkpoint on 2 ranks does, bit for bit: the resume at another
// world size, without reading the checkpoint. When rank 0 is lost, rank 1
// becomes rank 0 and writes the checkpoints and the model in its output.
func TestRecoverInPlace_Shrink(t *testing.T) {
	cfg := recoveryConfig(t)
	ref := newRecoveryRun(t, cfg, 3, nil)
	ref.run()
	call := 1 + slices.IndexFunc(ref.trace, func(c string) bool { return strings.HasSuffix(c, "@s5") })
	outs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	if _, errs := trainRanks(t, cfg, outs, 4, fp32Ring); !errors.Is(errs[0], ErrStopped) {
		t.Fatalf("stopping at step 4: %v", errs)
	}
	if _, errs := trainRanks(t, cfg, outs[:2], 0, fp32Ring); errs[0] != nil || errs[1] != nil {
		t.Fatalf("resuming on 2 ranks: %v", errs)
	}
	for _, lost := range []int{1, 0} {
		t.Run(fmt.Sprintf("rank%d", lost), func(t *testing.T) {
			before := checkpointReads.Load()
			j := newRecoveryRun(t, cfg, 3, &loss{rank: lost, call: call, when: "hang"})
			j.runShrink()
			if reads := checkpointReads.Load() - before; reads != 0 {
				t.Errorf("the recovery read %d checkpoints, want 0", reads)
			}
			if log := j.log(); !strings.Contains(log, "continuing in place with a different world size") {
				t.Errorf("no resize logged:\n%s", log)
			}
			zero := 0 // the new rank 0: the first survivor
			if lost == 0 {
				zero = 1
			}
			compareRuns(t, outs[0], j.outs[zero])
			if b, err := os.ReadFile(filepath.Join(j.outs[zero], metricsFile)); err != nil || !strings.Contains(string(b), `"msg":"recovered"`) {
				t.Errorf("rank 0's log has no recovery: %v", err)
			}
		})
	}
}

// TestRecoverySource checks recoverySource against its definition: the
// highest step, the lowest rank at it, and whether any rank at it has not
// finished the work after it.
func TestRecoverySource(t *testing.T) {
	f := func(steps []int8, done []bool) bool {
		pos := make([]int64, 0, 2*len(steps))
		for i, s := range steps {
			d := int64(0)
			if i < len(done) && done[i] {
				d = 1
			}
			pos = append(pos, int64(s)%4, d) // few distinct steps, -3..3
		}
		src, step, redo := recoverySource(pos)
		want, wantSrc, wantRedo := -1, -1, false
		for r := range steps {
			if s := int(pos[2*r]); s > want {
				want, wantSrc = s, r
			}
		}
		for r := range steps {
			if int(pos[2*r]) == want && pos[2*r+1] == 0 {
				wantRedo = true
			}
		}
		if want < 0 {
			return src == -1
		}
		return src == wantSrc && step == want && redo == wantRedo
	}
	if err := quick.Check(f, nil); err != nil {
		t.Error(err)
	}
}
