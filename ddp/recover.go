package ddp

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp/metrics"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/control"
)

// Note [Recovery in place]: when a rank is lost (its process died), the
// others keep their processes and their state; the launcher starts a
// replacement in the lost rank's slot and publishes the same world as
// generation G+1; every rank opens a new ring for it on the listening
// socket it inherited (the launcher keeps each slot's socket, so the
// addresses do not change); and the ranks agree on the job's last
// completed step and take its state from one rank that holds it. No
// checkpoint is read and no survivor reloads anything.
//
// A rank has completed step S when it has applied S optimizer steps
// (engine.step == S). Every collective of a step comes before its
// optimizer step: the objective's normaliser (masked LM), the gradient
// buckets (dense and sparse) and the loss average (engine.trainStep moves
// it there for this reason). So a rank whose step failed holds the
// weights and optimizer state of the step before, untouched, and one
// whose collectives all returned holds the new step's: nothing in
// between. Since a collective returns on a rank only once every rank has
// entered it, the survivors of a failure are at most one step apart: if
// one completed S, every rank entered S's last collective, and so had
// completed S-1 and the work after it. The job's last completed step is
// therefore the highest step any survivor completed; the ranks at that
// step hold identical state (all took part in all of its collectives),
// and the lowest-numbered of them sends it to the others: the survivors
// one step behind and the replacements. That is the message of the
// resume path (loop.go): the trainer state as JSON (data position,
// schedule position, epoch, best metric, history), the weights and the
// optimizer state, broadcast by parameter name. Every rank then moves its
// loader to the state's data position: a rank behind rolls forward past
// the step it could not finish, a rank ahead back from the batches it
// had already taken. Only a step no survivor completed is redone.
//
// The work after a step's optimizer step (evaluation, the stop agreement,
// the checkpoint) has collectives too. Each rank keeps a snapshot of its
// trainer state from right after its last optimizer step, and marks it
// done once that work has finished. If any rank at the last completed
// step had not finished it, every rank redoes it from the snapshot
// (evaluation and checkpoint give the same result twice); otherwise the
// survivors' state after it stands, with its verdict (early stopping, a
// stop request). A failure in the final evaluation, test or model
// writing recovers the same way and runs them again.
//
// The start counts as step 0, completed (no optimizer state yet), so a
// rank lost before the first step is recovered the same way. A failure
// during the recovery itself (the replacement dies, a survivor dies, the
// new ring does not form) ends the rank with an error: the launcher then
// restarts every rank from the newest verified checkpoint.

// ErrNoSurvivor means that no rank of a new ring held the training state:
// every rank was a replacement.
var ErrNoSurvivor = errors.New("ddp: no rank holds the training state to recover from")

// Recovery lets a rank recover in place (Note [Recovery in place]).
type Recovery struct {
	// Worlds delivers the worlds of the generations that continue in
	// place, from the control plane.
	Worlds <-chan control.World
	// Open opens this rank's communicator in world w (the rank keeps its
	// number and listening address).
	Open func(ctx context.Context, w control.World) (collective.Comm, error)
	// Gen is the generation of the rank's first communicator.
	Gen int
	// Replacement says that the rank replaces a lost one in a running
	// job: it takes the state from the survivors, not from a checkpoint.
	Replacement bool
	// Recovered, if set, is told when the rank has the job's state back.
	Recovered func(control.Recovered)
	// Wait bounds the wait for a new world after a failure (0: 2 min).
	Wait time.Duration

	opened collective.Comm // the last communicator Open returned, closed with the trainer
	watch  *worldWatch
}

// snapshot is a rank's state right after its last optimizer step.
type snapshot struct {
	state    TrainerState // before afterStep
	last     *metrics.Summary
	epochEnd bool       // the step ended an epoch
	result   stepResult // the step's result, its loss the global batch's
	done     bool       // afterStep finished: t.state and t.last are its result
	stop     string     // afterStep's verdict
}

// recoveryMessage is what the rank holding the job's state sends.
type recoveryMessage struct {
	State    TrainerState     `json:"state"` // OptimizerSteps set: shareOptimizerState needs the names
	Last     *metrics.Summary `json:"last,omitempty"`
	EpochEnd bool             `json:"epoch_end"`
	Result   stepResult       `json:"result"`
	Redo     bool             `json:"redo"` // afterStep of State.Step is to be run (again)
	Stop     string           `json:"stop,omitempty"`
}

