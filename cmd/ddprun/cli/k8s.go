package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

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
	opts.Generator = "ddprun k8s render " + strings.Join(args, " ")
	if err := k8s.Render(o.Stdout, opts); err != nil {
		if errors.Is(err, k8s.ErrOptions) {
			return fmt.Errorf("%w: k8s render: %w", ErrUsage, err)
		}
		return err
	}
	return nil
}
