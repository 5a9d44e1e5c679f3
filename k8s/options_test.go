package k8s_test

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/ddprun/ddprun/k8s"
)

// TestOptions_Security: the pods never run as root, and the metrics port
// goes on the Service only when asked for and possible.
func TestOptions_Security(t *testing.T) {
	base := []string{"--name=x", "--image=i", "--secret=s"}
	render := func(args ...string) (string, error) {
		o, err := k8s.ParseArgs(flag.NewFlagSet("render", flag.ContinueOnError), append(append([]string{}, base...), args...))
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		err = k8s.Render(&b, o)
		return b.String(), err
	}
	for _, args := range [][]string{
		{"--run-as-user=-1"},
		{"--metrics-on-service", "--metrics-port=0"},
		{"--metrics-on-service", "--jobset"},
		{"--pod-monitor", "--metrics-port=0"}, // a PodMonitor of a port nobody listens on
	} {
		if _, err := render(args...); !errors.Is(err, k8s.ErrOptions) {
			t.Errorf("%q: %v, want ErrOptions", args, err)
		}
	}
	for args, want := range map[string]string{
		"":                  "runAsUser: 65532\n",
		"--run-as-user=0":   "runAsUser: 65532\n", // 0 is the default, never root
		"--run-as-user=100": "runAsUser: 100\n",
	} {
		out, err := render(strings.Fields(args)...)
		if err != nil || !strings.Contains(out, want) || !strings.Contains(out, "runAsNonRoot: true") {
			t.Errorf("%q: %v, want %q and runAsNonRoot in:\n%s", args, err, want, out)
		}
	}
}
