package cli

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/internal/torchrt"
)

// ddprun --version and ddprun version print one line on stdout: version,
// Go, platform, libtorch; --json the same as an object.
func TestVersion(t *testing.T) {
	a, _, err1 := run(t, "--version")
	b, _, err2 := run(t, "version")
	if err1 != nil || err2 != nil || a != b || strings.Count(a, "\n") != 1 || !strings.HasPrefix(a, "ddprun ") ||
		!strings.Contains(a, " "+runtime.Version()+" ") || !strings.HasSuffix(a, " libtorch "+torchrt.Version()+"\n") {
		t.Errorf("--version: %q, %v\nversion: %q, %v", a, err1, b, err2)
	}
	out, _, err := run(t, "version", "--json")
	var v versionInfo
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Go != runtime.Version() || v.Libtorch == "" || v.Version == "" {
		t.Errorf("version --json: %q, %v", out, err)
	}
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.9.9-test"
	if out, _, _ := run(t, "--version"); !strings.HasPrefix(out, "ddprun v9.9.9-test ") {
		t.Errorf("with Version set: %q", out)
	}
}

// The revision and whether the tree was modified come from the build
// information.
func TestVersionFrom(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}}}
	v := versionFrom(bi, true)
	if s := v.String(); !strings.HasPrefix(s, "ddprun v1.2.0 (rev 0123456789ab, modified) go") || v.Time != "2025-01-02T03:04:05Z" {
		t.Errorf("%s (%+v)", s, v)
	}
	if v := versionFrom(nil, false); v.Version != "(devel)" || v.Revision != "" || v.Modified != nil {
		t.Errorf("without build info: %+v", v)
	}
}

// -ldflags "-X .../cli.Version=..." reaches the variable (it must stay a
// plain string variable for the linker to set it).
func TestVersion_LinkerFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("links a ddprun")
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ddprun")
	build := exec.Command("bash", "-c", `. build/libtorch/env.sh && go build -ldflags "-X github.com/ddprun/ddprun/cmd/ddprun/cli.Version=v7.7.7-x" -o `+bin+` ./cmd/ddprun`)
	build.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "ddprun v7.7.7-x ") {
		t.Errorf("%q, %v", out, err)
	}
}
