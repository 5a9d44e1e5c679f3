package k8s_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ddprun/ddprun/internal/testbin"
	"github.com/ddprun/ddprun/k8s"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// pod is what the kubelet would give container "ddprun" of pod i.
type pod struct {
	hostname string
	env      map[string]string
	args     []string // after $(VAR) expansion
}

// cluster is what Kubernetes would make of a rendered manifest: the pods,
// and the DNS records of their names (name -> pod IP).
type cluster struct {
	pods []pod
	dns  map[string]string
}

// resolveEnv is the cluster's DNS as a DDPRUN_K8S_RESOLVE value.
func (c cluster) resolveEnv() string {
	var kv []string
	for name, ip := range c.dns {
		kv = append(kv, name+"="+ip)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// simulatedPods turns a rendered manifest into the environment and
// arguments of each pod, as the Job controller and the kubelet would:
// JOB_COMPLETION_INDEX, HOSTNAME <job>-<i>, downward-API fields (POD_IP
// from ips, else 10.0.0.<i+1>), then $(VAR) expansion of the args. The
// DNS records are those Kubernetes DNS would serve (podDNS).
func simulatedPods(t *testing.T, o k8s.Options, out []byte, ips []string) cluster {
	t.Helper()
	d, err := decodeStrict(out, o.JSON)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, job := d.podTemplate()
	c := tmpl.Spec.Containers[0]
	cl := cluster{dns: map[string]string{}}
	for i := range o.Nodes {
		p := pod{hostname: job + "-" + strconv.Itoa(i), env: map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(i)}}
		if tmpl.Spec.Hostname != "" {
			p.hostname = tmpl.Spec.Hostname
		}
		p.env["HOSTNAME"] = p.hostname
		ip := fmt.Sprintf("10.0.0.%d", i+1)
		if ips != nil {
			ip = ips[i]
		}
		fields := map[string]string{"status.podIP": ip, "metadata.name": p.hostname + "-q8x2v"}
		for _, e := range c.Env {
			v := e.Value
			if e.ValueFrom != nil {
				v = fields[e.ValueFrom.FieldRef.FieldPath]
			}
			p.env[e.Name] = v
		}
		for _, a := range c.Args {
			p.args = append(p.args, expandK8s(a, p.env))
		}
		for _, name := range podDNS(d, tmpl, p.hostname) {
			cl.dns[name] = ip
		}
		cl.pods = append(cl.pods, p)
	}
	return cl
}

// podTemplate is the template of the training pods and the name of the
// Job that makes them (a JobSet's child Job is <jobset>-<replicatedJob>-0).
func (d decoded) podTemplate() (corev1.PodTemplateSpec, string) {
	if d.jobSet != nil {
		rj := d.jobSet.Spec.ReplicatedJobs[0]
		return rj.Template.Spec.Template, d.jobSet.Name + "-" + rj.Name + "-0"
	}
	return d.job.Spec.Template, d.job.Name
}

// podDNS is the names Kubernetes DNS gives a pod with this template and
// hostname: "<hostname>.<subdomain>" (and its longer forms in the
// namespace) only if the pod's subdomain names a headless Service in its
// namespace that selects it. A JobSet with enableDNSHostnames makes that
// Service itself, named network.subdomain, and sets the pods' subdomain.
// Without such a Service, the pod has no DNS name at all.
func podDNS(d decoded, tmpl corev1.PodTemplateSpec, hostname string) []string {
	ns, sub := "", tmpl.Spec.Subdomain
	switch {
	case d.jobSet != nil:
		n := d.jobSet.Spec.Network
		if n == nil || n.EnableDNSHostnames == nil || !*n.EnableDNSHostnames {
			return nil
		}
		ns, sub = d.jobSet.Namespace, n.Subdomain
	case d.svc == nil || d.job == nil:
		return nil
	default:
		svc := d.svc
		ns = d.job.Namespace
		if sub == "" || svc.Name != sub || svc.Namespace != ns || svc.Spec.ClusterIP != corev1.ClusterIPNone ||
			len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tmpl.Labels)) {
			return nil
		}
	}
	if ns == "" {
		ns = "default"
	}
	short := hostname + "." + sub
	return []string{short, short + "." + ns, short + "." + ns + ".svc", short + "." + ns + ".svc.cluster.local"}
}

