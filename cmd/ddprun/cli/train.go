package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/internal/control"
	"github.com/ddprun/ddprun/internal/rankenv"
)

func init() {
	Register(Command{Name: "train", Summary: "train a BERT/DistilBERT classifier (one rank; see the launch flags for more)", Run: runTrain,
		Check: func(o IO, args []string) (bool, error) {
			cfg := ddp.DefaultConfig()
			_, done, err := parseTrain(o, args, &cfg)
			return done, err
		}})
	Register(Command{Name: "predict", Summary: "predict labels and probabilities with a trained model", Run: runPredict})
	Register(Command{Name: "eval", Summary: "evaluate a trained model on labelled data", Run: runEval})
}

// ExitStopped is the exit status of a rank that stopped cleanly on request
// (SIGINT/SIGTERM, the launcher) after writing a checkpoint.
const ExitStopped = 3

// trainAliases are HF TrainingArguments' names of train's flags, accepted
// as they are: HF habits work, and help lists them on one line.
var trainAliases = [][2]string{
	{"learning-rate", "lr"},
	{"num-train-epochs", "epochs"},
	{"per-device-train-batch-size", "batch-size"},
	{"per-device-eval-batch-size", "eval-batch-size"},
	{"gradient-accumulation-steps", "grad-accum"},
	{"output-dir", "output"},
	{"logging-steps", "log-every"},
}

// trainFlags binds cfg to a new flag set for train: ddp's flags and their
// HF aliases.
func trainFlags(cfg *ddp.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	cfg.Register(fs)
	for _, a := range trainAliases {
		alias(fs, a[0], a[1])
	}
	setUsage(fs, "Usage: ddprun [launch flags] train --train FILE (--model DIR | --preset NAME) [flags]\n\n"+
		"Fine-tune (or train from scratch) a BERT/DistilBERT text classifier. Without a launcher it runs as one rank;\n"+
		"under `ddprun --nproc K` or `--nodes N` each rank runs this command with its identity in the environment.\n\nFlags:\n")
	return fs
}

// parseTrain parses args into cfg and validates it, as every rank and,
// before any starts, the launcher do. done is set for --help (printed to
// o.Stdout) and for errors.
func parseTrain(o IO, args []string, cfg *ddp.Config) (fs *flag.FlagSet, done bool, err error) {
	fs = trainFlags(cfg)
	if done, err := parseFlags(fs, args, o); done {
		return fs, true, err
	}
	if err := cfg.Validate(); err != nil {
		return fs, true, &usageError{msg: "train: " + strings.TrimPrefix(err.Error(), "ddp: ") + " (see ddprun train --help)", cause: err}
	}
	return fs, false, nil
}

func runTrain(ctx context.Context, o IO, args []string) error {
	cfg := ddp.DefaultConfig()
	fs, done, err := parseTrain(o, args, &cfg)
	if done {
		return err
	}
	return runRank(ctx, o, cfg, fs, printResult)
}

// runRank runs this process's rank of a training job (train, pretrain)
// whose flags fs parsed into cfg, and prints rank 0's result with print.
func runRank(ctx context.Context, o IO, cfg ddp.Config, fs *flag.FlagSet, print func(io.Writer, *ddp.Result, bool)) error {
	stdout, stderr := o.Stdout, o.Stderr
	id, err := rankenv.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := rankLogger(stderr, id)
	// The first SIGINT/SIGTERM asks for a clean stop (checkpoint, exit 3);
	// a second one aborts. The collectives must outlive the first signal,
	// so they run on a context only the second one cancels.
	ctx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	stop, cleanup := stopOnSignal(abort)
	defer cleanup()
	plan, err := ddp.Resolve(cfg, id)
	if err != nil {
		return err
	}
	comm, err := ddp.OpenComm(ctx, id, cfg, plan, log)
	if err != nil {
		return err
	}
	defer comm.Close()
	rep, err := dialControl(ctx, id)
	if err != nil {
		return err
	}
	defer rep.Close()
	progress := io.Discard
	if id.Rank == 0 {
		progress = stderr
	}
	res, err := ddp.Train(ctx, cfg, ddp.Env{ID: id, Comm: comm, Plan: &plan, Reporter: rep, Stop: stop, Stderr: progress, Log: log,
		OnStep: saveTrainingArgs(id, fs, cfg.Output, log), Recover: recovery(id, rep, cfg, plan, log)})
	if errors.Is(err, ddp.ErrStopped) {
		log.Warn("stopped on request after a checkpoint; run the same command again to resume", "step", res.Steps)
		return ExitError{Code: ExitStopped, Err: err}
	}
	if err != nil {
		return err
	}
	if id.Rank == 0 {
		print(stdout, res, cfg.JSON)
	}
	return nil
}

