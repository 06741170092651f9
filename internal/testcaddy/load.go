package testcaddy

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Load is traffic kept flowing while a test changes something under it
// (a reload, a scale-down, a killed backend): several clients each send
// requests one after the other until Stop, at most a bounded number each
// and never longer than a bounded time, and count what failed.
type Load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	sent     atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	failures map[string]int
}

// Bounds of every Load client, so that a test that forgets to stop it, or
// whose Stop is never reached after a t.Fatal, still ends.
const (
	loadMaxRequests = 200_000
	loadMaxDuration = 2 * time.Minute
)

// StartLoad starts clients goroutines that each call send in a loop; send
// makes one request and returns an error when it failed (GetOK builds the
// usual one). Failures are kept by text for the test's message. The load
// stops at the end of the test if Stop was not reached.
func StartLoad(t testing.TB, clients int, send func() error) *Load {
	l := &Load{stop: make(chan struct{}), failures: map[string]int{}}
	t.Cleanup(func() { l.Stop() })
	deadline := time.Now().Add(loadMaxDuration)
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; n < loadMaxRequests && time.Now().Before(deadline); n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				err := send()
				l.sent.Add(1)
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.failures[err.Error()]++
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

// Stop ends the load, waits for every client's request in flight, and
// returns how many requests were sent and how many of them failed.
func (l *Load) Stop() (sent, failed int64) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	return l.sent.Load(), l.failed.Load()
}

// Failures lists the distinct failures seen, each with its count, sorted.
func (l *Load) Failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := make([]string, 0, len(l.failures))
	for text, n := range l.failures {
		list = append(list, fmt.Sprintf("%s (×%d)", text, n))
	}
	sort.Strings(list)
	return list
}

// GetOK returns a send function for StartLoad: a GET of url with Client
// whose answer must be 200; the body is read to the end so the connection
// is reused.
func GetOK(url string) func() error {
	return func() error {
		resp, err := Client.Get(url)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	}
}
