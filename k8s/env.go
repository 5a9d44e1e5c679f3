package k8s

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// The environment of a ddprun pod. The Job controller sets
// JOB_COMPLETION_INDEX; the rendered manifest sets the rest (POD_IP and
// POD_NAME through the downward API).
const (
	EnvCompletionIndex = "JOB_COMPLETION_INDEX" // this pod's index, 0..nodes-1 (set by Kubernetes)
	EnvPodIP           = "POD_IP"               // status.podIP
	EnvPodName         = "POD_NAME"             // metadata.name: unique per pod, also across replacements
	EnvJob             = "DDPRUN_K8S_JOB"       // the Job whose pods are <job>-<index>
	EnvService         = "DDPRUN_K8S_SERVICE"   // the headless Service: the pods' subdomain
	EnvPort            = "DDPRUN_K8S_PORT"      // the gossip (memberlist) port of pod 0, the seed
	// EnvResolve maps host names to addresses without DNS, for tests and
	// for simulating pods on one machine: "ddp-0.ddp-svc=127.0.0.1,...".
	// Names it does not list go to the system resolver.
	EnvResolve = "DDPRUN_K8S_RESOLVE"
)

// Defaults are the launch flags a pod of a rendered job implies, so that
// `ddprun --nodes N train ...` needs nothing else inside the pod.
type Defaults struct {
	// NodeRank is JOB_COMPLETION_INDEX. Pod 0 hosts the control plane.
	NodeRank int
	// Join is the seed "<job>-0.<svc>:<port>" for every pod but pod 0,
	// which must start the cluster (empty Join). Resolve its host with
	// WaitForDNS (or WaitForSeed) before joining: pods start in any order.
	Join string
	// SeedHost is Join's host, "<job>-0.<svc>" (set on every pod).
	SeedHost string
	// Bind is the pod IP (POD_IP), empty if the manifest did not set it.
	Bind string
	// NodeName names this launcher in the cluster: POD_NAME, else the
	// hostname. Pod names differ between a pod and its replacement.
	NodeName string
}

// PodDefaults reads the environment of a pod rendered by this package.
// It reports false when getenv shows no such pod (JOB_COMPLETION_INDEX,
// DDPRUN_K8S_JOB or DDPRUN_K8S_SERVICE unset), and then the launcher's
// flags apply unchanged. hostname is os.Hostname(): in an Indexed Job it
// is "<job>-<index>", which PodDefaults checks against the index.
func PodDefaults(getenv func(string) string, hostname string) (Defaults, bool, error) {
	idx, job, svc := getenv(EnvCompletionIndex), getenv(EnvJob), getenv(EnvService)
	if idx == "" || job == "" || svc == "" {
		return Defaults{}, false, nil
	}
	rank, err := strconv.Atoi(strings.TrimSpace(idx))
	if err != nil || rank < 0 {
		return Defaults{}, true, fmt.Errorf("%w: %s=%q is not an index", ErrPodEnv, EnvCompletionIndex, idx)
	}
	port := getenv(EnvPort)
	if port == "" {
		port = strconv.Itoa(DefaultGossipPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return Defaults{}, true, fmt.Errorf("%w: %s=%q is not a port", ErrPodEnv, EnvPort, port)
	}
	// With host networking the hostname is the node's; only a pod-like
	// name with another index is a contradiction.
	if k, err := strconv.Atoi(strings.TrimPrefix(hostname, job+"-")); err == nil && k != rank {
		return Defaults{}, true, fmt.Errorf("%w: hostname %q but %s=%d", ErrPodEnv, hostname, EnvCompletionIndex, rank)
	}
	d := Defaults{NodeRank: rank, SeedHost: job + "-0." + svc, Bind: getenv(EnvPodIP), NodeName: getenv(EnvPodName)}
	if d.NodeName == "" {
		d.NodeName = hostname
	}
	if rank > 0 {
		d.Join = net.JoinHostPort(d.SeedHost, port)
	}
	return d, true, nil
}
