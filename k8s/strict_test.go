package k8s_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ddprun/ddprun/k8s"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// jobSet mirrors jobset.x-k8s.io/v1alpha2 JobSet (sigs.k8s.io/jobset
// api/jobset/v1alpha2/jobset_types.go, whose module the Go proxy here
// does not serve): every spec field with its JSON name, so a strict
// decode rejects a misspelt or invented field; the Job template is the
// real batchv1.JobTemplateSpec. Fields ddprun never sets stay raw.
type jobSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		ReplicatedJobs []struct {
			Name      string                  `json:"name"`
			GroupName string                  `json:"groupName,omitempty"`
			Template  batchv1.JobTemplateSpec `json:"template"`
			Replicas  int32                   `json:"replicas,omitempty"`
			DependsOn json.RawMessage         `json:"dependsOn,omitempty"`
		} `json:"replicatedJobs,omitempty"`
		Network *struct {
			EnableDNSHostnames       *bool  `json:"enableDNSHostnames,omitempty"`
			Subdomain                string `json:"subdomain,omitempty"`
			PublishNotReadyAddresses *bool  `json:"publishNotReadyAddresses,omitempty"`
		} `json:"network,omitempty"`
		SuccessPolicy json.RawMessage `json:"successPolicy,omitempty"`
		FailurePolicy *struct {
			MaxRestarts     int32           `json:"maxRestarts,omitempty"`
			RestartStrategy string          `json:"restartStrategy,omitempty"`
			Rules           json.RawMessage `json:"rules,omitempty"`
		} `json:"failurePolicy,omitempty"`
		StartupPolicy           json.RawMessage `json:"startupPolicy,omitempty"`
		Suspend                 *bool           `json:"suspend,omitempty"`
		Coordinator             json.RawMessage `json:"coordinator,omitempty"`
		ManagedBy               *string         `json:"managedBy,omitempty"`
		TTLSecondsAfterFinished *int32          `json:"ttlSecondsAfterFinished,omitempty"`
	} `json:"spec,omitempty"`
}

// decoded is what a manifest holds, in the API's own types.
type decoded struct {
	svc        *corev1.Service
	job        *batchv1.Job
	jobSet     *jobSet
	podMonitor *monitoringv1.PodMonitor
}

// decodeStrict splits the YAML stream (or the JSON List) and decodes each
// object into its API type, failing on any field the type lacks.
func decodeStrict(out []byte, asJSON bool) (decoded, error) {
	var d decoded
	var docs [][]byte
	if asJSON {
		var list struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		if err := strictJSON(out, &list); err != nil {
			return d, err
		}
		if list.APIVersion != "v1" || list.Kind != "List" {
			return d, fmt.Errorf("JSON output is %s %s, want v1 List", list.APIVersion, list.Kind)
		}
		for _, it := range list.Items {
			docs = append(docs, it)
		}
	} else {
		for _, doc := range strings.Split(string(out), "\n---\n") {
			j, err := yaml.YAMLToJSONStrict([]byte(doc)) // also rejects duplicate keys
			if err != nil {
				return d, fmt.Errorf("YAML document: %w", err)
			}
			docs = append(docs, j)
		}
	}
	for _, doc := range docs {
		var tm metav1.TypeMeta
		if err := json.Unmarshal(doc, &tm); err != nil {
			return d, err
		}
		var v any
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Service":
			d.svc = new(corev1.Service)
			v = d.svc
		case "batch/v1 Job":
			d.job = new(batchv1.Job)
			v = d.job
		case "jobset.x-k8s.io/v1alpha2 JobSet":
			d.jobSet = new(jobSet)
			v = d.jobSet
		case "monitoring.coreos.com/v1 PodMonitor":
			d.podMonitor = new(monitoringv1.PodMonitor)
			v = d.podMonitor
		default:
			return d, fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
		}
		if err := strictJSON(doc, v); err != nil {
			return d, err
		}
	}
	return d, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("strict decode into %T: %w", v, err)
	}
	return nil
}

