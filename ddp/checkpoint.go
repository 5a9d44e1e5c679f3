package ddp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ddprun/ddprun/bert"
	"github.com/ddprun/ddprun/ddp/optim"
	"github.com/ddprun/ddprun/internal/atomicfile"
	"github.com/ddprun/ddprun/shard"
)

// A checkpoint is a folder checkpoint-<step> in the output folder:
//
//	config.json, model.safetensors, vocab.txt, ...   an HF model folder (fp32)
//	optimizer.safetensors                           moments, "<param>.exp_avg" / ".exp_avg_sq" (".momentum_buffer" for SGD)
//	trainer_state.json                              step, epoch, data position, best metric, schedule, history
//	checksums.json                                  sha256 of every other file, written last
//
// It is written into a temporary folder, every file fsynced, and renamed
// into place, so a crash leaves either no checkpoint-<step> or a whole one;
// Load verifies every checksum anyway, so a damaged folder is never used.
const (
	checkpointPrefix = "checkpoint-"
	optimizerFile    = "optimizer.safetensors"
	trainerStateFile = "trainer_state.json"
	checksumsFile    = "checksums.json"
)

// ErrCheckpoint is wrapped by errors about a damaged or unusable checkpoint.
var ErrCheckpoint = errors.New("ddp: bad checkpoint")

// TrainerState is the part of a checkpoint that is not tensors.
type TrainerState struct {
	RunID          string                     `json:"run_id"` // see Note [Runs and pruning]
	Step           int                        `json:"global_step"`
	Epoch          int                        `json:"epoch"`
	Data           shard.State                `json:"data_position"`
	WorldSize      int                        `json:"world_size"`
	BestMetric     *float64                   `json:"best_metric"`
	BestCheckpoint string                     `json:"best_model_checkpoint"`
	MetricForBest  string                     `json:"metric_for_best_model"`
	PatienceLeft   int                        `json:"early_stopping_patience_left"`
	Optimizer      optim.Kind                 `json:"optimizer"`
	OptimizerSteps map[string]int64           `json:"optimizer_steps"`
	Schedule       optim.Schedule             `json:"lr_schedule"`
	Labels         []string                   `json:"labels"`
	ConfigHash     string                     `json:"config_hash"`
	History        []map[string]any           `json:"log_history,omitempty"`
	Samples        int64                      `json:"samples_seen"`
	Note           string                     `json:"rng_note"`
	Extra          map[string]json.RawMessage `json:"extra,omitempty"`
}

const rngNote = "dropout generator reseeded every step from (seed, rank, step): no generator state is needed to resume"

// checkpointContent is what saveCheckpoint writes.
type checkpointContent struct {
	Model     *bert.Model
	Tokenizer interface{ Save(dir string) error }
	Optimizer map[string]optim.ParamState
	State     TrainerState
}

// saveCheckpoint writes checkpoint-<step> into out atomically and returns
// its path.
func saveCheckpoint(out string, c checkpointContent) (string, error) {
	final := filepath.Join(out, checkpointPrefix+strconv.Itoa(c.State.Step))
	tmp, err := os.MkdirTemp(out, tmpCheckpointPrefix)
	if err != nil {
		return "", fmt.Errorf("ddp: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeCheckpointFiles(tmp, c); err != nil {
		return "", fmt.Errorf("ddp: writing checkpoint %s: %w", final, err)
	}
	if err := os.RemoveAll(final); err != nil { // a stale one from an earlier run of the same step
		return "", fmt.Errorf("ddp: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("ddp: checkpoint: %w", err)
	}
	return final, syncDir(out)
}

func writeCheckpointFiles(dir string, c checkpointContent) error {
	if err := c.Model.Save(dir, false); err != nil {
		return err
	}
	if c.Tokenizer != nil {
		if err := c.Tokenizer.Save(dir); err != nil {
			return err
		}
	}
	if err := writeOptimizer(filepath.Join(dir, optimizerFile), c.Optimizer, &c.State); err != nil {
		return err
	}
	c.State.Note = rngNote
	b, err := json.MarshalIndent(c.State, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, trainerStateFile), b); err != nil {
		return err
	}
	return writeChecksums(dir)
}

func writeOptimizer(path string, st map[string]optim.ParamState, ts *TrainerState) error {
	tensors := map[string]bert.HostTensor{}
	ts.OptimizerSteps = map[string]int64{}
	for name, s := range st {
		ts.OptimizerSteps[name] = s.Step
		n := int64(len(s.M))
		if ts.Optimizer == optim.SGD {
			tensors[name+".momentum_buffer"] = bert.HostTensor{Shape: []int64{n}, Data: s.M}
			continue
		}
		tensors[name+".exp_avg"] = bert.HostTensor{Shape: []int64{n}, Data: s.M}
		tensors[name+".exp_avg_sq"] = bert.HostTensor{Shape: []int64{n}, Data: s.V}
	}
	return bert.WriteSafetensors(path, tensors, false)
}

// writeChecksums records the sha256 of every file in dir, last of all.
func writeChecksums(dir string) error {
	sums, err := hashFiles(dir)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(sums, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, checksumsFile), b)
}

func hashFiles(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, e := range ents {
		if e.IsDir() || e.Name() == checksumsFile || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		s, err := sha256File(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sums[e.Name()] = s
	}
	return sums, nil
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verifyCheckpoint checks every file against checksums.json.
func verifyCheckpoint(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, checksumsFile))
	if err != nil {
		return fmt.Errorf("%w: %s has no %s (incomplete write?)", ErrCheckpoint, dir, checksumsFile)
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCheckpoint, filepath.Join(dir, checksumsFile), err)
	}
	for _, name := range []string{bert.ConfigFile, bert.SafetensorsFile, optimizerFile, trainerStateFile} {
		if _, ok := want[name]; !ok {
			return fmt.Errorf("%w: %s lacks %s", ErrCheckpoint, dir, name)
		}
	}
	for name, sum := range want {
		got, err := sha256File(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if got != sum {
			return fmt.Errorf("%w: %s does not match its checksum (damaged)", ErrCheckpoint, filepath.Join(dir, name))
		}
	}
	return nil
}

