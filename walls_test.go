package ddprun_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The import walls of ARCHITECTURE.md ("must not import"), checked over
// every package's transitive dependencies: which of the project's packages
// (and gotch, and the Kubernetes API) each may not reach, and whether it
// must stay free of cgo (outside the standard library, whose net package
// may use it). `make test` also builds the pure-Go packages with
// CGO_ENABLED=0.
var walls = []struct {
	pkg       string
	forbidden []string
	pureGo    bool
}{
	{"collective", []string{"github.com/sugarme/gotch"}, true},
	{"collective/ring", []string{"github.com/sugarme/gotch", "collective/nccl"}, true},
	{"collective/ring/ringtest", []string{"github.com/sugarme/gotch", "collective/nccl"}, true},
	{"shard", []string{"github.com/sugarme/gotch", "collective", "bert"}, true},
	{"launcher", []string{"github.com/sugarme/gotch", "bert", "ddp"}, true},
	{"k8s", []string{"github.com/sugarme/gotch", "bert", "ddp", "k8s.io/"}, true},
	{"ddp/metrics", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"ddp/tblog", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"ddp/runlog", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"ddp/progress", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"ddp/report", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"bert/wordpiece", []string{"github.com/sugarme/gotch"}, true},
	{"shard/truncation", []string{"github.com/sugarme/gotch", "bert", "ddp", "collective", "launcher", "internal"}, true}, // a leaf: wordpiece and shard share it
	{"ddp/baseline", []string{"github.com/sugarme/gotch", "bert", "collective"}, true},
	{"internal/rankenv", []string{"github.com/sugarme/gotch"}, true},
	{"internal/control", []string{"github.com/sugarme/gotch", "bert", "ddp"}, true},
	{"internal/torchrt", []string{"bert", "ddp", "shard", "collective", "launcher", "k8s", "cmd"}, false}, // the libtorch runtime under bert and ddp, knowing neither
	{"bert", []string{"collective", "launcher"}, false},
	{"ddp", []string{"launcher"}, false},
}

const module = "github.com/ddprun/ddprun/"

func TestImportWalls(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, w := range walls {
		t.Run(w.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{len .CgoFiles}} {{.Standard}}", module+w.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list %s: %v\n%s", w.pkg, err, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				dep, cgoFiles, std := f[0], f[1], f[2] == "true"
				for _, bad := range w.forbidden {
					if !strings.Contains(strings.Split(bad, "/")[0], ".") {
						bad = module + bad // one of the project's packages
					}
					if dep == bad || strings.HasPrefix(dep, strings.TrimSuffix(bad, "/")+"/") {
						t.Errorf("%s depends on %s", w.pkg, dep)
					}
				}
				if w.pureGo && cgoFiles != "0" && !std {
					t.Errorf("%s depends on %s, which uses cgo", w.pkg, dep)
				}
			}
		})
	}
}