// TestStrictDecodeAndValidate decodes every golden case into k8s.io/api
// types and checks the fields users get wrong.
func TestStrictDecodeAndValidate(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			o, out := c.render(t)
			d, err := decodeStrict(out, o.JSON)
			if err != nil {
				t.Fatal(err)
			}
			for _, err := range validate(o, d) {
				t.Error(err)
			}
		})
	}
}

// validate returns everything wrong with a decoded manifest for o.
func validate(o k8s.Options, d decoded) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var spec batchv1.JobSpec
	var jobName, svcName string
	var svcSelector map[string]string
	switch {
	case o.JobSet:
		if d.jobSet == nil || d.job != nil || d.svc != nil {
			fail("--jobset: want exactly one JobSet")
			return
		}
		js := d.jobSet
		if len(js.Spec.ReplicatedJobs) != 1 || js.Spec.ReplicatedJobs[0].Replicas != 1 {
			fail("want one replicatedJob with one replica, got %+v", js.Spec.ReplicatedJobs)
			return
		}
		rj := js.Spec.ReplicatedJobs[0]
		spec, jobName = rj.Template.Spec, js.Name+"-"+rj.Name+"-0"
		n := js.Spec.Network
		if n == nil || n.EnableDNSHostnames == nil || !*n.EnableDNSHostnames || n.PublishNotReadyAddresses == nil || !*n.PublishNotReadyAddresses {
			fail("JobSet network must enable DNS hostnames and publish not-ready addresses: %+v", n)
			return
		}
		svcName = n.Subdomain
		if fp := js.Spec.FailurePolicy; fp == nil || fp.MaxRestarts != 0 {
			fail("JobSet failurePolicy.maxRestarts must be 0: restarts are ddprun's")
		}
	default:
		if d.job == nil || d.svc == nil || d.jobSet != nil {
			fail("want a Job and a Service")
			return
		}
		spec, jobName, svcName, svcSelector = d.job.Spec, d.job.Name, d.svc.Name, d.svc.Spec.Selector
		if d.svc.Spec.ClusterIP != corev1.ClusterIPNone || !d.svc.Spec.PublishNotReadyAddresses {
			fail("Service: clusterIP %q publishNotReadyAddresses %v, want None and true", d.svc.Spec.ClusterIP, d.svc.Spec.PublishNotReadyAddresses)
		}
		if d.svc.Namespace != d.job.Namespace || d.job.Namespace != o.Namespace {
			fail("namespaces: Service %q Job %q, want %q", d.svc.Namespace, d.job.Namespace, o.Namespace)
		}
		if d.job.Spec.Selector != nil || d.job.Spec.ManualSelector != nil {
			fail("the Job's selector is the controller's to generate")
		}
	}
	pod := spec.Template.Spec
	podLabels := labels.Set(spec.Template.Labels)
	if svcSelector != nil && (len(svcSelector) == 0 || !labels.SelectorFromSet(svcSelector).Matches(podLabels)) {
		fail("Service selector %v does not select the pod labels %v", svcSelector, podLabels)
	}
	if pod.Subdomain != svcName {
		fail("pod subdomain %q != Service %q: pods would get no DNS names", pod.Subdomain, svcName)
	}
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		fail("completionMode %v, want Indexed", spec.CompletionMode)
	}
	if spec.Completions == nil || spec.Parallelism == nil || *spec.Completions != *spec.Parallelism || int(*spec.Completions) != o.Nodes {
		fail("completions %v parallelism %v, want both %d", spec.Completions, spec.Parallelism, o.Nodes)
	}
	errs = append(errs, validateRestarts(spec)...)
	if len(pod.Containers) != 1 {
		fail("want one container, got %d", len(pod.Containers))
		return
	}
	c := pod.Containers[0]
	if len(pod.InitContainers) > 0 || c.ReadinessProbe != nil || c.LivenessProbe != nil {
		fail("training pods need no probes or init containers")
	}
	flags := launchFlags(c.Args)
	errs = append(errs, validateArgs(o, flags, c)...)
	errs = append(errs, validateEnv(c, jobName, svcName, flags["port"])...)
	errs = append(errs, validatePorts(o, c, d.svc, flags)...)
	errs = append(errs, validateResources(o, c, flags)...)
	errs = append(errs, validateSecret(o, pod, c, flags)...)
	errs = append(errs, validateSecurity(o, pod, c)...)
	errs = append(errs, validatePodMonitor(o, d.podMonitor, podLabels, c, flags)...)
	grace, err := time.ParseDuration(flags["grace"])
	if tgp := pod.TerminationGracePeriodSeconds; err != nil || tgp == nil || time.Duration(*tgp)*time.Second < grace+10*time.Second {
		fail("terminationGracePeriodSeconds %v must exceed --grace %q with room to spare", tgp, flags["grace"])
	}
	for i := range o.Nodes {
		if h := jobName + "-" + strconv.Itoa(i); len(h) > 63 {
			fail("pod hostname %q is longer than 63", h)
		}
	}
	return errs
}

