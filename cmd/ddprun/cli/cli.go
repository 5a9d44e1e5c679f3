// Package cli is the ddprun command line: a registry of subcommands, each
// in its own file, run in-process by Run so that tests can drive them with
// their own stdout and stderr.
//
// To add a subcommand, add a file with one registration:
//
//	func init() {
//		Register(Command{Name: "train", Summary: "train a classifier", Run: runTrain})
//	}
//
// Stdout carries results (with --json where a machine reads them); stderr
// carries progress and diagnostics.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/ddprun/ddprun/ddp"
	"github.com/ddprun/ddprun/launcher"
)

// Command is one subcommand.
type Command struct {
	Name    string
	Summary string // one line for ddprun --help
	Hidden  bool   // internal: not listed
	// Run runs the subcommand with the arguments after its name.
	Run func(ctx context.Context, io IO, args []string) error
	// Check, if set, parses and validates args as Run does, prints the
	// help for --help (done with a nil error), and runs nothing: the
	// launcher calls it before it starts any rank, so that a mistake is
	// one message and exit 2 rather than one per rank, and help prints
	// once. done is set for help and for errors.
	Check func(io IO, args []string) (done bool, err error)
}

// IO is where a command writes.
type IO struct {
	Stdout, Stderr io.Writer
}

var registry struct {
	sync.Mutex
	cmds []Command
}

// Register adds a subcommand; it panics on a duplicate name. Call it from
// an init function in the subcommand's file.
func Register(c Command) {
	registry.Lock()
	defer registry.Unlock()
	if slices.ContainsFunc(registry.cmds, func(x Command) bool { return x.Name == c.Name }) {
		panic("cli: duplicate command " + c.Name)
	}
	registry.cmds = append(registry.cmds, c)
	slices.SortFunc(registry.cmds, func(a, b Command) int { return strings.Compare(a.Name, b.Name) })
}

func lookup(name string) (Command, bool) {
	registry.Lock()
	defer registry.Unlock()
	i := slices.IndexFunc(registry.cmds, func(x Command) bool { return x.Name == name })
	if i < 0 {
		return Command{}, false
	}
	return registry.cmds[i], true
}

// ErrUsage marks errors in the command line (exit status 2).
var ErrUsage = errors.New("usage error")

// ExitCode maps an error from Run to a process exit status.
func ExitCode(err error) int {
	var ee ExitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, ddp.ErrOutputInUse):
		return launcher.RankRefusedCode // not restarted by the launcher
	case errors.As(err, &ee):
		return ee.Code
	}
	return 1
}

// Run runs the ddprun command line args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o := IO{Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return usagef("no command (see ddprun --help)")
	}
	switch {
	case args[0] == "help" && len(args) > 1: // ddprun help train
		return Run(ctx, []string{args[1], "--help"}, stdout, stderr)
	case isHelp(args[0]) || args[0] == "help":
		usage(stdout)
		return nil
	case args[0] == "--version" || args[0] == "-version":
		return printVersion(stdout, false)
	}
	if isLaunch(args) { // ddprun [launch flags] train ...: see launch.go
		return runLaunch(ctx, o, args)
	}
	cmd, ok := lookup(args[0])
	if !ok {
		return unknownCommand(args[0])
	}
	return cmd.Run(ctx, o, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: ddprun [launch flags] <command> [flags]\n\nCommands:")
	registry.Lock()
	for _, c := range registry.cmds {
		if !c.Hidden {
			fmt.Fprintf(w, "  %-12s %s\n", c.Name, c.Summary)
		}
	}
	registry.Unlock()
	fmt.Fprintln(w, "\nLaunch flags, before the command, run it as several ranks: --nproc K on this machine,")
	fmt.Fprintln(w, "--nodes N [--join host:port] across machines, with supervision, restarts and metrics:")
	fmt.Fprintln(w)
	fs := flag.NewFlagSet("ddprun", flag.ContinueOnError)
	new(launchFlags).Register(fs)
	printFlags(w, fs)
	fmt.Fprintln(w, "\nRun 'ddprun <command> --help' for a command's flags, 'ddprun --version' for the version. Examples:")
	fmt.Fprintln(w, "  ddprun train --train train.csv --val val.csv --preset mini --output runs/a")
	fmt.Fprintln(w, "  ddprun --nproc 2 train --train train.csv --model ./bert-base-uncased --output runs/b")
}
