package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Names in the rendered objects.
const (
	ContainerName = "ddprun"
	replicatedJob = "node"
	LabelName     = "app.kubernetes.io/name"
	LabelInstance = "app.kubernetes.io/instance"
)

// Exit codes the Job's pod failure policy knows (launcher.ExitStopped:
// every rank checkpointed and stopped on SIGTERM).
const ExitStopped = 3

// Note [Restarts]: restarts are ddprun's, not the Job's. The launcher
// restarts all ranks from the last checkpoint up to --max-restarts, with
// every pod keeping its name, IP and DNS record; a launcher exits non-zero
// only when the job as a whole has failed. So the Job never retries:
// restartPolicy Never with backoffLimit 0, and a podFailurePolicy that
//   - ignores pods disrupted by Kubernetes (DisruptionTarget: preemption,
//     eviction, node drain) and pods whose launcher exited 3 (stopped
//     cleanly on SIGTERM after a checkpoint): they are not failures, and
//     their replacement (podReplacementPolicy Failed: only once the old
//     pod is gone) rejoins, and the job resumes from the checkpoint when
//     the other launchers have a restart left;
//   - fails the Job at once on any other exit code (the launcher's 1, 2
//     or 4), instead of recreating a pod the job has given up on.
// backoffLimitPerIndex would retry single pods, which a data-parallel job
// cannot use: every rank must restart together, and ddprun does that.

const restartsNote = `restarts are ddprun's (--max-restarts); the Job never retries a pod: ` +
	`backoffLimit 0, exit 3 (clean stop after a checkpoint) and disruptions ignored, other exit codes fail the Job`