func validateRestarts(spec batchv1.JobSpec) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || spec.BackoffLimit == nil || *spec.BackoffLimit != 0 {
		fail("restartPolicy %q backoffLimit %v: want Never and 0 (ddprun restarts)", spec.Template.Spec.RestartPolicy, spec.BackoffLimit)
	}
	if spec.BackoffLimitPerIndex != nil {
		fail("backoffLimitPerIndex would restart single ranks")
	}
	pfp := spec.PodFailurePolicy
	if pfp == nil {
		fail("no podFailurePolicy")
		return
	}
	// The first matching rule wins: exit 3 must meet Ignore before FailJob.
	action := func(code int32) batchv1.PodFailurePolicyAction {
		for _, r := range pfp.Rules {
			if e := r.OnExitCodes; e != nil && slices.Contains(e.Values, code) == (e.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
				return r.Action
			}
		}
		return "Count"
	}
	for code, want := range map[int32]batchv1.PodFailurePolicyAction{3: "Ignore", 1: "FailJob", 2: "FailJob", 4: "FailJob", 137: "FailJob"} {
		if got := action(code); got != want {
			fail("exit code %d: action %s, want %s", code, got, want)
		}
	}
	for _, r := range pfp.Rules {
		if e := r.OnExitCodes; e != nil && (e.ContainerName == nil || *e.ContainerName != k8s.ContainerName) {
			fail("onExitCodes must name the container %q", k8s.ContainerName)
		}
	}
	if spec.PodReplacementPolicy == nil || *spec.PodReplacementPolicy != batchv1.Failed {
		fail("podReplacementPolicy must be Failed: a replacement must not overlap a pod still checkpointing")
	}
	return errs
}

// launchFlags maps the launcher's --flag=value arguments (those before
// "train") to their values.
func launchFlags(args []string) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		if a == "train" {
			break
		}
		k, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		m[k] = v
	}
	return m
}

func validateArgs(o k8s.Options, flags map[string]string, c corev1.Container) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	i := slices.Index(c.Args, "train")
	if i < 0 || !slices.Equal(c.Args[i+1:i+1+len(o.TrainArgs)], o.TrainArgs) {
		fail("the train flags %q are not passed through: %q", o.TrainArgs, c.Args)
	}
	if flags["nodes"] != strconv.Itoa(o.Nodes) || flags["join"] != "" {
		fail("--nodes=%s --join=%s: want %d and no --join (PodDefaults)", flags["nodes"], flags["join"], o.Nodes)
	}
	if flags["bind"] != "$(POD_IP)" || flags["max-restarts"] != strconv.Itoa(o.MaxRestarts) {
		fail("--bind=%s --max-restarts=%s", flags["bind"], flags["max-restarts"])
	}
	if len(c.Command) != 1 || c.Command[0] != "ddprun" || c.Image != o.Image {
		fail("command %q image %q", c.Command, c.Image)
	}
	return errs
}

