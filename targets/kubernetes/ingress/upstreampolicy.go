package ingress

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// upstreamPolicyGVR is the resource of KongUpstreamPolicy objects, read
// with client-go's dynamic client.
var upstreamPolicyGVR = schema.GroupVersionResource{
	Group: "configuration.konghq.com", Version: "v1beta1", Resource: "kongupstreampolicies",
}

// upstreamPolicyAnnotation names a Service's KongUpstreamPolicy (in the
// Service's namespace).
const upstreamPolicyAnnotation = "konghq.com/upstream-policy"

// UpstreamPolicy is a KongUpstreamPolicy (configuration.konghq.com/v1beta1):
// the load-balancing settings of the upstreams made for the Services that
// name it. Only its spec is read.
type UpstreamPolicy struct {
	Namespace string
	Name      string
	UID       string
	Spec      UpstreamPolicySpec
}

// UpstreamPolicySpec is a KongUpstreamPolicy's spec, with the CRD's field
// names.
type UpstreamPolicySpec struct {
	Algorithm      *string         `json:"algorithm,omitempty"`
	Slots          *int            `json:"slots,omitempty"`
	HashOn         *UpstreamHash   `json:"hashOn,omitempty"`
	HashOnFallback *UpstreamHash   `json:"hashOnFallback,omitempty"`
	Healthchecks   *Healthchecks   `json:"healthchecks,omitempty"`
	StickySessions *StickySessions `json:"stickySessions,omitempty"`
}

// UpstreamHash is what consistent hashing hashes on: exactly one of its
// fields is set (the CRD validates it).
type UpstreamHash struct {
	Input      *string `json:"input,omitempty"` // "ip", "consumer" or "path"
	Header     *string `json:"header,omitempty"`
	Cookie     *string `json:"cookie,omitempty"`
	CookiePath *string `json:"cookiePath,omitempty"`
	QueryArg   *string `json:"queryArg,omitempty"`
	URICapture *string `json:"uriCapture,omitempty"`
}

// Healthchecks are the upstream's active and passive health checks.
type Healthchecks struct {
	Active    *ActiveHealthcheck  `json:"active,omitempty"`
	Passive   *PassiveHealthcheck `json:"passive,omitempty"`
	Threshold *int                `json:"threshold,omitempty"`
}

// ActiveHealthcheck configures probes.
type ActiveHealthcheck struct {
	Type                   *string               `json:"type,omitempty"`
	Concurrency            *int                  `json:"concurrency,omitempty"`
	Headers                map[string][]string   `json:"headers,omitempty"`
	HTTPPath               *string               `json:"httpPath,omitempty"`
	HTTPSSNI               *string               `json:"httpsSni,omitempty"`
	HTTPSVerifyCertificate *bool                 `json:"httpsVerifyCertificate,omitempty"`
	Timeout                *int                  `json:"timeout,omitempty"`
	Healthy                *HealthcheckHealthy   `json:"healthy,omitempty"`
	Unhealthy              *HealthcheckUnhealthy `json:"unhealthy,omitempty"`
}

// PassiveHealthcheck configures the checks of proxied traffic.
type PassiveHealthcheck struct {
	Type      *string               `json:"type,omitempty"`
	Healthy   *HealthcheckHealthy   `json:"healthy,omitempty"`
	Unhealthy *HealthcheckUnhealthy `json:"unhealthy,omitempty"`
}

// HealthcheckHealthy says when a target counts as healthy.
type HealthcheckHealthy struct {
	HTTPStatuses []int `json:"httpStatuses,omitempty"`
	Interval     *int  `json:"interval,omitempty"`
	Successes    *int  `json:"successes,omitempty"`
}

// HealthcheckUnhealthy says when a target counts as unhealthy.
type HealthcheckUnhealthy struct {
	HTTPFailures *int  `json:"httpFailures,omitempty"`
	HTTPStatuses []int `json:"httpStatuses,omitempty"`
	TCPFailures  *int  `json:"tcpFailures,omitempty"`
	Timeouts     *int  `json:"timeouts,omitempty"`
	Interval     *int  `json:"interval,omitempty"`
}

// StickySessions names the cookie of the sticky-sessions algorithm.
type StickySessions struct {
	Cookie     string  `json:"cookie"`
	CookiePath *string `json:"cookiePath,omitempty"`
}

