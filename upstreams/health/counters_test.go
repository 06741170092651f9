package health

import "testing"

// TestObserveFollowsKongsCounterRules walks one address through Kong's
// (lua-resty-healthcheck) rules: failures count until their limit flips
// the address, a success in between starts the count again, observations
// that agree with the settled state count nothing, a counter whose limit
// is 0 never flips, and a manual mark clears the counters.
func TestObserveFollowsKongsCounterRules(t *testing.T) {
	l := Limits{Successes: 2, TCPFailures: 3, Timeouts: 0, HTTPFailures: 1}
	var s State
	steps := []struct {
		r           Report
		flipped, ok bool
	}{
		{Success, false, true},     // agrees with healthy: nothing to count
		{TCPFailure, false, true},  // 1 of 3
		{TCPFailure, false, true},  // 2 of 3
		{Success, false, true},     // agrees with healthy: clears the failures
		{TCPFailure, false, true},  // 1 of 3 again
		{TCPFailure, false, true},  // 2 of 3
		{Timeout, false, true},     // limit 0: ignored
		{Ignored, false, true},     // a status in neither list
		{TCPFailure, true, false},  // 3 of 3: unhealthy
		{TCPFailure, false, false}, // agrees with unhealthy
		{Success, false, false},    // 1 of 2
		{HTTPFailure, false, false},
		{Success, false, false}, // the failure reset the successes: 1 of 2
		{Success, true, true},   // 2 of 2: healthy
		{HTTPFailure, true, false},
	}
	for i, st := range steps {
		flipped, healthy := s.Observe(st.r, l)
		if flipped != st.flipped || healthy != st.ok || s.Healthy() != st.ok {
			t.Fatalf("step %d (%s): flipped=%v healthy=%v (state %v), want %v %v", i, st.r, flipped, healthy, s.Healthy(), st.flipped, st.ok)
		}
	}
	s.ForceHealthy(true)
	if flipped, _ := s.Observe(Success, l); flipped || !s.Healthy() {
		t.Fatal("a manual healthy mark did not settle the state")
	}
	s.Observe(TCPFailure, l)
	s.ForceHealthy(true) // clears the count of 1
	s.Observe(TCPFailure, l)
	if flipped, _ := s.Observe(TCPFailure, l); flipped {
		t.Fatal("a manual mark did not clear the failure counter")
	}
}
