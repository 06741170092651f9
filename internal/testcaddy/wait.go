package testcaddy

import (
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms for at most limit and returns how long it
// took; it fails the test when limit passes first.
func WaitFor(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return WaitEvery(t, 10*time.Millisecond, limit, what, cond)
}

// WaitEvery is WaitFor polling every interval: a test that measures how
// long something takes polls more often than one that only waits for it.
func WaitEvery(t testing.TB, interval, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(interval)
	}
	return time.Since(start)
}