func (t *trainer) replacing() bool { return t.env.Recover != nil && t.env.Recover.Replacement }

// agreeAtStart is agree, except on a replacement: the survivors are past
// the start.
func (t *trainer) agreeAtStart(ctx context.Context, err error) error {
	if t.replacing() {
		return err
	}
	return t.agree(ctx, err)
}

// keepSnapshot keeps the state after the optimizer step just done.
func (t *trainer) keepSnapshot(epochEnd bool, res stepResult) {
	t.snap = &snapshot{state: cloneState(t.state), last: t.last, epochEnd: epochEnd, result: res}
}

func cloneState(s TrainerState) TrainerState {
	s.History = slices.Clone(s.History)
	s.Labels = slices.Clone(s.Labels)
	s.OptimizerSteps = maps.Clone(s.OptimizerSteps)
	s.Extra = maps.Clone(s.Extra)
	return s
}

// canRecover reports whether err is a lost peer that this rank can
// recover from in place, or the close of its communicator by the world
// watch (a newer world came).
func (t *trainer) canRecover(err error) bool {
	rc := t.env.Recover
	if err == nil || rc == nil || t.snap == nil {
		return false
	}
	return errors.Is(err, collective.ErrPeerLost) || errors.Is(err, collective.ErrClosed) && rc.watch.closedIt()
}

// rejoin starts the bookkeeping of recovery: the start counts as step
// 0, completed. A replacement first takes the job's state from the
// survivors and returns afterStep's verdict if it had to be redone.
func (t *trainer) rejoin(ctx context.Context) (string, error) {
	if t.env.Recover != nil {
		rc := *t.env.Recover // the trainer's own: it records the generation
		rc.watch = watchWorlds(rc.Worlds, t.env.Comm, rc.Gen)
		t.env.Recover = &rc
	}
	if !t.replacing() {
		t.snap = &snapshot{state: cloneState(t.state), last: t.last, done: true}
		return "", nil
	}
	if t.rank() == 0 {
		if _, err := removeStaleTemps(t.cfg.Output); err != nil { // the lost rank 0's interrupted write
			return "", err
		}
	}
	return t.takeState(ctx, time.Now())
}

// recover brings the rank back after cause, a lost peer: it waits for the
// launcher's new world, joins its ring and takes the job's state (Note
// [Recovery in place]). It returns afterStep's verdict.
func (t *trainer) recover(ctx context.Context, cause error) (string, error) {
	began := time.Now()
	t.env.Log.Warn("a peer was lost; recovering in place", "step", t.eng.step, "err", cause)
	t.heartbeat(control.PhaseSetup, -1)
	w, err := t.awaitWorld(ctx, cause)
	if err != nil {
		return "", err
	}
	if err := t.reopen(ctx, w); err != nil {
		return "", err
	}
	return t.takeState(ctx, began)
}

// takeState takes the job's state over the new ring and redoes afterStep
// when needed; a further lost peer starts another recovery.
func (t *trainer) takeState(ctx context.Context, began time.Time) (string, error) {
	pos, err := t.resync(ctx)
	if err != nil {
		return "", fmt.Errorf("ddp: rank %d: recovering in place in generation %d: %w", t.rank(), t.env.Recover.Gen, err)
	}
	redo := !t.snap.done
	t.recovered(began, pos)
	if !redo {
		return t.snap.stop, nil
	}
	stop, err := t.afterOptimizerStep(ctx)
	if t.canRecover(err) {
		return t.recover(ctx, err)
	}
	return stop, err
}

// awaitWorld waits for the newest world of a later generation.
func (t *trainer) awaitWorld(ctx context.Context, cause error) (control.World, error) {
	rc := t.env.Recover
	wait := cmp.Or(rc.Wait, 2*time.Minute)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		w, ok, ended := rc.watch.next(rc.Gen)
		switch {
		case ok:
			return w, nil
		case ended:
			return w, cause
		}
		select {
		case <-rc.watch.changed:
		case <-t.env.Stop:
			return control.World{}, fmt.Errorf("stopped while waiting to recover: %w", cause)
		case <-t.env.Reporter.StopRequested():
			return control.World{}, fmt.Errorf("stopped while waiting to recover: %w", cause)
		case <-ctx.Done():
			return control.World{}, ctx.Err()
		case <-timer.C:
			return control.World{}, fmt.Errorf("no world to recover into within %v: %w", wait, cause)
		}
	}
}

