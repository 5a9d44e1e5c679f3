package k8s

// The manifest types: the subset of the Kubernetes API (batch/v1 Job,
// core/v1 Service, jobset.x-k8s.io/v1alpha2 JobSet) that ddprun renders,
// with the API's JSON field names. They are kept apart from k8s.io/api
// so that ddprun does not link the whole API; the tests decode every
// rendered manifest strictly into the k8s.io/api types instead.

// Meta is an object's apiVersion and kind.
type Meta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// ObjectMeta is metadata.
type ObjectMeta struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Service is a core/v1 Service.
type Service struct {
	Meta
	Metadata ObjectMeta  `json:"metadata"`
	Spec     ServiceSpec `json:"spec"`
}

// ServiceSpec is a Service's spec.
type ServiceSpec struct {
	ClusterIP                string            `json:"clusterIP"`
	Selector                 map[string]string `json:"selector"`
	PublishNotReadyAddresses bool              `json:"publishNotReadyAddresses"`
	Ports                    []ServicePort     `json:"ports,omitempty"`
}

// ServicePort is one port of a Service.
type ServicePort struct {
	Name       string `json:"name"`
	Port       int    `json:"port"`
	TargetPort string `json:"targetPort,omitempty"`
	Protocol   string `json:"protocol"`
}

// Job is a batch/v1 Job.
type Job struct {
	Meta
	Metadata ObjectMeta `json:"metadata"`
	Spec     JobSpec    `json:"spec"`
}

// JobSpec is a Job's spec (also the template of a JobSet's jobs).
type JobSpec struct {
	CompletionMode       string            `json:"completionMode"`
	Completions          int               `json:"completions"`
	Parallelism          int               `json:"parallelism"`
	BackoffLimit         *int              `json:"backoffLimit"`
	PodReplacementPolicy string            `json:"podReplacementPolicy,omitempty"`
	PodFailurePolicy     *PodFailurePolicy `json:"podFailurePolicy,omitempty"`
	Template             PodTemplate       `json:"template"`
}

// PodFailurePolicy decides what a failed pod means for the Job.
type PodFailurePolicy struct {
	Rules []PodFailurePolicyRule `json:"rules"`
}

// PodFailurePolicyRule is one rule; the first that matches applies.
type PodFailurePolicyRule struct {
	Action          string                  `json:"action"`
	OnExitCodes     *OnExitCodes            `json:"onExitCodes,omitempty"`
	OnPodConditions []OnPodConditionPattern `json:"onPodConditions,omitempty"`
}

// OnExitCodes matches a container's exit code.
type OnExitCodes struct {
	ContainerName string `json:"containerName,omitempty"`
	Operator      string `json:"operator"`
	Values        []int  `json:"values"`
}

// OnPodConditionPattern matches a pod condition.
type OnPodConditionPattern struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

// PodTemplate is a pod template.
type PodTemplate struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
}

// PodSpec is a pod's spec.
type PodSpec struct {
	Subdomain                     string              `json:"subdomain,omitempty"`
	RestartPolicy                 string              `json:"restartPolicy"`
	TerminationGracePeriodSeconds int                 `json:"terminationGracePeriodSeconds"`
	HostNetwork                   bool                `json:"hostNetwork,omitempty"`
	DNSPolicy                     string              `json:"dnsPolicy,omitempty"`
	EnableServiceLinks            *bool               `json:"enableServiceLinks,omitempty"`
	AutomountServiceAccountToken  *bool               `json:"automountServiceAccountToken,omitempty"`
	SecurityContext               *PodSecurityContext `json:"securityContext,omitempty"`
	Containers                    []Container         `json:"containers"`
	Volumes                       []Volume            `json:"volumes,omitempty"`
}

// PodSecurityContext is the pod-level security context.
type PodSecurityContext struct {
	RunAsNonRoot        bool            `json:"runAsNonRoot"`
	RunAsUser           int64           `json:"runAsUser"`
	RunAsGroup          int64           `json:"runAsGroup"`
	FSGroup             int64           `json:"fsGroup"`
	FSGroupChangePolicy string          `json:"fsGroupChangePolicy,omitempty"`
	SeccompProfile      *SeccompProfile `json:"seccompProfile,omitempty"`
}

// SeccompProfile selects a seccomp profile ("RuntimeDefault").
type SeccompProfile struct {
	Type string `json:"type"`
}

