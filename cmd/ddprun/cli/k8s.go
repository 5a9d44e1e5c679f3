package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/k8s"
)

func init() {
	Register(Command{Name: "k8s", Summary: "Kubernetes: k8s render prints an Indexed Job + headless Service (or a JobSet)", Run: runK8s})
}

func runK8s(ctx context.Context, o IO, args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		fmt.Fprintln(o.Stdout, "Usage: ddprun k8s render [flags] [-- train flags]\n\n"+
			"  render  print an Indexed Job + headless Service (or a JobSet) that trains on Kubernetes\n\n"+
			"Run 'ddprun k8s render --help' for its flags.")
		return nil
	}
	if len(args) == 0 || args[0] != "render" {
		return usagef("k8s: want a subcommand: render (see ddprun k8s --help)")
	}
	return runK8sRender(o, args[1:])
}

// runK8sRender is `ddprun k8s render`: the manifests go to stdout, ready
// for `kubectl apply -f -`.
func runK8sRender(o IO, args []string) error {
	fs := flag.NewFlagSet("k8s render", flag.ContinueOnError)
	setUsage(fs, "Usage: ddprun k8s render --image IMAGE --secret SECRET [flags] [-- train flags]\n\n"+
		"Print the manifests of a training job: an Indexed Job and its headless Service\n"+
		"(or a JobSet with --jobset). Pipe them into `kubectl apply -f -`.\n\nFlags:\n")
	restore := quiet(fs)
	opts, err := k8s.ParseArgs(fs, args)
	restore()
	switch {
	case errors.Is(err, flag.ErrHelp):
		showUsage(fs, o.Stdout)
		return nil
	case errors.Is(err, k8s.ErrOptions):
		return fmt.Errorf("%w: k8s render: %w", ErrUsage, err)
	case err != nil:
		return flagError(fs, err)
	}
	if done, err := checkTrainArgs(o, &opts); done {
		return err
	}
	opts.Generator = "ddprun k8s render " + strings.Join(args, " ")
	if err := k8s.Render(o.Stdout, opts); err != nil {
		if errors.Is(err, k8s.ErrOptions) {
			return fmt.Errorf("%w: k8s render: %w", ErrUsage, err)
		}
		return err
	}
	return nil
}

// checkTrainArgs parses and validates the train flags after -- as the
// pods' ranks will (their --output defaults to the output volume), so
// that a mistake fails here, exit 2, not in every pod after scheduling.
// The flags are then spelled without aliases: the renderer looks for
// --output by name to add its default, and must find --output-dir too.
// done is set for errors and for -- --help (train's help is printed).
func checkTrainArgs(o IO, opts *k8s.Options) (done bool, err error) {
	cfg := ddp.DefaultConfig()
	cfg.Output = opts.OutputPath
	fs, done, err := parseTrain(o, opts.TrainArgs, &cfg)
	if err != nil {
		return true, &usageError{msg: "k8s render: " + err.Error(), cause: err}
	}
	if done {
		return true, nil
	}
	opts.TrainArgs = canonicalArgs(fs, opts.TrainArgs)
	return false, nil
}
