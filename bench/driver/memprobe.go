package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// memProbe reads the memory of the Caddy under test: its RSS from /proc
// and its Go heap from Caddy's admin endpoint, after forcing a GC.
type memProbe struct {
	pid   int
	admin string
	http  *http.Client
}

// memSample is one measurement, in bytes: VmRSS and its anonymous and
// file-mapped (RssFile + RssShmem: bbolt's mapped file) parts, and the Go
// heap.
type memSample struct {
	RSS, RSSAnon, RSSFile, HeapAlloc, HeapInuse int64
}

func (s memSample) String() string {
	return s.format(mib)
}

func (s memSample) minus(o memSample) memSample {
	return memSample{s.RSS - o.RSS, s.RSSAnon - o.RSSAnon, s.RSSFile - o.RSSFile, s.HeapAlloc - o.HeapAlloc, s.HeapInuse - o.HeapInuse}
}

// per renders a difference divided by n entities.
func (s memSample) per(n int) string {
	return s.format(func(b int64) string { return strconv.FormatFloat(float64(b)/float64(n), 'f', 0, 64) + " B" })
}

// format renders the sample with each amount rendered by f.
func (s memSample) format(f func(int64) string) string {
	return fmt.Sprintf("RSS %s (anon %s, file-mapped %s), Go heap alloc %s, in use %s",
		f(s.RSS), f(s.RSSAnon), f(s.RSSFile), f(s.HeapAlloc), f(s.HeapInuse))
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// measure forces a GC in Caddy (the heap profile's gc=1), then reads the
// heap from /debug/vars and the RSS from /proc/<pid>/status.
func (p *memProbe) measure() (memSample, error) {
	var s memSample
	if err := p.get("/debug/pprof/heap?gc=1", nil); err != nil {
		return s, err
	}
	var vars struct {
		Memstats struct {
			HeapAlloc int64
			HeapInuse int64
		} `json:"memstats"`
	}
	if err := p.get("/debug/vars", &vars); err != nil {
		return s, err
	}
	s.HeapAlloc, s.HeapInuse = vars.Memstats.HeapAlloc, vars.Memstats.HeapInuse
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		switch key {
		case "VmRSS":
			s.RSS = kb << 10
		case "RssAnon":
			s.RSSAnon = kb << 10
		case "RssFile", "RssShmem":
			s.RSSFile += kb << 10
		}
	}
	return s, sc.Err()
}

// settle measures until the RSS stops falling: Go returns the pages a
// collection freed to the OS in the background, at a bounded pace, so
// right after a burst of writes RSS still holds garbage the process no
// longer uses. It samples every interval, at most limit long, and returns
// the last sample once RSS fell by less than 1 % since the one before,
// with the time that took.
func (p *memProbe) settle(interval, limit time.Duration) (memSample, time.Duration, error) {
	start := time.Now()
	prev, err := p.measure()
	if err != nil {
		return prev, 0, err
	}
	for time.Since(start) < limit {
		time.Sleep(interval)
		s, err := p.measure()
		if err != nil {
			return s, time.Since(start), err
		}
		falling := prev.RSS-s.RSS > prev.RSS/100
		prev = s
		if !falling {
			break
		}
	}
	return prev, time.Since(start), nil
}

func (p *memProbe) get(path string, out any) error {
	res, err := p.http.Get(p.admin + path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", path, res.StatusCode)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	return json.NewDecoder(res.Body).Decode(out)
}