// policyFromUnstructured decodes a KongUpstreamPolicy read by the dynamic
// client.
func policyFromUnstructured(u *unstructured.Unstructured) (*UpstreamPolicy, error) {
	p := &UpstreamPolicy{Namespace: u.GetNamespace(), Name: u.GetName(), UID: string(u.GetUID())}
	spec, ok := u.Object["spec"]
	if !ok {
		return p, nil
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &p.Spec); err != nil {
		return nil, fmt.Errorf("KongUpstreamPolicy %s/%s: %w", p.Namespace, p.Name, err)
	}
	return p, nil
}

// apply sets the Kong upstream fields the policy gives, as KIC translates
// them: the hashed input's kind goes to hash_on (or hash_fallback) and its
// name to the matching hash_on_* field; a cookie of either goes to
// hash_on_cookie.
func (s *UpstreamPolicySpec) apply(u map[string]any) {
	if s.Algorithm != nil {
		u["algorithm"] = *s.Algorithm
	}
	if s.Slots != nil {
		u["slots"] = *s.Slots
	}
	hash := func(h *UpstreamHash, on, header, queryArg, uriCapture string) {
		if h == nil {
			return
		}
		switch {
		case h.Input != nil:
			u[on] = *h.Input
		case h.Header != nil:
			u[on], u[header] = "header", *h.Header
		case h.Cookie != nil:
			u[on] = "cookie"
		case h.QueryArg != nil:
			u[on], u[queryArg] = "query_arg", *h.QueryArg
		case h.URICapture != nil:
			u[on], u[uriCapture] = "uri_capture", *h.URICapture
		}
		if h.Cookie != nil {
			u["hash_on_cookie"] = *h.Cookie
		}
		if h.CookiePath != nil {
			u["hash_on_cookie_path"] = *h.CookiePath
		}
	}
	// the fallback first: hashOn's cookie wins over the fallback's
	hash(s.HashOnFallback, "hash_fallback", "hash_fallback_header", "hash_fallback_query_arg", "hash_fallback_uri_capture")
	hash(s.HashOn, "hash_on", "hash_on_header", "hash_on_query_arg", "hash_on_uri_capture")
	if s.Healthchecks != nil {
		u["healthchecks"] = s.Healthchecks.kong()
	}
	if s.StickySessions != nil {
		u["sticky_sessions_cookie"] = s.StickySessions.Cookie
		if s.StickySessions.CookiePath != nil {
			u["sticky_sessions_cookie_path"] = *s.StickySessions.CookiePath
		}
	}
}

// kong returns the health checks in Kong's shape (snake_case fields).
func (h *Healthchecks) kong() map[string]any {
	out := map[string]any{}
	if a := h.Active; a != nil {
		m := map[string]any{}
		set(m, "type", a.Type)
		set(m, "concurrency", a.Concurrency)
		if a.Headers != nil {
			m["headers"] = a.Headers
		}
		set(m, "http_path", a.HTTPPath)
		set(m, "https_sni", a.HTTPSSNI)
		set(m, "https_verify_certificate", a.HTTPSVerifyCertificate)
		set(m, "timeout", a.Timeout)
		if a.Healthy != nil {
			m["healthy"] = a.Healthy.kong()
		}
		if a.Unhealthy != nil {
			m["unhealthy"] = a.Unhealthy.kong()
		}
		out["active"] = m
	}
	if p := h.Passive; p != nil {
		m := map[string]any{}
		set(m, "type", p.Type)
		if p.Healthy != nil {
			m["healthy"] = p.Healthy.kong()
		}
		if p.Unhealthy != nil {
			m["unhealthy"] = p.Unhealthy.kong()
		}
		out["passive"] = m
	}
	if h.Threshold != nil {
		out["threshold"] = float64(*h.Threshold)
	}
	return out
}

func (h *HealthcheckHealthy) kong() map[string]any {
	m := map[string]any{}
	if h.HTTPStatuses != nil {
		m["http_statuses"] = h.HTTPStatuses
	}
	set(m, "interval", h.Interval)
	set(m, "successes", h.Successes)
	return m
}

func (h *HealthcheckUnhealthy) kong() map[string]any {
	m := map[string]any{}
	set(m, "http_failures", h.HTTPFailures)
	if h.HTTPStatuses != nil {
		m["http_statuses"] = h.HTTPStatuses
	}
	set(m, "tcp_failures", h.TCPFailures)
	set(m, "timeouts", h.Timeouts)
	set(m, "interval", h.Interval)
	return m
}

// set puts *v in m under key when v is not nil.
func set[T any](m map[string]any, key string, v *T) {
	if v != nil {
		m[key] = *v
	}
}
