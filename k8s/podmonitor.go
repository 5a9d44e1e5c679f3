package k8s

// Note [PodMonitor]: with --pod-monitor, Render adds a Prometheus
// Operator PodMonitor (monitoring.coreos.com/v1) that selects the job's
// pods by the labels the Service selects them by and scrapes their
// "metrics" container port: every pod, since each launcher exports its
// own ranks (the launcher's Note [Metrics]). honorLabels keeps the job
// label the launchers export (ddprun's job id, which the alert rules in
// k8s/alerts group by) instead of the operator's <namespace>/<name>; a
// Prometheus with overrideHonorLabels renames it exported_job. It is the
// last object, so a cluster without the operator's CRD still gets the
// Job (kubectl apply reports the PodMonitor it could not create). Off by
// default: it needs the operator, and a Prometheus whose
// podMonitorSelector matches its labels (kube-prometheus-stack wants a
// release label: kubectl label podmonitor NAME release=RELEASE).

// PodMonitor is a monitoring.coreos.com/v1 PodMonitor.
type PodMonitor struct {
	Meta
	Metadata ObjectMeta     `json:"metadata"`
	Spec     PodMonitorSpec `json:"spec"`
}

// PodMonitorSpec is a PodMonitor's spec.
type PodMonitorSpec struct {
	Selector            LabelSelector        `json:"selector"`
	PodMetricsEndpoints []PodMetricsEndpoint `json:"podMetricsEndpoints"`
}

// LabelSelector selects objects whose labels include MatchLabels.
type LabelSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// PodMetricsEndpoint is a port of the selected pods to scrape.
type PodMetricsEndpoint struct {
	Port        string `json:"port"`
	Path        string `json:"path"`
	HonorLabels bool   `json:"honorLabels"`
}

// podMonitor scrapes every pod of the job; See Note [PodMonitor].
func podMonitor(o *Options) PodMonitor {
	return PodMonitor{Meta: Meta{"monitoring.coreos.com/v1", "PodMonitor"}, Metadata: meta(o, o.Name, false),
		Spec: PodMonitorSpec{Selector: LabelSelector{MatchLabels: labels(o)},
			PodMetricsEndpoints: []PodMetricsEndpoint{{Port: "metrics", Path: "/metrics", HonorLabels: true}}}}
}
