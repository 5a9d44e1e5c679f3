package k8s_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/k8s"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// renderCase is one `ddprun k8s render` command line and why it is here.
type renderCase struct {
	name   string // testdata/<name>.yaml (or .json)
	reason string
	args   []string
}

var renderCases = []renderCase{
	{"cpu", "the default: CPU pods, Debian libtorch image, data and output on PVCs (RWX for the output)",
		[]string{"--name=bert-cpu", "--nodes=2", "--image=ghcr.io/ddprun/ddprun:cpu", "--secret=bert-cpu-secret",
			"--cpu=4", "--memory=8Gi", "--data-pvc=datasets", "--output-pvc=runs", "--max-restarts=2",
			"--", "--train=/data/spam/train.csv", "--val=/data/spam/val.csv", "--test=/data/spam/test.csv",
			"--preset=mini", "--epochs=1", "--output=/output/bert-cpu"}},
	{"kind", "a kind/minikube demo: host paths (writable by --run-as-user), a locally loaded image (pull policy Never), no metrics port",
		[]string{"--name=demo", "--nodes=2", "--image=ddprun:dev", "--image-pull-policy=Never", "--secret=demo-secret",
			"--data-host-path=/mnt/data", "--output-host-path=/mnt/output", "--metrics-port=0", "--run-as-user=1000",
			"--", "--train=/data/train.csv", "--preset=micro", "--epochs=1"}},
	{"gpu", "NVIDIA: nvidia.com/gpu limit, one rank per GPU, /dev/shm for NCCL, a namespace, a longer grace, " +
		"the metrics port on the Service for a ServiceMonitor",
		[]string{"--name=bert-base", "--namespace=ml", "--nodes=4", "--gpus=8", "--cpu=32", "--memory=256Gi",
			"--image=registry.example.com/ddprun:cuda", "--secret=bert-base-secret", "--data-pvc=datasets",
			"--output-pvc=runs", "--output-path=/runs", "--max-restarts=3", "--grace=3m", "--metrics-on-service",
			"--", "--train=/data/train.csv", "--val=/data/val.csv", "--model=/data/bert-base-uncased", "--epochs=3"}},
	{"gaudi", "Intel Gaudi: habana.ai/gaudi limit, 8 ranks per pod from --gaudi, host networking",
		[]string{"--name=bert-gaudi", "--nodes=2", "--gaudi=8", "--memory=128Gi", "--image=registry.example.com/ddprun:gaudi",
			"--secret=gaudi-secret", "--data-pvc=datasets", "--output-pvc=runs", "--host-network",
			"--", "--train=/data/train.csv", "--model=/data/bert-base-uncased"}},
	{"jobset", "--jobset: one JobSet whose controller makes the headless Service; the child Job is <name>-node-0",
		[]string{"--name=bert-js", "--nodes=3", "--jobset", "--gpus=2", "--image=registry.example.com/ddprun:cuda",
			"--secret=bert-js-secret", "--data-pvc=datasets", "--output-pvc=runs", "--max-restarts=1",
			"--", "--train=/data/train.csv", "--preset=small"}},
	{"podmonitor", "--pod-monitor: a Prometheus Operator PodMonitor scraping every pod, in the job's namespace",
		[]string{"--name=bert-mon", "--namespace=ml", "--nodes=2", "--image=ghcr.io/ddprun/ddprun:cpu", "--secret=bert-mon-secret",
			"--cpu=4", "--data-pvc=datasets", "--output-pvc=runs", "--pod-monitor",
			"--", "--train=/data/train.csv", "--preset=mini"}},
	{"jobset-podmonitor", "--jobset --pod-monitor: the PodMonitor selects the JobSet's pods by the same labels",
		[]string{"--name=bert-jsm", "--nodes=2", "--jobset", "--pod-monitor", "--metrics-port=9500", "--image=ghcr.io/ddprun/ddprun:cpu",
			"--secret=bert-jsm-secret", "--", "--train=/data/train.csv", "--preset=micro"}},
	{"json", "--json: the same objects as a v1 List, for programs",
		[]string{"--name=bert-json", "--nodes=2", "--image=ghcr.io/ddprun/ddprun:cpu", "--secret=s", "--cpu=2", "--json",
			"--", "--train=/data/train.csv", "--preset=micro"}},
}

func (c renderCase) file() string {
	if strings.Contains(strings.Join(c.args, " "), "--json") {
		return filepath.Join("testdata", c.name+".json")
	}
	return filepath.Join("testdata", c.name+".yaml")
}

// render runs the case's command line the way `ddprun k8s render` does.
func (c renderCase) render(t *testing.T) (k8s.Options, []byte) {
	t.Helper()
	fs := flag.NewFlagSet("k8s render", flag.ContinueOnError)
	o, err := k8s.ParseArgs(fs, c.args)
	if err != nil {
		t.Fatalf("%s: parse: %v", c.name, err)
	}
	o.Generator = "ddprun k8s render " + strings.Join(c.args, " ")
	var buf bytes.Buffer
	if err := k8s.Render(&buf, o); err != nil {
		t.Fatalf("%s: render: %v", c.name, err)
	}
	return o, buf.Bytes()
}

// TestGolden keeps testdata/ (the example manifests) in sync with the
// renderer: go test ./k8s -run Golden -update rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			_, got := c.render(t)
			if *update {
				if err := os.WriteFile(c.file(), got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(c.file())
			if err != nil {
				t.Fatalf("%v (run go test ./k8s -run Golden -update)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s (%s) differs from %s (-want +got); run with -update if intended:\n%s", c.name, c.reason, c.file(), d)
			}
		})
	}
}
