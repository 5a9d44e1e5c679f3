package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Note [Help and usage errors]: help that was asked for (--help, -h) is
// the command's result: it goes to stdout and exits 0, so that
// `ddprun train --help | grep lr` works (git, go and kubectl do the same).
// A mistake in the command line is one line on stderr and exit 2: what is
// wrong, its likely meaning (suggest.go) and where the help is, never the
// whole flag list (130 lines that bury the one that matters). The flag
// package's own printing is switched off for that: parseFlags parses with
// output discarded and formats the error itself.

// usageError is a mistake in the command line: errors.Is(err, ErrUsage)
// holds (exit status 2), and its message is its own text alone.
type usageError struct {
	msg   string
	cause error // nil: none
}

func (e *usageError) Error() string { return e.msg }

func (e *usageError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrUsage}
	}
	return []error{ErrUsage, e.cause}
}

// usagef returns a usageError with a formatted message.
func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// commandPath is how a user types fs's command: "ddprun train".
func commandPath(fs *flag.FlagSet) string {
	if fs.Name() == "ddprun" {
		return "ddprun"
	}
	return "ddprun " + fs.Name()
}

// prefix is what a message about fs's flags starts with: "train: ", or
// nothing for the launch flags (main prints "ddprun: ").
func prefix(fs *flag.FlagSet) string {
	if fs.Name() == "ddprun" {
		return ""
	}
	return fs.Name() + ": "
}

// setUsage makes fs's usage its header followed by its flags
// (printFlags), written to fs.Output().
func setUsage(fs *flag.FlagSet, header string) {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), header)
		printFlags(fs.Output(), fs)
	}
}

// printFlags is fs.PrintDefaults with the double dash users type, and with
// the aliases on one line after the flags instead of entries of their own.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var b strings.Builder
	entries := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	entries.SetOutput(&b)
	var aliases []string
	fs.VisitAll(func(f *flag.Flag) {
		if orig := aliasOf(fs, f); orig != "" {
			aliases = append(aliases, "--"+f.Name+" (--"+orig+")")
			return
		}
		entries.Var(f.Value, f.Name, f.Usage)
		entries.Lookup(f.Name).DefValue = f.DefValue // not the value parsed so far
	})
	entries.PrintDefaults()
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			line = "  --" + rest
		}
		io.WriteString(w, line)
	}
	if len(aliases) > 0 {
		fmt.Fprintf(w, "\naliases: %s\n", strings.Join(aliases, ", "))
	}
}

// parseFlags parses args into fs. --help prints fs.Usage to o.Stdout and
// returns done with a nil error; a mistake returns done and a one-line
// usage error (see Note [Help and usage errors]).
func parseFlags(fs *flag.FlagSet, args []string, o IO) (done bool, err error) {
	restore := quiet(fs)
	err = fs.Parse(args)
	restore()
	switch {
	case errors.Is(err, flag.ErrHelp):
		showUsage(fs, o.Stdout)
		return true, nil
	case err != nil:
		return true, flagError(fs, err)
	case fs.NArg() > 0:
		if name, ok := boolValueApart(fs, args); ok {
			return true, usagef("%sunexpected arguments %q: a switch takes its value with '=', as in --%s=%s (see %s --help)",
				prefix(fs), fs.Args(), name, fs.Arg(0), commandPath(fs))
		}
		return true, usagef("%sunexpected arguments %q (see %s --help)", prefix(fs), fs.Args(), commandPath(fs))
	}
	return false, nil
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

// quiet switches off the flag package's printing of fs (its error, then
// the whole usage) until the returned function restores fs.Usage.
func quiet(fs *flag.FlagSet) (restore func()) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	return func() { fs.Usage = usage }
}

// unknownCommand is the error for a command name that is not registered.
func unknownCommand(name string) error {
	if s := suggestCommand(name); s != "" {
		return usagef("unknown command %q (did you mean %s? see ddprun --help)", name, s)
	}
	return usagef("unknown command %q (see ddprun --help)", name)
}

// showUsage prints fs's usage to w.
func showUsage(fs *flag.FlagSet, w io.Writer) {
	fs.SetOutput(w)
	defer fs.SetOutput(io.Discard)
	fs.Usage()
}

// flagError rewrites an error of fs.Parse as one line: the command, the
// flag with the double dash users type, for an unknown flag what it likely
// meant (suggest), and where the help is.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	help := "see " + commandPath(fs) + " --help"
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		if s := suggest(fs, name); s != "" {
			help = "did you mean " + s + "? " + help
		}
		return &usageError{msg: fmt.Sprintf("%sunknown flag --%s (%s)", prefix(fs), name, help), cause: err}
	}
	msg = strings.NewReplacer("for flag -", "for --", "for -", "for --", "argument: -", "argument: --").Replace(msg)
	return &usageError{msg: fmt.Sprintf("%s%s (%s)", prefix(fs), msg, help), cause: err}
}

// boolValueApart reports whether parsing stopped at a true/false written
// after a boolean flag (--load-best-at-end false), which Go's flag package
// reads as the switch alone followed by an argument, and names the flag.
func boolValueApart(fs *flag.FlagSet, args []string) (string, bool) {
	i := len(args) - fs.NArg()
	if i < 1 || (fs.Arg(0) != "true" && fs.Arg(0) != "false") {
		return "", false
	}
	name := strings.TrimLeft(args[i-1], "-")
	f := fs.Lookup(name)
	if f == nil || strings.Contains(name, "=") {
		return "", false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return name, ok && b.IsBoolFlag()
}