// loadedCheckpoint is a verified checkpoint read into memory.
type loadedCheckpoint struct {
	Dir       string
	Weights   map[string]bert.HostTensor
	Optimizer map[string]optim.ParamState
	State     TrainerState
}

// checkpointReads counts readCheckpoint calls (tests check that only
// rank 0 touches the disk).
var checkpointReads atomic.Int64

// readCheckpoint verifies and reads a checkpoint folder.
func readCheckpoint(dir string) (*loadedCheckpoint, error) {
	checkpointReads.Add(1)
	if err := verifyCheckpoint(dir); err != nil {
		return nil, err
	}
	lc := &loadedCheckpoint{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &lc.State); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCheckpoint, filepath.Join(dir, trainerStateFile), err)
	}
	if lc.Weights, _, err = bert.ReadWeights(filepath.Join(dir, bert.SafetensorsFile)); err != nil {
		return nil, err
	}
	opt, _, err := bert.ReadWeights(filepath.Join(dir, optimizerFile))
	if err != nil {
		return nil, err
	}
	lc.Optimizer = map[string]optim.ParamState{}
	for name, step := range lc.State.OptimizerSteps {
		s := optim.ParamState{Step: step}
		if lc.State.Optimizer == optim.SGD {
			s.M = opt[name+".momentum_buffer"].Data
		} else {
			s.M, s.V = opt[name+".exp_avg"].Data, opt[name+".exp_avg_sq"].Data
		}
		if s.M == nil || (lc.State.Optimizer != optim.SGD && s.V == nil) {
			return nil, fmt.Errorf("%w: %s lacks the state of %s", ErrCheckpoint, filepath.Join(dir, optimizerFile), name)
		}
		lc.Optimizer[name] = s
	}
	return lc, nil
}

// listCheckpoints returns the checkpoint folders in out, newest step first.
func listCheckpoints(out string) ([]string, error) {
	ents, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type ck struct {
		step int
		dir  string
	}
	var cks []ck
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if n, err := strconv.Atoi(s); ok && err == nil && e.IsDir() {
			cks = append(cks, ck{n, filepath.Join(out, e.Name())})
		}
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step > cks[j].step })
	var dirs []string
	for _, c := range cks {
		dirs = append(dirs, c.dir)
	}
	return dirs, nil
}

// latestCheckpoint finds the newest checkpoint in out that verifies,
// reporting the damaged ones it skipped.
func latestCheckpoint(out string, skipped func(dir string, err error)) (*loadedCheckpoint, error) {
	dirs, err := listCheckpoints(out)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		lc, err := readCheckpoint(d)
		if err == nil {
			return lc, nil
		}
		skipped(d, err)
	}
	return nil, nil
}

// Note [Runs and pruning]: an output folder can hold checkpoints that the
// current run did not write: a copied folder, an earlier run, damaged ones
// skipped at resume. Pruning by step number alone once deleted a new run's
// own checkpoints the moment they were written (an old run's higher steps
// outranked them). So every run has a random id, kept across resumes in
// trainer_state.json, and pruning counts and deletes only checkpoints whose
// state names this run: another run's checkpoints, and any whose state
// cannot be read, are never deleted and never outrank this run's. A fresh
// run refuses an output that holds an earlier run's outputs unless
// --overwrite-output clears them first (see startFresh).

// pruneCheckpoints keeps run's newest keep checkpoints plus the protected
// ones (the best), deleting run's others. See Note [Runs and pruning].
func pruneCheckpoints(out string, keep int, run string, protect ...string) error {
	if keep <= 0 {
		return nil
	}
	dirs, err := listCheckpoints(out)
	if err != nil {
		return err
	}
	kept := 0
	for _, d := range dirs {
		if slices.Contains(protect, d) || checkpointRun(d) != run {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("ddp: removing old checkpoint: %w", err)
		}
	}
	return nil
}

// checkpointRun returns the run id in dir's trainer state, or "" when it
// cannot be read.
func checkpointRun(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, trainerStateFile))
	if err != nil {
		return ""
	}
	var st struct {
		RunID string `json:"run_id"`
	}
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	return st.RunID
}

// newRunID returns a random run id.
func newRunID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// tmpCheckpointPrefix starts the temporary folders checkpoints are
// written into.
const tmpCheckpointPrefix = ".tmp-" + checkpointPrefix

// runOutputs lists what an earlier run left in out: checkpoints, temporary
// checkpoint folders, logs and results. The token cache and a final model
// folder's files are not listed: the first is reusable, the second is
// written over at the end.
func runOutputs(out string) ([]string, error) {
	ents, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, checkpointPrefix) || strings.HasPrefix(n, tmpCheckpointPrefix) ||
			slices.Contains([]string{metricsFile, tbDir, resultsFile, reportFile}, n) {
			found = append(found, filepath.Join(out, n))
		}
	}
	return found, nil
}

// removeStaleTemps deletes the temporary folders of checkpoint writes that
// a kill interrupted (only rank 0 writes checkpoints, and only one run
// writes into an output at a time).
func removeStaleTemps(out string) ([]string, error) {
	tmps, err := filepath.Glob(filepath.Join(out, tmpCheckpointPrefix+"*"))
	if err != nil {
		return nil, err
	}
	for _, d := range tmps {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("ddp: removing an interrupted checkpoint write: %w", err)
		}
	}
	return tmps, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
