package k8s

import (
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ports a rendered job uses. The ring (rank to rank) listens on ephemeral
// ports chosen by the launcher, so a NetworkPolicy must allow all TCP
// between the job's pods, not only these.
const (
	DefaultGossipPort  = 7946 // memberlist, TCP and UDP, every pod
	DefaultNATSPort    = 4222 // the control plane, pod 0 only
	DefaultMetricsPort = 9400 // Prometheus /metrics, every pod
)

// DefaultGrace is the time ranks get to write a checkpoint after SIGTERM
// (the launcher's --grace); the pod's terminationGracePeriodSeconds adds
// GraceMargin so the kubelet does not SIGKILL a launcher still waiting on
// its ranks.
const (
	DefaultGrace = 90 * time.Second
	GraceMargin  = 30 * time.Second
)

// Paths inside the container.
const (
	SecretDir  = "/var/run/secrets/ddprun"
	SecretFile = SecretDir + "/secret"
	TmpDir     = "/tmp" // an emptyDir: the root filesystem is read-only
)

// DefaultRunAsUser is the numeric user, group and fsGroup the pods run as
// (65532, distroless' "nonroot"): any non-zero id works, and a number
// lets the kubelet enforce runAsNonRoot without reading the image's
// /etc/passwd.
const DefaultRunAsUser = 65532

// Options describe one training job. Name, Image, Secret and Nodes must
// be set; zero ports, paths and SecretKey take the defaults RegisterFlags
// shows (MetricsPort 0 means no /metrics).
type Options struct {
	Name            string // Job (or JobSet) name; the Service is Name+"-svc"
	Namespace       string // empty: kubectl's current namespace
	Nodes           int    // pods, one launcher each
	NProcPerNode    int    // ranks per pod (0: GPUs, else Gaudi cards, else 1)
	Image           string
	ImagePullPolicy string // Always, IfNotPresent, Never; empty: the cluster's default
	Secret          string // name of the Secret holding the job secret (never the value)
	SecretKey       string // key in that Secret (default "secret")
	CPU, Memory     string // requests (memory also the limit); quantities like "4", "16Gi"
	GPUs, Gaudi     int    // nvidia.com/gpu, habana.ai/gaudi per pod
	// Data and output volumes: a PersistentVolumeClaim, or a hostPath for
	// kind/minikube demos, mounted at DataPath (read-only) and OutputPath.
	DataPVC, DataHostPath, DataPath       string
	OutputPVC, OutputHostPath, OutputPath string
	MaxRestarts                           int           // the launcher's --max-restarts
	Grace                                 time.Duration // the launcher's --grace
	GossipPort, NATSPort, MetricsPort     int           // MetricsPort 0: no /metrics
	// MetricsOnService also lists the metrics port on the headless
	// Service, for a Prometheus ServiceMonitor. Off by default: metrics
	// are scraped per pod (a PodMonitor, or pod annotations) and need
	// only the container port.
	MetricsOnService bool
	// PodMonitor adds a Prometheus Operator PodMonitor scraping every
	// pod's metrics port (Note [PodMonitor]).
	PodMonitor bool
	// RunAsUser is the pods' user, group and fsGroup (0:
	// DefaultRunAsUser). The pods never run as root.
	RunAsUser   int64
	HostNetwork bool // pods share the node's network (one pod per node)
	JobSet      bool // render a JobSet instead of a Job and a Service
	JSON        bool // JSON (a v1 List) instead of YAML
	// TrainArgs are the flags of `ddprun train`, passed through; without
	// --output, --output=OutputPath is added.
	TrainArgs []string
	// Generator, if set, is quoted in the YAML header (the command line).
	Generator string
}

// RegisterFlags binds the options to fs, with their defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Name, "name", "ddprun", "job name (pods are NAME-0, NAME-1, ...; the headless Service is NAME-svc)")
	fs.StringVar(&o.Namespace, "namespace", "", "namespace (default: kubectl's current one)")
	fs.IntVar(&o.Nodes, "nodes", 2, "pods, one launcher each (completions = parallelism)")
	fs.IntVar(&o.NProcPerNode, "nproc-per-node", 0, "ranks per pod (default: --gpus, else --gaudi, else 1)")
	fs.StringVar(&o.Image, "image", "", "container image with ddprun (see k8s/Dockerfile); required")
	fs.StringVar(&o.ImagePullPolicy, "image-pull-policy", "", "Always, IfNotPresent or Never (kind: Never after 'kind load docker-image')")
	fs.StringVar(&o.Secret, "secret", "", "name of the Secret that holds the job secret (mounted as a file); required")
	fs.StringVar(&o.SecretKey, "secret-key", "secret", "key of the job secret in --secret")
	fs.StringVar(&o.CPU, "cpu", "", "CPU request per pod, e.g. 4 or 3500m")
	fs.StringVar(&o.Memory, "memory", "", "memory request and limit per pod, e.g. 16Gi")
	fs.IntVar(&o.GPUs, "gpus", 0, "nvidia.com/gpu per pod")
	fs.IntVar(&o.Gaudi, "gaudi", 0, "habana.ai/gaudi per pod")
	fs.StringVar(&o.DataPVC, "data-pvc", "", "PersistentVolumeClaim with the data, mounted read-only at --data-path")
	fs.StringVar(&o.DataHostPath, "data-host-path", "", "node directory with the data (kind/minikube demos)")
	fs.StringVar(&o.DataPath, "data-path", "/data", "mount path of the data volume")
	fs.StringVar(&o.OutputPVC, "output-pvc", "", "PersistentVolumeClaim for checkpoints, model and report (ReadWriteMany when --nodes > 1)")
	fs.StringVar(&o.OutputHostPath, "output-host-path", "", "node directory for the output (kind/minikube demos)")
	fs.StringVar(&o.OutputPath, "output-path", "/output", "mount path of the output volume")
	fs.IntVar(&o.MaxRestarts, "max-restarts", 0, "restarts of all ranks from the last checkpoint, done by ddprun (the Job itself never retries)")
	fs.DurationVar(&o.Grace, "grace", DefaultGrace, "time ranks get to checkpoint after SIGTERM; the pod gets 30s more")
	fs.IntVar(&o.GossipPort, "gossip-port", DefaultGossipPort, "memberlist port (TCP and UDP)")
	fs.IntVar(&o.NATSPort, "nats-port", DefaultNATSPort, "control-plane (NATS) port on pod 0")
	fs.IntVar(&o.MetricsPort, "metrics-port", DefaultMetricsPort, "Prometheus /metrics port on each pod's IP (0: none)")
	fs.BoolVar(&o.MetricsOnService, "metrics-on-service", false, "also list the metrics port on the headless Service (for a ServiceMonitor; a PodMonitor needs only the pods' port)")
	fs.BoolVar(&o.PodMonitor, "pod-monitor", false, "also render a Prometheus Operator PodMonitor (monitoring.coreos.com/v1) scraping every pod's metrics port, with honorLabels")
	fs.Int64Var(&o.RunAsUser, "run-as-user", DefaultRunAsUser, "numeric user, group and fsGroup of the pods (never root: 0 means the default; host-path volumes must be writable by it)")
	fs.BoolVar(&o.HostNetwork, "host-network", false, "use the nodes' network (hostNetwork: true): at most one pod per node")
	fs.BoolVar(&o.JobSet, "jobset", false, "render a JobSet (jobset.x-k8s.io/v1alpha2) instead of an Indexed Job and a headless Service")
	fs.BoolVar(&o.JSON, "json", false, "print JSON (a v1 List) instead of YAML")
}

