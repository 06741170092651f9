package routing

// Path handling modes of a route (Kong's path_handling).
const (
	PathHandlingV0 = "v0"
	PathHandlingV1 = "v1"
)

// Route is what the router needs of a Kong route entity. Field names and
// meanings are Kong's; empty lists mean "not a condition".
type Route struct {
	ID        string
	Name      string
	Service   string // the service's id; "" when the route has none
	Protocols []string

	Methods []string
	Hosts   []string
	Paths   []string
	Headers map[string][]string
	SNIs    []string

	RegexPriority int
	StripPath     bool
	PreserveHost  bool
	PathHandling  string

	// HTTPSRedirectStatusCode is the status answered to a plain HTTP
	// request matching a route whose protocols are https only (Kong's
	// default 426).
	HTTPSRedirectStatusCode int
}

// HTTPSOnly reports whether the route accepts https and not http, so a
// plain HTTP request matching it must be redirected (Kong checks this after
// matching, in its access phase).
func (r *Route) HTTPSOnly() bool {
	https, http := false, false
	for _, p := range r.Protocols {
		switch p {
		case "https", "grpcs":
			https = true
		case "http", "grpc":
			http = true
		}
	}
	return https && !http
}
