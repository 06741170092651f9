package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// scaleConfig are the flags of `driver scale`.
type scaleConfig struct {
	admin       string
	caddyAdmin  string
	pid         int
	upstreams   int
	targets     int
	concurrency int
	basePort    int
	pageSize    int
}

// runScale creates upstreams × targets through the Admin API and prints
// the creation rates, the memory they take and the time to list them.
func runScale(args []string) error {
	var c scaleConfig
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	fs.StringVar(&c.admin, "admin", "http://127.0.0.1:12019/kong", "Kong Admin API base URL (loopback)")
	fs.StringVar(&c.caddyAdmin, "caddy-admin", "http://127.0.0.1:12019", "Caddy's admin endpoint, for /debug/pprof and /debug/vars")
	fs.IntVar(&c.pid, "pid", 0, "Caddy's process id, for its RSS")
	fs.IntVar(&c.upstreams, "upstreams", 10000, "upstreams to create")
	fs.IntVar(&c.targets, "targets", 10, "targets per upstream")
	fs.IntVar(&c.concurrency, "concurrency", 4, "Admin API requests in parallel")
	fs.IntVar(&c.basePort, "base-port", 21000, "targets are 127.0.0.1:<base-port+i>, i < targets")
	fs.IntVar(&c.pageSize, "page-size", 1000, "page size of the list measurement")
	fs.Parse(args)
	if c.pid == 0 {
		return fmt.Errorf("-pid is required")
	}
	kong, err := newKongClient(c.admin, c.concurrency)
	if err != nil {
		return err
	}
	if err := checkLoopbackURL(c.caddyAdmin); err != nil {
		return err
	}
	mem := &memProbe{pid: c.pid, admin: c.caddyAdmin, http: kong.http}

	m0, err := mem.measure()
	if err != nil {
		return err
	}
	fmt.Printf("scale: before: %s\n", m0)

	name := func(i int) string { return fmt.Sprintf("scale-%05d", i) }
	took, err := parallel(c.upstreams, c.concurrency, func(i int) error {
		return kong.do("POST", "/upstreams", map[string]any{"name": name(i)}, http.StatusCreated, nil)
	})
	if err != nil {
		return err
	}
	fmt.Printf("scale: created %d upstreams in %.1fs: %.0f/s\n", c.upstreams, took.Seconds(), float64(c.upstreams)/took.Seconds())
	m1, err := mem.measure()
	if err != nil {
		return err
	}
	fmt.Printf("scale: after upstreams: %s\n", m1)
	fmt.Printf("scale: per upstream: %s\n", m1.minus(m0).per(c.upstreams))
	m1s, _, err := mem.settle(2*time.Second, 60*time.Second)
	if err != nil {
		return err
	}

	n := c.upstreams * c.targets
	took, err = parallel(n, c.concurrency, func(i int) error {
		target := "127.0.0.1:" + strconv.Itoa(c.basePort+i%c.targets)
		return kong.do("POST", "/upstreams/"+name(i/c.targets)+"/targets", map[string]any{"target": target, "weight": 100}, http.StatusCreated, nil)
	})
	if err != nil {
		return err
	}
	fmt.Printf("scale: created %d targets in %.1fs: %.0f/s\n", n, took.Seconds(), float64(n)/took.Seconds())
	m2, err := mem.measure()
	if err != nil {
		return err
	}
	fmt.Printf("scale: after targets: %s\n", m2)
	fmt.Printf("scale: per target: %s\n", m2.minus(m1).per(n))
	// The same once the runtime has returned freed pages (RSS no longer
	// falling), which is what a server idle after the writes holds; the
	// baseline is the state after the upstreams, settled as well.
	m2s, waited, err := mem.settle(2*time.Second, 60*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("scale: per target, settled (%.0fs after the writes): %s\n", waited.Seconds(), m2s.minus(m1s).per(n))

	return listPages(kong, c.pageSize, c.upstreams)
}

// listPages pages through GET /upstreams and prints the time per page.
func listPages(kong *kongClient, size, want int) error {
	var pages durations
	seen := 0
	path := "/upstreams?size=" + strconv.Itoa(size)
	for range want/size + 2 { // bounded: one page more than needed
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			Offset string `json:"offset"`
		}
		start := time.Now()
		if err := kong.do("GET", path, nil, http.StatusOK, &page); err != nil {
			return err
		}
		pages = append(pages, time.Since(start))
		seen += len(page.Data)
		if page.Offset == "" {
			break
		}
		path = "/upstreams?size=" + strconv.Itoa(size) + "&offset=" + url.QueryEscape(page.Offset)
	}
	fmt.Printf("scale: listed %d upstreams, %d per page: %s per page\n", seen, size, pages)
	if seen < want {
		return fmt.Errorf("listed %d upstreams, want at least %d", seen, want)
	}
	return nil
}

// parallel runs fn(0..n-1) on `workers` goroutines, stopping at the first
// error, and returns the wall time.
func parallel(n, workers int, fn func(i int) error) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}
