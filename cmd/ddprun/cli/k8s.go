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
	if len(args) == 0 || args[0] != "render" {
		fmt.Fprintln(o.Stderr, "Usage: ddprun k8s render [flags] [-- train flags]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return fmt.Errorf("%w: k8s: want a subcommand: render", ErrUsage)
	}
	return runK8sRender(o, args[1:])
}

// runK8sRender is `ddprun k8s render`: the manifests go to stdout, ready
// for `kubectl apply -f -`.
func runK8sRender(o IO, args []string) error {
	fs := flag.NewFlagSet("k8s render", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	fs.Usage = func() {
		fmt.Fprint(o.Stderr, "Usage: ddprun k8s render --image IMAGE --secret SECRET [flags] [-- train flags]\n\n"+
			"Print the manifests of a training job: an Indexed Job and its headless Service\n"+
			"(or a JobSet with --jobset). Pipe them into `kubectl apply -f -`.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	opts, err := k8s.ParseArgs(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case err != nil:
		return fmt.Errorf("%w: k8s render: %w", ErrUsage, err)
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
