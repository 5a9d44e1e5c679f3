package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// writeMetrics renders the monitor's state in Prometheus' text exposition
// format (version 0.0.4).
func writeMetrics(w io.Writer, job string, m *monitor) {
	restarts, nodes, ranks := m.snapshot()
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP ddprun_restarts_total Times the job was restarted.\n# TYPE ddprun_restarts_total counter\nddprun_restarts_total{job=%q} %d\n", job, restarts)
	order := make([]int, 0, len(nodes))
	for r := range nodes {
		order = append(order, r)
	}
	sort.Ints(order)
	series := []struct {
		name, help, typ string
		value           func(rankState) float64
	}{
		{"ddprun_rank_step", "Last optimizer step reported by the rank.", "gauge", func(s rankState) float64 { return float64(s.hb.Step) }},
		{"ddprun_rank_samples_per_second", "Training samples per second (whole job, as seen by the rank).", "gauge", func(s rankState) float64 { return s.hb.SamplesPerSec }},
		{"ddprun_rank_loss", "Last training loss (mean over ranks).", "gauge", func(s rankState) float64 { return s.hb.Loss }},
		{"ddprun_rank_last_heartbeat_timestamp_seconds", "Unix time of the rank's last heartbeat.", "gauge", func(s rankState) float64 { return float64(s.received.UnixNano()) / 1e9 }},
		{"ddprun_rank_step_allreduce_seconds", "All-reduce time of the last step.", "gauge", func(s rankState) float64 { return s.hb.AllReduce.Seconds() }},
		{"ddprun_rank_step_compute_seconds", "Forward and backward time of the last step.", "gauge", func(s rankState) float64 { return s.hb.Compute.Seconds() }},
		{"ddprun_rank_allreduce_bytes_total", "Bytes sent by the rank's all-reduces.", "counter", func(s rankState) float64 { return s.hb.AllReduceMB * 1e6 }},
		{"ddprun_rank_data_wait_seconds_total", "Time the rank waited for batches.", "counter", func(s rankState) float64 { return s.hb.DataWait.Seconds() }},
	}
	for _, s := range series {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", s.name, s.help, s.name, s.typ)
		for _, r := range order {
			st, ok := ranks[r]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%s{job=%q,rank=\"%d\",node=%q} %g\n", s.name, job, r, nodes[r], s.value(st))
		}
	}
	io.WriteString(w, b.String())
}

// metricsListenAddr is where --metrics-addr listens: an address without a
// host (":9400") takes the launcher's bind address, as every other
// listener of the launcher does, instead of every interface; a host
// ("0.0.0.0:9400" for every interface) is kept. An address that does not
// parse is left for net.Listen to reject.
func metricsListenAddr(addr, bind string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "" {
		return addr
	}
	return net.JoinHostPort(bind, port)
}

// serveMetrics serves /metrics on addr until ctx ends.
func serveMetrics(ctx context.Context, addr, job string, m *monitor) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("launcher: --metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, job, m)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed; nothing else to do
		}
	}()
	return ln.Addr(), nil
}
