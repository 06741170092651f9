package admin

import (
	"sync"
	"time"
)

// Defaults for the failed-token limit: ten wrong tokens within a minute
// from one address, then 429 until that minute is over.
const (
	DefaultTokenFailureBurst  = 10
	DefaultTokenFailureWindow = time.Minute
)

// maxThrottledAddresses bounds the failure table; an attacker rotating
// addresses cannot grow it further (expired entries go first, then any).
const maxThrottledAddresses = 65536

// failureThrottle counts failed token attempts per client address in a
// fixed window opened by the first failure. Once an address has failed
// burst times, its requests answer 429 until the window closes, whatever
// token they carry, so guessing continues at burst tries per window at
// most.
type failureThrottle struct {
	burst  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	addresses map[string]*failureWindow
}

type failureWindow struct {
	failures int
	ends     time.Time
}

func newFailureThrottle(burst int, window time.Duration) *failureThrottle {
	return &failureThrottle{burst: burst, window: window, now: time.Now, addresses: map[string]*failureWindow{}}
}

// blocked reports whether addr has used up its failures, and for how long
// it stays blocked.
func (t *failureThrottle) blocked(addr string) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fw := t.addresses[addr]
	if fw == nil {
		return 0, false
	}
	left := fw.ends.Sub(t.now())
	if left <= 0 {
		delete(t.addresses, addr)
		return 0, false
	}
	return left, fw.failures >= t.burst
}

// fail records a failed attempt from addr.
func (t *failureThrottle) fail(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	fw := t.addresses[addr]
	if fw == nil || !now.Before(fw.ends) {
		if len(t.addresses) >= maxThrottledAddresses {
			t.evictLocked(now)
		}
		fw = &failureWindow{ends: now.Add(t.window)}
		t.addresses[addr] = fw
	}
	fw.failures++
}

// evictLocked drops expired windows, and one more entry if none expired.
func (t *failureThrottle) evictLocked(now time.Time) {
	for addr, fw := range t.addresses {
		if !now.Before(fw.ends) {
			delete(t.addresses, addr)
		}
	}
	for addr := range t.addresses {
		if len(t.addresses) < maxThrottledAddresses {
			return
		}
		delete(t.addresses, addr)
	}
}
