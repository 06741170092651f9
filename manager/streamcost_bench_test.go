package manager_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkStatsStreamCost measures what open manager pages cost the
// proxy: kong_proxy's throughput on the seed example (8 clients with
// keep-alive, real loopback backends) in alternating 2-second rounds with
// no stats stream open and with 16 open (16 pages showing the upstream),
// reported from the same run as closed-req/s, open-req/s and their ratio
// open/closed (1.00 = no cost). The rounds are timed, not b.N-sized: run
// it once, `go test -run '^$' -bench StatsStreamCost -benchtime 1x ./manager/`.
func BenchmarkStatsStreamCost(b *testing.B) {
	s := startSeed(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/get", s.c.HTTPPort)
	round := func(d time.Duration) float64 {
		var n atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
				}
			}()
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds()
	}
	openStreams := func(k int) (events *atomic.Int64, closeAll func()) {
		events = new(atomic.Int64)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range k {
			req, _ := http.NewRequestWithContext(ctx, "GET", s.manager+"/api/upstreams/upstream-example/stats", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer resp.Body.Close()
				lines := bufio.NewScanner(resp.Body)
				for lines.Scan() {
					if len(lines.Bytes()) > 6 && string(lines.Bytes()[:6]) == "data: " {
						events.Add(1)
					}
				}
			}()
		}
		return events, func() { cancel(); wg.Wait() }
	}
	round(time.Second) // warm up connections and pools
	b.ResetTimer()
	var closed, open []float64
	var events int64
	for range 3 {
		closed = append(closed, round(2*time.Second))
		ev, closeAll := openStreams(16)
		open = append(open, round(2*time.Second))
		closeAll()
		events += ev.Load()
	}
	b.StopTimer()
	mean := func(v []float64) float64 {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	b.ReportMetric(mean(closed), "closed-req/s")
	b.ReportMetric(mean(open), "open-req/s")
	b.ReportMetric(mean(open)/mean(closed), "open/closed")
	b.ReportMetric(float64(events), "stream-events")
	b.Logf("rounds closed %.0f, open %.0f req/s", closed, open)
}
