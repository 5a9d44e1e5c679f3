// Package control is the rank's side of the control plane: heartbeats that
// let the launcher diagnose hangs and stragglers and export metrics, and the
// launcher's request to stop (checkpoint and exit). The transport is NATS; a
// client proves the job secret by signing the server's challenge (Note [NATS
// login], NATSLogin, UserKey); Nop is the reporter of a rank started without
// a launcher.
package control

import (
	"time"
)

// Phase says what a rank is doing; a hang diagnosis names it.
type Phase string

// Phases of a training step and around it.
const (
	PhaseSetup      Phase = "setup"
	PhaseData       Phase = "data"      // waiting for the next batch
	PhaseCompute    Phase = "compute"   // forward and backward
	PhaseAllReduce  Phase = "allreduce" // in a collective
	PhaseOptimizer  Phase = "optimizer"
	PhaseEval       Phase = "eval"
	PhaseCheckpoint Phase = "checkpoint"
	PhaseDone       Phase = "done"
)

// Heartbeat is a rank's report of where it is. Durations are those of the
// last step, except DataWait.
type Heartbeat struct {
	Rank          int           `json:"rank"`
	Step          int           `json:"step"`
	Epoch         int           `json:"epoch"`
	Phase         Phase         `json:"phase"`
	Bucket        int           `json:"bucket"`   // gradient bucket being reduced, -1 if none
	CollSeq       uint64        `json:"coll_seq"` // collective sequence number
	Loss          float64       `json:"loss"`
	SamplesPerSec float64       `json:"samples_per_sec"`
	DataWait      time.Duration `json:"data_wait_ns"` // in total, since the rank started
	Compute       time.Duration `json:"compute_ns"`
	AllReduce     time.Duration `json:"allreduce_ns"`
	AllReduceMB   float64       `json:"allreduce_mb"` // in total
	Time          time.Time     `json:"time"`

	// Set on the heartbeat sent after each optimizer step only (phase
	// heartbeats repeat the step number without them), for metrics that
	// must see each step once: StepTime is the step's data wait, forward
	// and backward, all-reduce and optimizer time, StepDataWait its data
	// wait. Samples is the rows this rank trained on since it started.
	StepTime     time.Duration `json:"step_ns,omitempty"`
	StepDataWait time.Duration `json:"step_data_wait_ns,omitempty"`
	LR           float64       `json:"lr,omitempty"`
	Samples      int64         `json:"samples,omitempty"`
	// CheckpointWrite is set on the heartbeat rank 0 sends after writing
	// the checkpoint of Step: how long writing it took.
	CheckpointWrite time.Duration `json:"checkpoint_write_ns,omitempty"`
}

// Reporter is a rank's connection to the control plane.
type Reporter interface {
	// Heartbeat sends h without blocking; it may drop h when the
	// connection is busy or down.
	Heartbeat(h Heartbeat)
	// StopRequested is closed when the launcher asks the job to stop
	// cleanly (a signal or a failure elsewhere): save a checkpoint, exit.
	StopRequested() <-chan struct{}
	// Close flushes and disconnects.
	Close() error
}

// Nop is the Reporter of a rank without a control plane.
func Nop() Reporter { return nop{} }

type nop struct{}

func (nop) Heartbeat(Heartbeat)            {}
func (nop) StopRequested() <-chan struct{} { return nil }
func (nop) Close() error                   { return nil }