func validateEnv(c corev1.Container, job, svc, port string) (errs []error) {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	want := map[string]string{k8s.EnvJob: job, k8s.EnvService: svc, k8s.EnvPort: port}
	for k, v := range want {
		if env[k].Value != v {
			errs = append(errs, fmt.Errorf("env %s=%q, want %q", k, env[k].Value, v))
		}
	}
	for k, path := range map[string]string{k8s.EnvPodIP: "status.podIP", k8s.EnvPodName: "metadata.name"} {
		if vf := env[k].ValueFrom; vf == nil || vf.FieldRef == nil || vf.FieldRef.FieldPath != path {
			errs = append(errs, fmt.Errorf("env %s must come from %s", k, path))
		}
	}
	return errs
}

func validatePorts(o k8s.Options, c corev1.Container, svc *corev1.Service, flags map[string]string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	byName := map[string]corev1.ContainerPort{}
	for _, p := range c.Ports {
		if _, dup := byName[p.Name]; dup || p.Name == "" || len(p.Name) > 15 {
			fail("container port name %q: empty, duplicate or too long", p.Name)
		}
		byName[p.Name] = p
	}
	num := func(name string) string { return strconv.Itoa(int(byName[name].ContainerPort)) }
	if num("gossip") != flags["port"] || num("gossip-udp") != flags["port"] || byName["gossip-udp"].Protocol != corev1.ProtocolUDP {
		fail("gossip ports %v/%v, want --port=%s on TCP and UDP", byName["gossip"], byName["gossip-udp"], flags["port"])
	}
	if num("nats") != flags["nats-port"] {
		fail("nats port %s, want --nats-port=%s", num("nats"), flags["nats-port"])
	}
	// ":PORT" listens on --bind, the pod IP (validateArgs), not on every interface.
	if m, ok := byName["metrics"]; ok != (o.MetricsPort > 0) || ok && ":"+num("metrics") != flags["metrics-addr"] || !ok && flags["metrics-addr"] != "" {
		fail("metrics port %v, --metrics-addr=%q", m, flags["metrics-addr"])
	}
	if svc == nil {
		return errs
	}
	onService := slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.TargetPort.String() == "metrics" })
	if onService != o.MetricsOnService {
		fail("the metrics port is on the headless Service: %v, want %v (--metrics-on-service): metrics are scraped per pod", onService, o.MetricsOnService)
	}
	for _, sp := range svc.Spec.Ports {
		cp, ok := byName[sp.TargetPort.String()]
		if !ok || cp.ContainerPort != sp.Port || cp.Protocol != sp.Protocol {
			fail("Service port %s (%d/%s -> %s) matches no container port", sp.Name, sp.Port, sp.Protocol, sp.TargetPort.String())
		}
	}
	return errs
}