// Render writes the manifests for o: YAML documents (a headless Service
// and an Indexed Job, or a JobSet), or a JSON v1 List with o.JSON.
func Render(w io.Writer, o Options) error {
	o = o.withDefaults()
	objs, err := Objects(o)
	if err != nil {
		return err
	}
	if o.JSON {
		b, err := json.MarshalIndent(List{Meta{"v1", "List"}, objs}, "", "  ")
		if err != nil {
			return fmt.Errorf("k8s: encoding JSON: %w", err)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(header(o))
	for i, obj := range objs {
		b, err := yaml.Marshal(obj)
		if err != nil {
			return fmt.Errorf("k8s: encoding YAML: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// Objects returns the objects Render writes, in apply order: the Service
// first, so that its DNS records exist when the pods start, and the
// PodMonitor (with o.PodMonitor) last.
func Objects(o Options) ([]any, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	spec := jobSpec(&o)
	if o.JobSet {
		js := JobSet{Meta: Meta{"jobset.x-k8s.io/v1alpha2", "JobSet"}, Metadata: meta(&o, o.Name, true),
			Spec: JobSetSpec{
				Network:       JobSetNetwork{EnableDNSHostnames: true, Subdomain: o.service(), PublishNotReadyAddresses: true},
				FailurePolicy: JobSetFailurePolicy{MaxRestarts: 0},
				ReplicatedJobs: []ReplicatedJob{{Name: replicatedJob, Replicas: 1,
					Template: JobTemplate{Metadata: ObjectMeta{Labels: labels(&o)}, Spec: spec}}},
			}}
		return withPodMonitor(&o, js), nil
	}
	job := Job{Meta: Meta{"batch/v1", "Job"}, Metadata: meta(&o, o.Name, true), Spec: spec}
	return withPodMonitor(&o, service(&o), job), nil
}

// withPodMonitor appends the PodMonitor, last, when o asks for one.
func withPodMonitor(o *Options, objs ...any) []any {
	if o.PodMonitor {
		objs = append(objs, podMonitor(o))
	}
	return objs
}

func labels(o *Options) map[string]string {
	return map[string]string{LabelName: "ddprun", LabelInstance: o.Name}
}

func meta(o *Options, name string, note bool) ObjectMeta {
	m := ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels(o)}
	if note {
		m.Annotations = map[string]string{"ddprun.io/restarts": restartsNote}
	}
	return m
}

// service is the headless Service that gives pod i the name
// <job>-i.<svc>. publishNotReadyAddresses: the records exist as soon as
// the pods have IPs; training pods have no readiness probe, and peers
// must find pod 0 before anything is "ready". Its ports are the gossip
// and NATS ports; the metrics port only with MetricsOnService, since
// metrics are scraped per pod.
func service(o *Options) Service {
	return Service{Meta: Meta{"v1", "Service"}, Metadata: meta(o, o.service(), false),
		Spec: ServiceSpec{ClusterIP: "None", Selector: labels(o), PublishNotReadyAddresses: true, Ports: servicePorts(o)}}
}

func servicePorts(o *Options) []ServicePort {
	var ps []ServicePort
	for _, p := range containerPorts(o) {
		if p.Name == "metrics" && !o.MetricsOnService {
			continue
		}
		ps = append(ps, ServicePort{Name: p.Name, Port: p.ContainerPort, TargetPort: p.Name, Protocol: p.Protocol})
	}
	return ps
}

func containerPorts(o *Options) []ContainerPort {
	ps := []ContainerPort{
		{Name: "gossip", ContainerPort: o.GossipPort, Protocol: "TCP"},
		{Name: "gossip-udp", ContainerPort: o.GossipPort, Protocol: "UDP"},
		{Name: "nats", ContainerPort: o.NATSPort, Protocol: "TCP"}, // pod 0 only
	}
	if o.MetricsPort > 0 {
		ps = append(ps, ContainerPort{Name: "metrics", ContainerPort: o.MetricsPort, Protocol: "TCP"})
	}
	return ps
}

func jobSpec(o *Options) JobSpec {
	zero := 0
	return JobSpec{
		CompletionMode: "Indexed", Completions: o.Nodes, Parallelism: o.Nodes,
		BackoffLimit: &zero, PodReplacementPolicy: "Failed",
		PodFailurePolicy: &PodFailurePolicy{Rules: []PodFailurePolicyRule{
			{Action: "Ignore", OnPodConditions: []OnPodConditionPattern{{Type: "DisruptionTarget", Status: "True"}}},
			{Action: "Ignore", OnExitCodes: &OnExitCodes{ContainerName: ContainerName, Operator: "In", Values: []int{ExitStopped}}},
			{Action: "FailJob", OnExitCodes: &OnExitCodes{ContainerName: ContainerName, Operator: "NotIn", Values: []int{0, ExitStopped}}},
		}},
		Template: PodTemplate{Metadata: ObjectMeta{Labels: labels(o)}, Spec: podSpec(o)},
	}
}

func podSpec(o *Options) PodSpec {
	no := false
	ps := PodSpec{
		Subdomain: o.service(), RestartPolicy: "Never",
		TerminationGracePeriodSeconds: int((o.Grace + GraceMargin).Seconds()),
		EnableServiceLinks:            &no, // no FOO_SERVICE_HOST variables from every Service in the namespace
		AutomountServiceAccountToken:  &no, // ddprun never talks to the API server
		SecurityContext:               podSecurity(o),
		Containers:                    []Container{container(o)},
		Volumes:                       volumes(o),
	}
	if o.HostNetwork {
		ps.HostNetwork, ps.DNSPolicy = true, "ClusterFirstWithHostNet"
	}
	return ps
}

// Note [Pod security]: the pods run as a numeric non-root user
// (RunAsUser, also the group and the fsGroup), with RuntimeDefault
// seccomp, no privilege escalation, every capability dropped, a read-only
// root filesystem and no service-account token: what the Pod Security
// Standards' "restricted" profile asks (host paths and host networking,
// when asked for, are the exceptions it names). ddprun writes only to
// --output (a volume), /tmp (an emptyDir: stack dumps of a stalled
// job, the libraries' scratch files) and /dev/shm (GPUs). HOME is /tmp:
// gotch creates $HOME/.cache/gotch when the binary starts, and exits if
// it cannot. The fsGroup makes the Secret file root:<fsGroup> 0440 and
// volumes that support ownership writable; rankenv accepts a group-read
// secret file only when root owns it (Note [Secret file mode]).
// fsGroupChangePolicy OnRootMismatch spares a large output volume the
// recursive chown on every start. Host-path volumes ignore fsGroup: the
// node directory must be writable by RunAsUser.

func podSecurity(o *Options) *PodSecurityContext {
	return &PodSecurityContext{RunAsNonRoot: true, RunAsUser: o.RunAsUser, RunAsGroup: o.RunAsUser, FSGroup: o.RunAsUser,
		FSGroupChangePolicy: "OnRootMismatch", SeccompProfile: &SeccompProfile{Type: "RuntimeDefault"}}
}

func container(o *Options) Container {
	c := Container{
		Name: ContainerName, Image: o.Image, ImagePullPolicy: o.ImagePullPolicy,
		Command: []string{"ddprun"}, Args: args(o), Env: env(o), Ports: containerPorts(o),
		Resources: resources(o), VolumeMounts: mounts(o),
		SecurityContext: &SecurityContext{AllowPrivilegeEscalation: false, ReadOnlyRootFilesystem: true,
			Capabilities: &Capabilities{Drop: []string{"ALL"}}},
	}
	return c
}

// args are the launcher's flags, then `train` and the train flags. --join
// is missing on purpose: pod 0 starts the cluster and the others derive
// the seed from the environment (PodDefaults). $(POD_IP) and $(POD_NAME)
// are expanded by the kubelet. --metrics-addr=:PORT listens on --bind,
// the pod IP, like every other listener of the launcher.
func args(o *Options) []string {
	a := []string{
		"--nodes=" + strconv.Itoa(o.Nodes),
		"--nproc-per-node=" + strconv.Itoa(o.nproc()),
		"--bind=$(" + EnvPodIP + ")",
		"--node-name=$(" + EnvPodName + ")",
		"--port=" + strconv.Itoa(o.GossipPort),
		"--nats-port=" + strconv.Itoa(o.NATSPort),
		"--secret-file=" + SecretFile,
		"--max-restarts=" + strconv.Itoa(o.MaxRestarts),
		"--grace=" + o.Grace.String(),
	}
	if o.MetricsPort > 0 {
		a = append(a, "--metrics-addr=:"+strconv.Itoa(o.MetricsPort))
	}
	a = append(a, "train")
	a = append(a, o.TrainArgs...)
	if !hasFlag(o.TrainArgs, "output") {
		a = append(a, "--output="+o.OutputPath)
	}
	return a
}

func hasFlag(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		a = strings.TrimLeft(a, "-")
		return a == name || strings.HasPrefix(a, name+"=")
	})
}

func env(o *Options) []EnvVar {
	field := func(name, path string) EnvVar {
		return EnvVar{Name: name, ValueFrom: &EnvVarSource{FieldRef: &FieldRef{FieldPath: path}}}
	}
	return []EnvVar{
		field(EnvPodName, "metadata.name"),
		field(EnvPodIP, "status.podIP"),
		{Name: EnvJob, Value: o.job()},
		{Name: EnvService, Value: o.service()},
		{Name: EnvPort, Value: strconv.Itoa(o.GossipPort)},
		{Name: "HOME", Value: TmpDir}, // See Note [Pod security].
	}
}

func resources(o *Options) Resources {
	r := Resources{Requests: map[string]string{}, Limits: map[string]string{}}
	if o.CPU != "" {
		r.Requests["cpu"] = o.CPU
	}
	if o.Memory != "" {
		r.Requests["memory"], r.Limits["memory"] = o.Memory, o.Memory
	}
	if o.GPUs > 0 {
		r.Limits["nvidia.com/gpu"] = strconv.Itoa(o.GPUs)
	}
	if o.Gaudi > 0 {
		r.Limits["habana.ai/gaudi"] = strconv.Itoa(o.Gaudi)
	}
	if len(r.Requests) == 0 {
		r.Requests = nil
	}
	if len(r.Limits) == 0 {
		r.Limits = nil
	}
	return r
}

func mounts(o *Options) []VolumeMount {
	m := []VolumeMount{{Name: "job-secret", MountPath: SecretDir, ReadOnly: true}}
	if o.DataPVC != "" || o.DataHostPath != "" {
		m = append(m, VolumeMount{Name: "data", MountPath: o.DataPath, ReadOnly: true})
	}
	m = append(m, VolumeMount{Name: "output", MountPath: o.OutputPath}, VolumeMount{Name: "tmp", MountPath: TmpDir})
	if o.GPUs > 0 || o.Gaudi > 0 {
		m = append(m, VolumeMount{Name: "dshm", MountPath: "/dev/shm"})
	}
	return m
}

// volumes: the job secret as a file (mode 0440, root:<fsGroup>: the mode
// the kubelet gives it with an fsGroup anyway; Note [Pod security]), the
// data, the output (an emptyDir when neither a PVC nor a host path is
// given: the report then lives only as long as the pod), /tmp, and a
// memory-backed /dev/shm for NCCL/HCCL, whose default 64 MiB in a
// container is too small.
func volumes(o *Options) []Volume {
	v := []Volume{{Name: "job-secret", Secret: &SecretVolume{SecretName: o.Secret, DefaultMode: 0o440,
		Items: []KeyToPath{{Key: o.SecretKey, Path: "secret"}}}}}
	switch {
	case o.DataPVC != "":
		v = append(v, Volume{Name: "data", PersistentVolumeClaim: &PVCVolume{ClaimName: o.DataPVC, ReadOnly: true}})
	case o.DataHostPath != "":
		v = append(v, Volume{Name: "data", HostPath: &HostPathVolume{Path: o.DataHostPath, Type: "Directory"}})
	}
	switch {
	case o.OutputPVC != "":
		v = append(v, Volume{Name: "output", PersistentVolumeClaim: &PVCVolume{ClaimName: o.OutputPVC}})
	case o.OutputHostPath != "":
		v = append(v, Volume{Name: "output", HostPath: &HostPathVolume{Path: o.OutputHostPath, Type: "DirectoryOrCreate"}})
	default:
		v = append(v, Volume{Name: "output", EmptyDir: &EmptyDirVolume{}})
	}
	v = append(v, Volume{Name: "tmp", EmptyDir: &EmptyDirVolume{}})
	if o.GPUs > 0 || o.Gaudi > 0 {
		v = append(v, Volume{Name: "dshm", EmptyDir: &EmptyDirVolume{Medium: "Memory"}})
	}
	return v
}

// header is the comment above the YAML documents.
func header(o Options) string {
	var b strings.Builder
	if o.Generator != "" {
		fmt.Fprintf(&b, "# Generated by: %s\n", o.Generator)
	}
	kind := "an Indexed Job " + o.job() + " and the headless Service " + o.service()
	if o.JobSet {
		kind = "a JobSet " + o.Name + " (child Job " + o.job() + ", headless Service " + o.service() + " made by the JobSet controller)"
	}
	if o.PodMonitor {
		kind += ";\n# a PodMonitor " + o.Name + " (Prometheus Operator) scrapes every pod's metrics port, honoring its job label"
	}
	fmt.Fprintf(&b, `# ddprun training job: %s.
# %d pods x %d ranks; pod i is %s-i.%s (subdomain = Service name); pod 0
# is the seed (gossip port %d) and runs the control plane (NATS port %d).
# The ring between ranks uses ephemeral ports: allow all TCP between the pods.
#
# Restarts are ddprun's (--max-restarts=%d), not the Job's: restartPolicy
# Never, backoffLimit 0. The podFailurePolicy ignores disruptions and exit
# code 3 (a launcher that stopped cleanly on SIGTERM after a checkpoint;
# the pod is replaced and rejoins), and fails the Job on any other exit code.
# terminationGracePeriodSeconds = --grace (%v) + %v for the checkpoint.
#
# Pods run as uid/gid %d (runAsNonRoot), without privilege escalation or
# capabilities, with RuntimeDefault seccomp, a read-only root filesystem
# (/tmp is an emptyDir) and no service-account token. Volumes without
# fsGroup support (host paths, some NFS) must be writable by uid %d.
`, kind, o.Nodes, o.nproc(), o.job(), o.service(), o.GossipPort, o.NATSPort, o.MaxRestarts, o.Grace, GraceMargin, o.RunAsUser, o.RunAsUser)
	return b.String()
}
