package k8s_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ddprun/ddprun/k8s"
)

func ExampleRender() {
	var b strings.Builder
	err := k8s.Render(&b, k8s.Options{
		Name: "bert", Nodes: 2, Image: "ghcr.io/ddprun/ddprun:cpu", Secret: "bert-secret", CPU: "4", Memory: "8Gi",
		TrainArgs: []string{"--train=/data/train.csv", "--preset=mini"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(b.String(), "\n") {
		switch strings.TrimSpace(line) {
		case "clusterIP: None", "completionMode: Indexed", "subdomain: bert-svc", "backoffLimit: 0", "- --nodes=2":
			fmt.Println(strings.TrimSpace(line))
		}
	}
	// Output:
	// clusterIP: None
	// backoffLimit: 0
	// completionMode: Indexed
	// - --nodes=2
	// subdomain: bert-svc
}

func ExamplePodDefaults() {
	env := map[string]string{ // what pod 1 of Job "bert" sees
		"JOB_COMPLETION_INDEX": "1", "DDPRUN_K8S_JOB": "bert", "DDPRUN_K8S_SERVICE": "bert-svc",
		"DDPRUN_K8S_PORT": "7946", "POD_IP": "10.4.0.12", "POD_NAME": "bert-1-6xk2p",
		// For this example only: resolve pod 0's name without DNS.
		"DDPRUN_K8S_RESOLVE": "bert-0.bert-svc=127.0.0.1",
	}
	getenv := func(k string) string { return env[k] }
	d, inPod, err := k8s.PodDefaults(getenv, "bert-1")
	fmt.Println(inPod, err, d.NodeRank, d.Join, d.Bind)

	r, _ := k8s.ResolverFromEnv(getenv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	addrs, err := k8s.WaitForDNS(ctx, d.SeedHost, r)
	fmt.Println(addrs, err)

	_, inPod, _ = k8s.PodDefaults(os.Getenv, "laptop")
	fmt.Println(inPod)
	// Output:
	// true <nil> 1 bert-0.bert-svc:7946 10.4.0.12
	// [127.0.0.1] <nil>
	// false
}
