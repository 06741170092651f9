package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
)

// TestClassifyRoundTripAsKongDoes checks the passive rule: transport
// timeouts and 504 are timeouts, other transport errors TCP failures, and
// a status counts only when it is in one of the two lists.
func TestClassifyRoundTripAsKongDoes(t *testing.T) {
	cfg := Passive{Healthy: PassiveHealthy{HTTPStatuses: []int{200, 302}},
		Unhealthy: PassiveUnhealthy{HTTPStatuses: []int{500, 503}}}
	for _, tc := range []struct {
		rt   RoundTrip
		want Report
	}{
		{RoundTrip{Status: 200}, Success},
		{RoundTrip{Status: 302}, Success},
		{RoundTrip{Status: 503}, HTTPFailure},
		{RoundTrip{Status: 404}, Ignored},
		{RoundTrip{Status: http.StatusGatewayTimeout}, Timeout},
		{RoundTrip{Err: context.DeadlineExceeded}, Timeout},
		{RoundTrip{Err: fmt.Errorf("dial: %w", syscall.ECONNREFUSED)}, TCPFailure},
		{RoundTrip{Err: errors.New("connection reset by peer")}, TCPFailure},
	} {
		if got := ClassifyRoundTrip(cfg, tc.rt); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.rt, got, tc.want)
		}
	}
}
