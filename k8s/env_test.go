package k8s_test

import (
	"errors"
	"testing"

	"github.com/ddprun/ddprun/k8s"
	"github.com/google/go-cmp/cmp"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPodDefaults(t *testing.T) {
	pod := func(idx string) map[string]string {
		return map[string]string{"JOB_COMPLETION_INDEX": idx, "DDPRUN_K8S_JOB": "ddp", "DDPRUN_K8S_SERVICE": "ddp-svc",
			"DDPRUN_K8S_PORT": "7946", "POD_IP": "10.1.2.3", "POD_NAME": "ddp-" + idx + "-x7k2q"}
	}
	for _, c := range []struct {
		name     string
		env      map[string]string
		hostname string
		want     k8s.Defaults
		ok       bool
		err      error
	}{
		{"not a pod", map[string]string{"HOME": "/root"}, "laptop", k8s.Defaults{}, false, nil},
		{"plain indexed job", map[string]string{"JOB_COMPLETION_INDEX": "1"}, "x-1", k8s.Defaults{}, false, nil},
		{"pod 0 starts the cluster", pod("0"), "ddp-0",
			k8s.Defaults{NodeRank: 0, SeedHost: "ddp-0.ddp-svc", Bind: "10.1.2.3", NodeName: "ddp-0-x7k2q"}, true, nil},
		{"pod 2 joins pod 0", pod("2"), "ddp-2",
			k8s.Defaults{NodeRank: 2, Join: "ddp-0.ddp-svc:7946", SeedHost: "ddp-0.ddp-svc", Bind: "10.1.2.3", NodeName: "ddp-2-x7k2q"}, true, nil},
		{"host network: node hostname", pod("1"), "gpu-node-17",
			k8s.Defaults{NodeRank: 1, Join: "ddp-0.ddp-svc:7946", SeedHost: "ddp-0.ddp-svc", Bind: "10.1.2.3", NodeName: "ddp-1-x7k2q"}, true, nil},
		{"index contradicts hostname", pod("1"), "ddp-3", k8s.Defaults{}, true, k8s.ErrPodEnv},
		{"bad index", pod("one"), "ddp-1", k8s.Defaults{}, true, k8s.ErrPodEnv},
		{"bad port", func() map[string]string { m := pod("1"); m["DDPRUN_K8S_PORT"] = "http"; return m }(), "ddp-1", k8s.Defaults{}, true, k8s.ErrPodEnv},
		{"defaults without POD_* env", map[string]string{"JOB_COMPLETION_INDEX": "1", "DDPRUN_K8S_JOB": "ddp", "DDPRUN_K8S_SERVICE": "s"}, "ddp-1",
			k8s.Defaults{NodeRank: 1, Join: "ddp-0.s:7946", SeedHost: "ddp-0.s", NodeName: "ddp-1"}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := k8s.PodDefaults(envMap(c.env), c.hostname)
			if ok != c.ok || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("ok %v err %v, want %v %v", ok, err, c.ok, c.err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestPodDefaultsFromManifest reads a rendered pod's environment (as the
// kubelet would set it) back through PodDefaults.
func TestPodDefaultsFromManifest(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			o, out := c.render(t)
			cl := simulatedPods(t, o, out, nil)
			for i, p := range cl.pods {
				d, ok, err := k8s.PodDefaults(envMap(p.env), p.hostname)
				if !ok || err != nil || d.NodeRank != i || (i == 0) != (d.Join == "") {
					t.Fatalf("pod %d: %+v %v %v", i, d, ok, err)
				}
				if ip, ok := cl.dns[d.SeedHost]; !ok || ip != cl.pods[0].env[k8s.EnvPodIP] {
					t.Errorf("pod %d: seed %s resolves to %q, want pod 0's IP %s (Kubernetes DNS: %s)",
						i, d.SeedHost, ip, cl.pods[0].env[k8s.EnvPodIP], cl.resolveEnv())
				}
			}
		})
	}
}
