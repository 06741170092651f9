package health

// RoundTrip is the outcome of one proxied round trip to an address, as the
// proxy's transport saw it: the response status, or the error that stopped
// the round trip before a response arrived.
type RoundTrip struct {
	// Status is the response status code; 0 when Err is set.
	Status int
	// Err is the transport error (connection refused or reset, TLS
	// failure, timeout); nil when a response arrived.
	Err error
}