// validatePodMonitor checks the PodMonitor of --pod-monitor: in the job's
// namespace, selecting its pods and no other job's, scraping the port
// --metrics-addr listens on, with honorLabels (the job label is ddprun's).
func validatePodMonitor(o k8s.Options, pm *monitoringv1.PodMonitor, podLabels labels.Set, c corev1.Container, flags map[string]string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if (pm != nil) != o.PodMonitor {
		fail("a PodMonitor rendered: %v, want %v (--pod-monitor)", pm != nil, o.PodMonitor)
	}
	if pm == nil {
		return errs
	}
	if pm.Namespace != o.Namespace || pm.Spec.NamespaceSelector.Any || len(pm.Spec.NamespaceSelector.MatchNames) > 0 {
		fail("PodMonitor namespace %q (selector %+v), want the job's %q only", pm.Namespace, pm.Spec.NamespaceSelector, o.Namespace)
	}
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	other := labels.Merge(podLabels, labels.Set{k8s.LabelInstance: o.Name + "-other"})
	if err != nil || sel.Empty() || !sel.Matches(podLabels) || sel.Matches(other) {
		fail("PodMonitor selector %v (%v) must select the job's pods %v and no other job's", &pm.Spec.Selector, err, podLabels)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		fail("want one podMetricsEndpoint, got %d", len(pm.Spec.PodMetricsEndpoints))
		return errs
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	name := "(unset)"
	if ep.Port != nil {
		name = *ep.Port
	}
	i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == name })
	if i < 0 || ":"+strconv.Itoa(int(c.Ports[i].ContainerPort)) != flags["metrics-addr"] {
		fail("PodMetricsEndpoint port %s is not the container port --metrics-addr=%q listens on", name, flags["metrics-addr"])
	}
	if ep.Path != "" && ep.Path != "/metrics" {
		fail("PodMetricsEndpoint path %q, want /metrics", ep.Path)
	}
	if !ep.HonorLabels {
		fail("honorLabels must be true: the job label is ddprun's job id (the alert rules group by it)")
	}
	return errs
}

func validateResources(o k8s.Options, c corev1.Container, flags map[string]string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	r := c.Resources
	check := func(list corev1.ResourceList, name corev1.ResourceName, want string) {
		q, ok := list[name]
		if want == "" || want == "0" {
			if ok {
				fail("%s set to %s, want unset", name, q.String())
			}
			return
		}
		if !ok || q.String() != want {
			fail("%s = %v, want %s", name, q.String(), want)
		}
	}
	check(r.Requests, corev1.ResourceCPU, o.CPU)
	check(r.Requests, corev1.ResourceMemory, o.Memory)
	check(r.Limits, corev1.ResourceMemory, o.Memory)
	check(r.Limits, "nvidia.com/gpu", strconv.Itoa(o.GPUs))
	check(r.Limits, "habana.ai/gaudi", strconv.Itoa(o.Gaudi))
	if _, ok := r.Limits[corev1.ResourceCPU]; ok {
		fail("no CPU limit: throttling slows every rank's all-reduce")
	}
	accel := max(o.GPUs, o.Gaudi)
	if accel > 0 && o.NProcPerNode == 0 && flags["nproc-per-node"] != strconv.Itoa(accel) {
		fail("--nproc-per-node=%s, want one rank per device (%d)", flags["nproc-per-node"], accel)
	}
	return errs
}

func validateSecret(o k8s.Options, pod corev1.PodSpec, c corev1.Container, flags map[string]string) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if s := pod.Volumes[i].Secret; s != nil && s.SecretName == o.Secret {
			vol = &pod.Volumes[i]
		}
	}
	if vol == nil {
		fail("no volume from the Secret %q", o.Secret)
		return errs
	}
	var file string
	for _, m := range c.VolumeMounts {
		if m.Name == vol.Name && m.ReadOnly {
			for _, it := range vol.Secret.Items {
				file = m.MountPath + "/" + it.Path
			}
		}
	}
	if file == "" || flags["secret-file"] != file {
		fail("--secret-file=%q, want the mounted secret %q", flags["secret-file"], file)
	}
	// With the fsGroup, the kubelet makes the file root:<fsGroup> and adds
	// group read; ddprun refuses anything more (rankenv, Note [Secret file mode]).
	if m := vol.Secret.DefaultMode; m == nil || *m&0o037 != 0 || *m&0o400 == 0 {
		fail("secret defaultMode %v: want the owner and at most the group reading it (0400 or 0440)", m)
	}
	for _, e := range c.Env {
		if strings.Contains(e.Name, "SECRET") {
			fail("env %s: the secret travels as a mounted file only", e.Name)
		}
	}
	return errs
}