// ParseArgs parses `ddprun k8s render` arguments: flags, then optionally
// "--" and the train flags.
func ParseArgs(fs *flag.FlagSet, args []string) (Options, error) {
	var o Options
	o.RegisterFlags(fs)
	var train []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, train = args[:i], args[i+1:]
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("%w: unexpected arguments %q (train flags go after --)", ErrOptions, fs.Args())
	}
	o.TrainArgs = slices.Clone(train)
	return o, nil
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.SecretKey, "secret")
	def(&o.DataPath, "/data")
	def(&o.OutputPath, "/output")
	if o.GossipPort == 0 {
		o.GossipPort = DefaultGossipPort
	}
	if o.NATSPort == 0 {
		o.NATSPort = DefaultNATSPort
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.RunAsUser == 0 {
		o.RunAsUser = DefaultRunAsUser
	}
	return o
}

// nproc is the ranks per pod.
func (o *Options) nproc() int {
	switch {
	case o.NProcPerNode > 0:
		return o.NProcPerNode
	case o.GPUs > 0:
		return o.GPUs
	case o.Gaudi > 0:
		return o.Gaudi
	}
	return 1
}

func (o *Options) service() string { return o.Name + "-svc" }

// job is the name of the Job whose pods train: the JobSet's child Job is
// <jobset>-<replicatedJob>-<index>.
func (o *Options) job() string {
	if o.JobSet {
		return o.Name + "-" + replicatedJob + "-0"
	}
	return o.Name
}

