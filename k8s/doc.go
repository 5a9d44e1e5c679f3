// Package k8s runs ddprun on Kubernetes: it renders the manifests of a
// training job, and tells a launcher inside one of its pods what its
// flags would have been.
//
// # Rendering
//
//	ddprun k8s render --name bert --nodes 4 --gpus 8 --image REGISTRY/ddprun:cuda \
//	    --secret bert-secret --data-pvc datasets --output-pvc runs \
//	    -- --train /data/train.csv --model /data/bert-base-uncased | kubectl apply -f -
//
// calls Render with the Options those flags fill (ParseArgs), which writes
// two objects (or one JobSet with --jobset):
//
//   - a headless Service "bert-svc" (clusterIP None, publishNotReadyAddresses
//     true) selecting the pods by their app.kubernetes.io/{name,instance} labels;
//   - an Indexed Job "bert" (completions = parallelism = nodes) whose pods
//     have subdomain bert-svc, so pod i is reachable as bert-i.bert-svc, and
//     run `ddprun --nodes 4 --nproc-per-node 8 --bind=$(POD_IP) ... train ...`.
//
// The job secret stays in a Secret, mounted read-only and passed as
// --secret-file. The pods run as a numeric non-root user with a read-only
// root filesystem, no capabilities and no service-account token (Note
// [Pod security] in render.go); every port listens on the pod IP, and
// the metrics port is on the Service only with --metrics-on-service;
// --pod-monitor adds a Prometheus Operator PodMonitor scraping every pod
// (Note [PodMonitor]). Restarts are ddprun's (Note [Restarts] in render.go): the
// Job never retries (restartPolicy Never, backoffLimit 0) and its
// podFailurePolicy ignores disruptions and exit code 3, the code of a
// launcher that stopped cleanly on SIGTERM after a checkpoint. The pods get
// terminationGracePeriodSeconds = --grace + 30 s for that checkpoint.
//
// The tests decode every rendered manifest strictly into the k8s.io/api
// types and check what users get wrong (selectors, subdomain, counts,
// ports, the failure policy); testdata/ holds the rendered examples,
// rewritten with `go test ./k8s -run Golden -update`.
//
// # For the launcher
//
// Inside a pod, `ddprun --nodes N train ...` needs no --join: the launcher
// calls PodDefaults(os.Getenv, hostname). Outside a rendered pod it
// reports false and nothing changes. In a pod, node 0 (JOB_COMPLETION_INDEX
// 0) starts the cluster and the others join "<job>-0.<svc>:<port>". Pods
// start in any order, and a pod's DNS record exists only once it has an
// IP, so a launcher first waits for the seed with WaitForSeed (WaitForDNS,
// then a TCP probe, with backoff) using ResolverFromEnv, whose
// DDPRUN_K8S_RESOLVE override lets N launchers on one machine play N pods.
// This is what keeps the "worker before master" crash loop away.
package k8s