// reopen replaces the broken communicator with one for world w.
func (t *trainer) reopen(ctx context.Context, w control.World) error {
	rc := t.env.Recover
	t.env.Comm.Close()
	ctx, cancel := t.stopContext(ctx)
	defer cancel()
	c, err := rc.Open(ctx, w)
	if err != nil {
		return fmt.Errorf("ddp: rank %d: joining the ring of generation %d: %w", t.rank(), w.Gen, err)
	}
	rc.opened, rc.Gen = c, w.Gen
	rc.watch.use(c, w.Gen)
	if c.Rank() != t.rank() || c.Size() != t.world() {
		return t.resize(c)
	}
	t.env.Comm, t.eng.comm = c, c
	return nil
}

// resize makes the trainer rank c.Rank() of c.Size(): a generation that
// continues in place without a lost node's ranks. As a resume at another
// world size does, the loader re-shards the data position it will get,
// and the steps per epoch, the gradient accumulation (--global-batch) and
// the schedule follow the new world size. The overlapped reduction and
// the wire settings assume a distributed world: a world of one restarts.
func (t *trainer) resize(c collective.Comm) error {
	was, wasRank := t.world(), t.rank()
	if c.Size() < 2 {
		return fmt.Errorf("ddp: generation %d has %d rank: recovery in place needs 2 or more", t.env.Recover.Gen, c.Size())
	}
	t.env.ID.Rank, t.env.ID.WorldSize = c.Rank(), c.Size()
	t.env.Comm, t.eng.comm, t.eng.rank = c, c, c.Rank()
	t.train.Close()
	if err := t.buildLoader(); err != nil {
		return err
	}
	t.eng.sched = t.engineOptions().Sched
	t.env.Log.Warn("continuing in place with a different world size: the data position re-shards exactly, batches are composed differently",
		"was", was, "now", c.Size(), "new_rank", c.Rank())
	if c.Rank() == 0 && wasRank != 0 {
		return t.becomeRankZero()
	}
	return nil
}

// becomeRankZero takes up rank 0's part, whose node was lost: the logs
// and the checkpoints (in this rank's --output).
func (t *trainer) becomeRankZero() error {
	if _, err := removeStaleTemps(t.cfg.Output); err != nil {
		return err
	}
	rec, err := newRecorder(t.cfg, t.env.Stderr, t.total, t.state.Step, t.perEp, t.world())
	if err != nil {
		return err
	}
	t.rec = rec
	t.env.Log.Info("this rank is rank 0 now: it writes the logs and checkpoints", "output", t.cfg.Output)
	return nil
}

// stopContext is ctx, also cancelled by a stop request.
func (t *trainer) stopContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-t.env.Stop:
		case <-t.env.Reporter.StopRequested():
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// resync agrees with the ranks of the new ring on the job's last
// completed step and takes its state from the lowest-numbered rank that
// holds it. It returns every rank's (last completed step, afterStep done)
// before.
func (t *trainer) resync(ctx context.Context) ([]int64, error) {
	c := t.env.Comm
	mine := []int64{-1, 0}
	if t.snap != nil {
		mine[0] = int64(t.snap.state.Step)
		if t.snap.done {
			mine[1] = 1
		}
	}
	all := make([]int64, 2*c.Size())
	if err := c.AllGather(ctx, collective.Int64s(mine), collective.Int64s(all)); err != nil {
		return nil, fmt.Errorf("ddp: comparing steps: %w", err)
	}
	src, _, redo := recoverySource(all)
	if src < 0 {
		return nil, ErrNoSurvivor
	}
	if err := checkReplicas(ctx, c, t.model); err != nil {
		return nil, err
	}
	msg, err := t.receiveState(ctx, src, redo)
	if err != nil {
		return nil, err
	}
	behind := t.snap == nil || t.snap.state.Step < msg.State.Step
	msg.State.OptimizerSteps, msg.State.WorldSize, msg.State.Schedule = nil, t.world(), t.eng.sched
	t.eng.step, t.state, t.last = msg.State.Step, msg.State, msg.Last
	t.snap = &snapshot{state: cloneState(msg.State), last: msg.Last, epochEnd: msg.EpochEnd, result: msg.Result,
		done: !msg.Redo, stop: msg.Stop}
	if behind && t.state.Step > 0 {
		t.recordStep(msg.Result) // the step it had not finished, as its holders logged it
	}
	return all, nil
}

