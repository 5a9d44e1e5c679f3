package launcher

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

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

// serveMetrics serves x's registry at /metrics on addr until ctx ends:
// the OpenMetrics format to a client that asks for it (Prometheus does),
// else Prometheus' text format.
func serveMetrics(ctx context.Context, addr string, x *metrics) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("launcher: --metrics-addr: %w", err)
	}
	h := promhttp.HandlerFor(x.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: x.wrap})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.InstrumentMetricHandler(x.wrap, h))
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