var (
	dns1035  = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	dns1123  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	quantity = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[mkMGTPE]|[KMGTPE]i)?$`)
)

// Validate checks the options before rendering.
func (o *Options) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrOptions}, a...)...)
	}
	host := o.job() + "-" + strconv.Itoa(o.Nodes-1)
	switch {
	case !dns1035.MatchString(o.Name):
		return bad("--name %q: want lower-case letters, digits and '-', starting with a letter", o.Name)
	case len(host) > 63 || len(o.service()) > 63:
		return bad("--name %q is too long: pod host names (%s) and the Service name must fit in 63 characters", o.Name, host)
	case o.Namespace != "" && (!dns1123.MatchString(o.Namespace) || len(o.Namespace) > 63):
		return bad("--namespace %q", o.Namespace)
	case o.Nodes < 1:
		return bad("--nodes %d: want >= 1 (an elastic MIN:MAX is not supported on Kubernetes: a Job has a fixed size)", o.Nodes)
	case o.NProcPerNode < 0 || o.GPUs < 0 || o.Gaudi < 0:
		return bad("negative --nproc-per-node, --gpus or --gaudi")
	case o.GPUs > 0 && o.Gaudi > 0:
		return bad("--gpus and --gaudi together")
	case o.Image == "":
		return bad("--image is required")
	case o.Secret == "":
		return bad("--secret is required: the name of a Secret with the job secret " +
			"(kubectl create secret generic NAME --from-literal=secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'))")
	case o.SecretKey == "":
		return bad("--secret-key is empty")
	case o.DataPVC != "" && o.DataHostPath != "", o.OutputPVC != "" && o.OutputHostPath != "":
		return bad("a volume is either a PVC or a host path, not both")
	case o.MaxRestarts < 0:
		return bad("--max-restarts %d", o.MaxRestarts)
	case o.RunAsUser < 0:
		return bad("--run-as-user %d: want a non-root numeric user id (> 0)", o.RunAsUser)
	case o.MetricsOnService && (o.MetricsPort == 0 || o.JobSet):
		return bad("--metrics-on-service needs --metrics-port and no --jobset (the JobSet controller makes that Service)")
	case o.PodMonitor && o.MetricsPort == 0:
		return bad("--pod-monitor needs --metrics-port")
	case o.ImagePullPolicy != "" && !slices.Contains([]string{"Always", "IfNotPresent", "Never"}, o.ImagePullPolicy):
		return bad("--image-pull-policy %q: want Always, IfNotPresent or Never", o.ImagePullPolicy)
	case !absPath(o.DataPath) || !absPath(o.OutputPath) || o.DataPath == o.OutputPath:
		return bad("--data-path %q and --output-path %q must be different absolute paths", o.DataPath, o.OutputPath)
	}
	for _, q := range []struct{ flag, v string }{{"--cpu", o.CPU}, {"--memory", o.Memory}} {
		if q.v != "" && !quantity.MatchString(q.v) {
			return bad("%s %q is not a Kubernetes quantity (e.g. 4, 500m, 16Gi)", q.flag, q.v)
		}
	}
	return o.checkPorts()
}

func (o *Options) checkPorts() error {
	ports := []int{o.GossipPort, o.NATSPort}
	if o.MetricsPort != 0 {
		ports = append(ports, o.MetricsPort)
	}
	for i, p := range ports {
		if p < 1 || p > 65535 || slices.Contains(ports[:i], p) {
			return fmt.Errorf("%w: ports %v: want distinct ports in 1..65535", ErrOptions, ports)
		}
	}
	return nil
}

func absPath(p string) bool { return strings.HasPrefix(p, "/") && !strings.Contains(p, ":") }
