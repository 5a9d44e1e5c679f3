package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/ddprun/ddprun/internal/torchrt"
)

func init() {
	Register(Command{Name: "version", Summary: "print ddprun's version, revision, Go and libtorch versions (also: ddprun --version)", Run: runVersion})
}

// Version, when set at link time, is ddprun's version in place of the
// module version Go records in the binary:
//
//	go build -ldflags "-X github.com/ddprun/ddprun/cmd/ddprun/cli.Version=v1.2.0" ./cmd/ddprun
var Version string

// versionInfo is what `ddprun version` prints and training_args.json
// records.
type versionInfo struct {
	Version  string `json:"version"`            // -X Version, else the module version ("(devel)" from a checkout)
	Revision string `json:"revision,omitempty"` // VCS commit the binary was built from
	Time     string `json:"time,omitempty"`     // its commit time
	Modified *bool  `json:"modified,omitempty"` // built with uncommitted changes (nil: unknown)
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Libtorch string `json:"libtorch"` // the headers' TORCH_VERSION
}

// buildVersion is this binary's version.
func buildVersion() versionInfo { return versionFrom(debug.ReadBuildInfo()) }

// versionFrom reads the version from build information (go version -m
// shows it): the module version and the VCS settings `go build` records
// in a git checkout (not in a git worktree, nor with -buildvcs=false: the
// Makefile's -X Version=$(git describe) covers those).
func versionFrom(bi *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, Libtorch: torchrt.Version()}
	if ok {
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = new(s.Value == "true")
			}
		}
	}
	if Version != "" {
		v.Version = Version
	}
	return v
}

// String is one line: ddprun v1.2.0 (rev 0123456789ab, modified) go1.24.1 linux/amd64 libtorch 2.5.1.
func (v versionInfo) String() string {
	s := "ddprun " + v.Version
	if v.Revision != "" {
		rev := v.Revision[:min(len(v.Revision), 12)]
		if v.Modified != nil && *v.Modified {
			rev += ", modified"
		}
		s += " (rev " + rev + ")"
	}
	return fmt.Sprintf("%s %s %s libtorch %s", s, v.Go, v.Platform, v.Libtorch)
}

func runVersion(_ context.Context, o IO, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the version as JSON")
	setUsage(fs, "Usage: ddprun version [--json]   (or: ddprun --version)\n\n"+
		"Print ddprun's version (-ldflags -X, else the module version), the VCS revision it was\n"+
		"built from and whether it had local changes, and the Go and libtorch versions.\n\nFlags:\n")
	if done, err := parseFlags(fs, args, o); done {
		return err
	}
	return printVersion(o.Stdout, *asJSON)
}

func printVersion(w io.Writer, asJSON bool) error {
	v := buildVersion()
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(w, v)
	return err
}
