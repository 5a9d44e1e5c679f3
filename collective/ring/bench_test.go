package ring_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ddprun/ddprun/collective"
	"github.com/ddprun/ddprun/collective/ring"
)

// BenchmarkAllReduce times rank 0 of n in-process ranks over loopback TCP
// and reports nccl-tests' bus bandwidth, without and with Config.Integrity.
func BenchmarkAllReduce(b *testing.B) {
	for _, wire := range []collective.DType{collective.Float32, collective.BFloat16} {
		for _, n := range []int{2, 4} {
			for _, size := range []int{4 << 10, 1 << 20, 16 << 20, 64 << 20} {
				for _, integrity := range []bool{false, true} {
					name := fmt.Sprintf("wire=%v/ranks=%d/bytes=%d/integrity=%v", wire, n, size, integrity)
					b.Run(name, func(b *testing.B) { benchAllReduce(b, n, size, wire, integrity) })
				}
			}
		}
	}
}

func benchAllReduce(b *testing.B, n, size int, wire collective.DType, integrity bool) {
	cfgs := loopbackConfigs(b, n)
	comms := make([]*ring.Comm, n)
	var wg sync.WaitGroup
	for r := range n {
		cfgs[r].WireDType = wire
		cfgs[r].Integrity = integrity
		wg.Go(func() {
			c, err := ring.New(context.Background(), cfgs[r])
			if err != nil {
				b.Error(err)
			}
			comms[r] = c
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	defer func() {
		for _, c := range comms {
			c.Close()
		}
	}()
	bufs := make([][]float32, n)
	for r := range bufs {
		bufs[r] = exactInput(r, size/4)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for r := 1; r < n; r++ {
		wg.Go(func() {
			for range b.N {
				if err := comms[r].AllReduce(context.Background(), collective.Float32s(bufs[r]), collective.Avg); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	for range b.N {
		if err := comms[0].AllReduce(context.Background(), collective.Float32s(bufs[0]), collective.Avg); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(size)/sec/1e9*2*float64(n-1)/float64(n), "busbw-GB/s")
}