// validateSecurity checks Note [Pod security]: a non-root numeric user,
// no way to gain privileges, a read-only root filesystem with everything
// ddprun writes on a writable volume, and no API token.
func validateSecurity(o k8s.Options, pod corev1.PodSpec, c corev1.Container) (errs []error) {
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if a := pod.AutomountServiceAccountToken; a == nil || *a {
		fail("automountServiceAccountToken must be false: no service-account token in the pods")
	}
	psc := pod.SecurityContext
	if psc == nil {
		fail("no pod securityContext")
		return errs
	}
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		fail("runAsNonRoot must be true")
	}
	for name, id := range map[string]*int64{"runAsUser": psc.RunAsUser, "runAsGroup": psc.RunAsGroup, "fsGroup": psc.FSGroup} {
		if id == nil {
			fail("%s unset: want a numeric non-root id (the Secret file and the volumes are readable through it)", name)
		} else if *id <= 0 {
			fail("%s %d: want a numeric non-root id", name, *id)
		}
	}
	if sp := psc.SeccompProfile; sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		fail("seccompProfile %v, want RuntimeDefault", sp)
	}
	sc := c.SecurityContext
	if sc == nil {
		fail("no container securityContext")
		return errs
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Privileged != nil && *sc.Privileged {
		fail("allowPrivilegeEscalation must be false (and privileged unset)")
	}
	if sc.RunAsUser != nil || sc.RunAsNonRoot != nil {
		fail("the container must not override the pod's user")
	}
	if cp := sc.Capabilities; cp == nil || !slices.Contains(cp.Drop, "ALL") || len(cp.Add) > 0 {
		fail("capabilities %v: want drop [ALL] and nothing added", cp)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		fail("readOnlyRootFilesystem must be true")
	}
	home := ""
	for _, e := range c.Env {
		if e.Name == "HOME" {
			home = e.Value
		}
	}
	for what, dir := range map[string]string{"/tmp": k8s.TmpDir, "--output-path": o.OutputPath, "HOME (gotch's cache)": home} {
		if !writable(c.VolumeMounts, dir) {
			fail("%s (%q) is not on a writable volume: the root filesystem is read-only", what, dir)
		}
	}
	return errs
}

// writable reports whether dir is on a volume mounted read-write.
func writable(mounts []corev1.VolumeMount, dir string) bool {
	if dir == "" {
		return false
	}
	for _, m := range mounts {
		if !m.ReadOnly && (dir == m.MountPath || strings.HasPrefix(dir, strings.TrimSuffix(m.MountPath, "/")+"/")) {
			return true
		}
	}
	return false
}