// SecurityContext is a container's security context. The booleans are
// always written: false is the point.
type SecurityContext struct {
	AllowPrivilegeEscalation bool          `json:"allowPrivilegeEscalation"`
	Capabilities             *Capabilities `json:"capabilities,omitempty"`
	ReadOnlyRootFilesystem   bool          `json:"readOnlyRootFilesystem"`
}

// Capabilities are the Linux capabilities dropped from a container.
type Capabilities struct {
	Drop []string `json:"drop"`
}

// Container is a container.
type Container struct {
	Name            string           `json:"name"`
	Image           string           `json:"image"`
	ImagePullPolicy string           `json:"imagePullPolicy,omitempty"`
	Command         []string         `json:"command"`
	Args            []string         `json:"args"`
	Env             []EnvVar         `json:"env"`
	Ports           []ContainerPort  `json:"ports,omitempty"`
	Resources       Resources        `json:"resources,omitzero"`
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
	VolumeMounts    []VolumeMount    `json:"volumeMounts,omitempty"`
}

// EnvVar is an environment variable, set or from the downward API.
type EnvVar struct {
	Name      string        `json:"name"`
	Value     string        `json:"value,omitempty"`
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is the downward API source of an EnvVar.
type EnvVarSource struct {
	FieldRef *FieldRef `json:"fieldRef,omitempty"`
}

// FieldRef selects a pod field.
type FieldRef struct {
	FieldPath string `json:"fieldPath"`
}

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
}

// Resources are a container's requests and limits.
type Resources struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

// VolumeMount mounts a volume.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// Volume is a pod volume: one of the sources is set.
type Volume struct {
	Name                  string          `json:"name"`
	Secret                *SecretVolume   `json:"secret,omitempty"`
	PersistentVolumeClaim *PVCVolume      `json:"persistentVolumeClaim,omitempty"`
	HostPath              *HostPathVolume `json:"hostPath,omitempty"`
	EmptyDir              *EmptyDirVolume `json:"emptyDir,omitempty"`
}

// SecretVolume projects a Secret's keys as files.
type SecretVolume struct {
	SecretName  string      `json:"secretName"`
	DefaultMode int         `json:"defaultMode"`
	Items       []KeyToPath `json:"items"`
}

// KeyToPath maps a Secret key to a file.
type KeyToPath struct {
	Key  string `json:"key"`
	Path string `json:"path"`
}

// PVCVolume mounts a PersistentVolumeClaim.
type PVCVolume struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// HostPathVolume mounts a node directory.
type HostPathVolume struct {
	Path string `json:"path"`
	Type string `json:"type"`
}

// EmptyDirVolume is scratch space (Medium "Memory": tmpfs).
type EmptyDirVolume struct {
	Medium    string `json:"medium,omitempty"`
	SizeLimit string `json:"sizeLimit,omitempty"`
}

// JobSet is a jobset.x-k8s.io/v1alpha2 JobSet.
type JobSet struct {
	Meta
	Metadata ObjectMeta `json:"metadata"`
	Spec     JobSetSpec `json:"spec"`
}

// JobSetSpec is a JobSet's spec.
type JobSetSpec struct {
	Network        JobSetNetwork       `json:"network"`
	FailurePolicy  JobSetFailurePolicy `json:"failurePolicy"`
	ReplicatedJobs []ReplicatedJob     `json:"replicatedJobs"`
}

// JobSetNetwork makes the JobSet controller create the headless Service.
type JobSetNetwork struct {
	EnableDNSHostnames       bool   `json:"enableDNSHostnames"`
	Subdomain                string `json:"subdomain"`
	PublishNotReadyAddresses bool   `json:"publishNotReadyAddresses"`
}

// JobSetFailurePolicy: how often the JobSet recreates all its Jobs.
type JobSetFailurePolicy struct {
	MaxRestarts int `json:"maxRestarts"`
}

// ReplicatedJob is a group of identical Jobs in a JobSet.
type ReplicatedJob struct {
	Name     string      `json:"name"`
	Replicas int         `json:"replicas"`
	Template JobTemplate `json:"template"`
}

// JobTemplate is a Job template.
type JobTemplate struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     JobSpec    `json:"spec"`
}

// List is a v1 List, the JSON output.
type List struct {
	Meta
	Items []any `json:"items"`
}