// stopOnSignal turns the first SIGINT/SIGTERM into a clean-stop request
// and the second into abort.
func stopOnSignal(abort func()) (<-chan struct{}, func()) {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for n := 0; ; n++ {
			select {
			case <-sig:
				if n == 0 {
					close(stop)
				} else {
					abort()
					return
				}
			case <-done:
				return
			}
		}
	}()
	return stop, func() { signal.Stop(sig); close(done) }
}

// recovery lets the rank recover in place (ddp's Note [Recovery in
// place]) when the launcher asks for it and the backend is the ring, whose
// communicators reopen on the inherited listening socket; nil otherwise.
func recovery(id rankenv.Identity, rep control.Reporter, cfg ddp.Config, plan ddp.Plan, log *slog.Logger) *ddp.Recovery {
	rr, ok := rep.(control.Recoverer)
	if !ok || id.Recovery != rankenv.RecoverInPlace || plan.Backend != "ring" || !id.Distributed() {
		return nil
	}
	return &ddp.Recovery{Worlds: rr.Worlds(), Recovered: rr.Recovered, Gen: id.Restart, Replacement: id.Replacement,
		Open: func(ctx context.Context, w control.World) (collective.Comm, error) {
			nid, err := id.InWorld(w.Gen, w.Peers)
			if err != nil {
				return nil, err
			}
			return ddp.OpenComm(ctx, nid, cfg, plan, log)
		}}
}

func dialControl(ctx context.Context, id rankenv.Identity) (control.Reporter, error) {
	if id.Control == "" {
		return control.Nop(), nil
	}
	return control.Dial(ctx, id)
}

func rankLogger(w io.Writer, id rankenv.Identity) *slog.Logger {
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	l := slog.New(h)
	if id.Distributed() {
		l = l.With("rank", id.Rank)
	}
	return l
}

func printResult(w io.Writer, res *ddp.Result, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		return
	}
	fmt.Fprintf(w, "trained %d steps (%.2f epochs) on %d rank(s) in %v, %.1f samples/s; stopped: %s\n",
		res.Steps, res.Epochs, res.WorldSize, res.Wall.Round(1e9), res.SamplesPerSec, res.Stop)
	if res.BestCheckpoint != "" && res.BestMetric != nil {
		fmt.Fprintf(w, "best checkpoint: %s (%.4f)\n", res.BestCheckpoint, *res.BestMetric)
	}
	if res.Test != nil {
		fmt.Fprintf(w, "test: accuracy %.4f, macro-F1 %.4f, loss %.4f on %d examples\n%s", res.Test.Accuracy, res.Test.MacroF1, res.Test.Loss, res.Test.N, res.Test.Table())
	}
	printBaseline(w, res)
	fmt.Fprintf(w, "model: %s\n", res.FinalModel)
	if res.Report != "" {
		fmt.Fprintf(w, "report: %s\n", res.Report)
	}
}

// ExitError carries a specific process exit status.
type ExitError struct {
	Code int
	Err  error
}

func (e ExitError) Error() string { return e.Err.Error() }
func (e ExitError) Unwrap() error { return e.Err }

// printBaseline shows the model beside the baseline (--baseline) on the
// test split, else the validation split, and says which is better.
func printBaseline(w io.Writer, res *ddp.Result) {
	b := res.Baseline
	if b == nil {
		return
	}
	split, model, base := "test", res.Test, b.Test
	if model == nil || base == nil {
		split, model, base = "validation (the model's last evaluation)", res.Val, b.Val
	}
	if model == nil || base == nil {
		return
	}
	fmt.Fprintf(w, "baseline: %s, fitted on the same training split in %v\n", b.Model, b.Fit.Round(time.Millisecond))
	fmt.Fprintf(w, "  %-9s %9s %9s\n", split, "accuracy", "macro-F1")
	fmt.Fprintf(w, "  %-9s %9.4f %9.4f\n", "model", model.Accuracy, model.MacroF1)
	fmt.Fprintf(w, "  %-9s %9.4f %9.4f\n", "baseline", base.Accuracy, base.MacroF1)
	if model.MacroF1 >= base.MacroF1 {
		fmt.Fprintf(w, "  the model beats the baseline on macro-F1 by %.4f\n", model.MacroF1-base.MacroF1)
	} else {
		fmt.Fprintf(w, "  the baseline beats the model on macro-F1 by %.4f: train longer, add --class-weights balanced, or check the data\n", base.MacroF1-model.MacroF1)
	}
}