// TestValidateCatches breaks a good manifest in the ways users do and
// checks that the strict decode or the validation notices.
func TestValidateCatches(t *testing.T) {
	o, good := renderCases[0].render(t)
	for _, c := range []struct{ name, old, new, want string }{
		{"unknown field", "completionMode: Indexed", "completionMod: Indexed", "unknown field"},
		{"misplaced field", "  subdomain: bert-cpu-svc", "  subdomian: bert-cpu-svc", "unknown field"},
		{"subdomain", "subdomain: bert-cpu-svc", "subdomain: bert-cpu", "subdomain"},
		{"selector", "  selector:\n    app.kubernetes.io/instance: bert-cpu", "  selector:\n    app.kubernetes.io/instance: bert", "selector"},
		{"parallelism", "parallelism: 2", "parallelism: 1", "parallelism"},
		{"completion mode", "completionMode: Indexed", "completionMode: NonIndexed", "Indexed"},
		{"backoff", "backoffLimit: 0", "backoffLimit: 6", "backoffLimit"},
		{"restart policy", "restartPolicy: Never", "restartPolicy: OnFailure", "restartPolicy"},
		{"exit 3 counted", "operator: In", "operator: NotIn", "exit code 3"},
		{"grace", "terminationGracePeriodSeconds: 120", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds"},
		{"gossip port", "containerPort: 7946\n          name: gossip\n", "containerPort: 7947\n          name: gossip\n", "gossip"},
		{"service port", "targetPort: nats", "targetPort: natz", "matches no container port"},
		{"secret path", "path: secret", "path: key", "--secret-file"},
		{"secret mode", "defaultMode: 288", "defaultMode: 292", "defaultMode"},
		{"metrics on the Service", "    targetPort: nats\n", "    targetPort: nats\n  - name: metrics\n    port: 9400\n    protocol: TCP\n    targetPort: metrics\n", "metrics port is on the headless Service"},
		{"token", "automountServiceAccountToken: false", "automountServiceAccountToken: true", "automountServiceAccountToken"},
		{"root", "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"uid 0", "runAsUser: 65532", "runAsUser: 0", "runAsUser"},
		{"no fsGroup", "        fsGroup: 65532\n", "", "fsGroup"},
		{"seccomp", "type: RuntimeDefault", "type: Unconfined", "seccompProfile"},
		{"escalation", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation"},
		{"capabilities", "            - ALL", "            - NET_RAW", "capabilities"},
		{"writable root", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"no /tmp", "        - mountPath: /tmp\n          name: tmp\n", "", "/tmp"},
		{"HOME", "value: /tmp", "value: /home/ddprun", "HOME"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(string(good), c.old, c.new, 1)
			if bad == string(good) {
				t.Fatalf("%q not in the manifest", c.old)
			}
			d, err := decodeStrict([]byte(bad), false)
			var msgs []string
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, e := range validate(o, d) {
					msgs = append(msgs, e.Error())
				}
			}
			if !strings.Contains(strings.Join(msgs, "\n"), c.want) {
				t.Errorf("want an error mentioning %q, got %q", c.want, msgs)
			}
		})
	}
}

// TestValidateCatches_PodMonitor breaks the PodMonitor of --pod-monitor
// the ways that would leave Prometheus scraping nothing, or another
// job's pods, or renaming the job label, and leaves it out.
func TestValidateCatches_PodMonitor(t *testing.T) {
	i := slices.IndexFunc(renderCases, func(c renderCase) bool { return c.name == "podmonitor" })
	o, good := renderCases[i].render(t)
	others, pm, _ := strings.Cut(string(good), "\n---\napiVersion: monitoring.coreos.com/v1\n")
	errsOf := func(manifest string) string {
		d, err := decodeStrict([]byte(manifest), false)
		if err != nil {
			return err.Error()
		}
		var msgs []string
		for _, e := range validate(o, d) {
			msgs = append(msgs, e.Error())
		}
		return strings.Join(msgs, "\n")
	}
	if msgs := errsOf(others + "\n"); !strings.Contains(msgs, "PodMonitor rendered: false") {
		t.Errorf("without the PodMonitor: want an error, got %q", msgs)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"port", "port: metrics", "port: http-metrics", "not the container port"},
		{"honorLabels", "honorLabels: true", "honorLabels: false", "honorLabels"},
		{"selector", "      app.kubernetes.io/instance: bert-mon\n", "", "no other job's"},
		{"other job", "      app.kubernetes.io/instance: bert-mon\n", "      app.kubernetes.io/instance: bert\n", "must select the job's pods"},
		{"namespace", "  namespace: ml\n", "", "want the job's \"ml\""},
		{"any namespace", "spec:\n", "spec:\n  namespaceSelector:\n    any: true\n", "want the job's \"ml\""},
		{"misspelt", "podMetricsEndpoints:", "podMetricEndpoints:", "unknown field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := strings.Replace(pm, c.old, c.new, 1)
			if bad == pm {
				t.Fatalf("%q not in the PodMonitor", c.old)
			}
			if msgs := errsOf(others + "\n---\napiVersion: monitoring.coreos.com/v1\n" + bad); !strings.Contains(msgs, c.want) {
				t.Errorf("want an error mentioning %q, got %q", c.want, msgs)
			}
		})
	}
}