var k8sVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expandK8s expands $(VAR) like the kubelet: unknown variables stay as written.
func expandK8s(s string, env map[string]string) string {
	return k8sVar.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// TestSimulatedPods is the issue's "N launchers started with only the env
// a pod would get": it renders a 2-pod job, starts one launcher per pod
// on this machine with that pod's environment and arguments, and trains
// the micro preset to completion. Pod names resolve as Kubernetes DNS
// would resolve them (podDNS: "<hostname>.<subdomain>", only when the
// subdomain is the headless Service), all to 127.0.0.1, through
// DDPRUN_K8S_RESOLVE; a manifest whose pods get no DNS name fails here.
// What one machine cannot give every pod is its own IP, so each pod gets
// its own --port (pod 0's goes into DDPRUN_K8S_PORT, as the manifest ties
// them), the NATS and metrics ports become 0, and the mounted Secret and
// volumes are temp files. Pod 1 starts first: the "worker before master"
// order must not fail.
//
// "explicit" finds the seed the way the launcher does (PodDefaults, then
// WaitForSeed) in the test and passes --join; "env-only" passes nothing
// extra: the launcher applies PodDefaults itself. The test is skipped
// only with -short (testbin.Ddprun builds the real binary; a failed
// build fails it).
func TestSimulatedPods(t *testing.T) {
	bin := ddprunBinary(t)
	for _, mode := range []string{"explicit", "env-only"} {
		t.Run(mode, func(t *testing.T) { simulate(t, bin, mode == "explicit") })
	}
}

func simulate(t *testing.T, bin string, explicit bool) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "output")
	o := k8s.Options{Name: "sim", Nodes: 2, NProcPerNode: 1, Image: "ddprun:test", Secret: "sim-secret",
		MetricsPort: k8s.DefaultMetricsPort, Grace: 20 * time.Second,
		TrainArgs: []string{"--train=" + testbin.TrainCSV(t, dir), "--preset=micro", "--batch-size=4", "--max-length=32",
			"--threads=1", "--eval-strategy=no", "--wire=fp32", "--max-steps=6", "--seed=7", "--output=" + out}}
	var manifest bytes.Buffer
	if err := k8s.Render(&manifest, o); err != nil {
		t.Fatal(err)
	}
	cl := simulatedPods(t, o, manifest.Bytes(), []string{"127.0.0.1", "127.0.0.1"})
	pods := cl.pods
	checkSeedResolves(t, cl)
	ports := []int{testbin.FreePort(t), testbin.FreePort(t)}
	procs := make([]*testbin.Proc, len(pods))
	var wg sync.WaitGroup
	for _, i := range []int{1, 0} { // the worker first
		p := pods[i]
		p.env[k8s.EnvPort] = strconv.Itoa(ports[0])
		p.env[k8s.EnvResolve] = cl.resolveEnv()
		args := rewrite(p.args, map[string]string{"--port": strconv.Itoa(ports[i]), "--nats-port": "0",
			"--metrics-addr": "127.0.0.1:0", "--secret-file": secret})
		wg.Go(func() {
			if explicit && i > 0 {
				args = joinLikeTheLauncher(t, p, args)
			}
			procs[i] = startPod(t, bin, p, args)
		})
		time.Sleep(time.Second)
	}
	wg.Wait()
	for i, l := range procs {
		if l == nil {
			t.FailNow()
		}
		if code := l.Wait(t, pods[i].hostname, 3*time.Minute); code != 0 {
			t.Errorf("pod %s exited %d", pods[i].hostname, code)
		}
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "report.html") {
		t.Errorf("no report.html in the output volume: %v", names)
	}
}

// checkSeedResolves fails the test at once when a pod would look up a
// seed that Kubernetes DNS does not serve, instead of letting its
// launcher retry until --join-timeout.
func checkSeedResolves(t *testing.T, cl cluster) {
	t.Helper()
	for _, p := range cl.pods {
		d, ok, err := k8s.PodDefaults(envMap(p.env), p.hostname)
		if !ok || err != nil {
			t.Fatalf("pod %s: PodDefaults: %v %v", p.hostname, ok, err)
		}
		if _, ok := cl.dns[d.SeedHost]; !ok {
			t.Fatalf("pod %s looks for the seed at %s, which Kubernetes DNS does not resolve (its records: %q); "+
				"is the pods' subdomain the headless Service's name?", p.hostname, d.SeedHost, cl.resolveEnv())
		}
	}
}

// joinLikeTheLauncher is what the launcher should do in a pod: derive the
// seed from the environment and wait until it answers.
func joinLikeTheLauncher(t *testing.T, p pod, args []string) []string {
	getenv := func(k string) string { return p.env[k] }
	d, ok, err := k8s.PodDefaults(getenv, p.hostname)
	if !ok || err != nil {
		t.Errorf("PodDefaults: %v %v", ok, err)
		return args
	}
	r, err := k8s.ResolverFromEnv(getenv)
	if err != nil {
		t.Error(err)
		return args
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seed, err := k8s.WaitForSeed(ctx, d.Join, r, (&net.Dialer{}).DialContext)
	if err != nil {
		t.Error(err)
		return args
	}
	i := slices.Index(args, "train")
	return slices.Concat(args[:i], []string{"--join=" + seed}, args[i:])
}

// rewrite replaces the values of --flag=value launch flags.
func rewrite(args []string, set map[string]string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if a == "train" {
			break
		}
		k, _, _ := strings.Cut(a, "=")
		if v, ok := set[k]; ok {
			out[i] = k + "=" + v
		}
	}
	return out
}

func startPod(t *testing.T, bin string, p pod, args []string) *testbin.Proc {
	cmd := exec.Command(bin, args...)
	// The image's environment (PATH, the libtorch library path), minus
	// anything ddprun reads, plus the pod's.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "DDPRUN_") && !slices.Contains([]string{"RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK"}, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	l, err := testbin.Start(t, cmd)
	if err != nil {
		t.Error(err)
		return nil
	}
	return l
}

func ddprunBinary(t *testing.T) string { return testbin.Ddprun(t) }
