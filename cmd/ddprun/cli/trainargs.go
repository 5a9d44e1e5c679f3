package cli

import (
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ddprun/ddprun/internal/atomicfile"
	"github.com/ddprun/ddprun/internal/rankenv"
)

// trainingArgsFile, in --output, holds the run's resolved arguments: HF's
// Trainer writes the same as training_args.bin (a pickle), this is the
// readable equivalent.
const trainingArgsFile = "training_args.json"

// trainingArgs is the content of training_args.json.
type trainingArgs struct {
	Ddprun    versionInfo    `json:"ddprun"`
	WorldSize int            `json:"world_size"`
	Args      map[string]any `json:"args"` // every train flag, by its own name (no aliases), to its final value
}

// resolvedArgs maps every flag of fs but the aliases to its value: a JSON
// number, boolean or string as the flag's type is (durations as "5m0s").
func resolvedArgs(fs *flag.FlagSet) map[string]any {
	m := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		if aliasOf(fs, f) != "" {
			return
		}
		g, ok := f.Value.(flag.Getter)
		if !ok {
			m[f.Name] = f.Value.String()
			return
		}
		switch v := g.Get().(type) {
		case time.Duration:
			m[f.Name] = v.String()
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) { // not JSON numbers
				m[f.Name] = f.Value.String()
			} else {
				m[f.Name] = v
			}
		default:
			m[f.Name] = v
		}
	})
	return m
}

// saveTrainingArgs returns the OnStep hook by which rank 0 writes
// training_args.json into output at its first step (nil on other ranks).
// Not before ddp.Train: a run that ddp refuses because the output holds
// another run's checkpoints must leave that run's file as it is; by the
// first step the output is this run's. A resumed run writes its own
// arguments over the file at its first step.
func saveTrainingArgs(id rankenv.Identity, fs *flag.FlagSet, output string, log *slog.Logger) func(step int) {
	if id.Rank != 0 {
		return nil
	}
	args := trainingArgs{Ddprun: buildVersion(), WorldSize: max(id.WorldSize, 1), Args: resolvedArgs(fs)}
	var once sync.Once
	return func(int) {
		once.Do(func() {
			if err := writeTrainingArgs(output, args); err != nil {
				log.Warn("could not save the training arguments", "err", err)
			}
		})
	}
}

// writeTrainingArgs writes dir/training_args.json atomically.
func writeTrainingArgs(dir string, args trainingArgs) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFunc(filepath.Join(dir, trainingArgsFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(args)
	})
}
