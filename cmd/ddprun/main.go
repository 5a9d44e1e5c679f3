// Command ddprun fine-tunes BERT classifiers with distributed data
// parallelism. All logic lives in package cli; main only wires up the OS.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ddprun/ddprun/cmd/ddprun/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddprun:", err)
		os.Exit(cli.ExitCode(err))
	}
}