// recoverySource picks, from every rank's (last completed step, afterStep
// done) pair, the rank that sends the state: the lowest-numbered at the
// highest step (-1 if every step is -1), that step, and whether some rank
// at it had not finished afterStep.
func recoverySource(pos []int64) (src, step int, redo bool) {
	src, step = -1, -1
	for r := range len(pos) / 2 {
		if s := int(pos[2*r]); s > step {
			src, step = r, s
		}
	}
	for r := range len(pos) / 2 {
		redo = redo || int(pos[2*r]) == step && pos[2*r+1] == 0
	}
	if step < 0 {
		return -1, -1, false
	}
	return src, step, redo
}

// receiveState runs the resume path's transfer from src: the trainer
// state, the weights, the optimizer state; then moves the loader.
func (t *trainer) receiveState(ctx context.Context, src int, redo bool) (*recoveryMessage, error) {
	c := t.env.Comm
	var js string
	var ck loadedCheckpoint
	if t.rank() == src {
		var err error
		if ck.Optimizer, err = t.eng.opt.state(); err != nil {
			return nil, err
		}
		if js, err = t.recoveryMessage(redo, ck.Optimizer); err != nil {
			return nil, err
		}
	}
	js, err := broadcastStringFrom(ctx, c, js, src)
	if err != nil {
		return nil, fmt.Errorf("ddp: receiving the trainer state from rank %d: %w", src, err)
	}
	var msg recoveryMessage
	if err := json.Unmarshal([]byte(js), &msg); err != nil {
		return nil, fmt.Errorf("ddp: the trainer state rank %d sent: %w", src, err)
	}
	ck.State = msg.State
	if err := broadcastParamsFrom(ctx, c, t.model, src); err != nil {
		return nil, err
	}
	if err := t.shareOptimizerState(ctx, &ck, src); err != nil {
		return nil, err
	}
	if err := t.eng.opt.setState(ck.Optimizer); err != nil {
		return nil, fmt.Errorf("ddp: the optimizer state rank %d sent: %w", src, err)
	}
	if err := t.train.Resume(msg.State.Data); err != nil {
		return nil, fmt.Errorf("ddp: the data position rank %d sent: %w", src, err)
	}
	return &msg, nil
}

// recoveryMessage encodes this rank's state for the others: from before
// afterStep when it is to be redone, else from after it.
func (t *trainer) recoveryMessage(redo bool, opt map[string]optim.ParamState) (string, error) {
	s := t.snap
	msg := recoveryMessage{State: cloneState(t.state), Last: t.last, EpochEnd: s.epochEnd, Result: s.result, Redo: redo, Stop: s.stop}
	if redo {
		msg.State, msg.Last, msg.Stop = cloneState(s.state), s.last, ""
	}
	msg.State.OptimizerSteps = map[string]int64{}
	for name, st := range opt {
		msg.State.OptimizerSteps[name] = st.Step
	}
	b, err := json.Marshal(msg)
	return string(b), err
}

// recovered logs and reports that the rank has the job's state back;
// pos are the ranks' positions before (resync).
func (t *trainer) recovered(began time.Time, pos []int64) {
	rc := t.env.Recover
	took := time.Since(began)
	if t.rank() == 0 {
		src, step, redo := recoverySource(pos)
		var behind, replaced []int
		for r := range len(pos) / 2 {
			switch s := int(pos[2*r]); {
			case s < 0:
				replaced = append(replaced, r)
			case s < step:
				behind = append(behind, r)
			}
		}
		t.env.Log.Info("recovered in place", "generation", rc.Gen, "step", step, "from_rank", src, "ranks_behind", behind,
			"replacements", replaced, "redo_after_step", redo, "seconds", fmt.Sprintf("%.2f", took.Seconds()))
		t.rec.event(t.state.Step, "recovered", map[string]any{"generation": rc.Gen, "seconds": took.Seconds()})
	}
	if rc.Recovered != nil {
		rc.Recovered(control.Recovered{Gen: rc.Gen, Rank: t.rank(), Step: t.state.Step})
	}
}

// closeRecovery closes the last communicator recovery opened, and stops
// the world watch.
func (t *trainer) closeRecovery() {
	rc := t.env.Recover
	if rc == nil {
		return
	}
	if rc.opened != nil {
		rc.opened.Close()
	}
	if rc.watch != nil {
		rc.watch.stop()
	}
}
