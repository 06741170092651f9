package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
)

// ClassifyRoundTrip classifies a proxied round trip for passive checks,
// as Kong does: a transport timeout or a 504 is a timeout, any other
// transport error a TCP failure, a status in healthy.http_statuses a
// success, one in unhealthy.http_statuses an HTTP failure, and any other
// status nothing.
func ClassifyRoundTrip(cfg Passive, rt RoundTrip) Report {
	if rt.Err != nil {
		return classifyDialError(rt.Err)
	}
	if rt.Status == http.StatusGatewayTimeout {
		return Timeout
	}
	return classifyStatus(rt.Status, cfg.Healthy.HTTPStatuses, cfg.Unhealthy.HTTPStatuses)
}

// classifyStatus is Kong's status rule shared by active and passive checks:
// a status in the healthy list is a success, one in the unhealthy list an
// HTTP failure, any other is ignored.
func classifyStatus(status int, healthy, unhealthy []int) Report {
	for _, s := range healthy {
		if status == s {
			return Success
		}
	}
	for _, s := range unhealthy {
		if status == s {
			return HTTPFailure
		}
	}
	return Ignored
}

// classifyDialError classifies a failed dial or round trip: a timeout, or
// a TCP failure.
func classifyDialError(err error) Report {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Timeout
	}
	return TCPFailure
}
