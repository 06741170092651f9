package ingress

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The konghq.com annotations read, on Ingresses (routes) and Services
// (services and upstreams), with KIC's names.
const (
	annotationPrefix = "konghq.com/"

	annStripPath         = annotationPrefix + "strip-path"
	annMethods           = annotationPrefix + "methods"
	annProtocols         = annotationPrefix + "protocols"
	annPreserveHost      = annotationPrefix + "preserve-host"
	annHTTPSRedirectCode = annotationPrefix + "https-redirect-status-code"
	annRegexPriority     = annotationPrefix + "regex-priority"
	annPathHandling      = annotationPrefix + "path-handling"
	annHeadersPrefix     = annotationPrefix + "headers."
	annHeadersSeparator  = annotationPrefix + "headers-separator"
	annHostAliases       = annotationPrefix + "host-aliases"
	annRegexPrefix       = annotationPrefix + "regex-prefix"
	annTags              = annotationPrefix + "tags"

	annPath           = annotationPrefix + "path"
	annProtocol       = annotationPrefix + "protocol"
	annRetries        = annotationPrefix + "retries"
	annConnectTimeout = annotationPrefix + "connect-timeout"
	annReadTimeout    = annotationPrefix + "read-timeout"
	annWriteTimeout   = annotationPrefix + "write-timeout"
	annHostHeader     = annotationPrefix + "host-header"
)

// Values KIC accepts.
var (
	validMethods      = regexp.MustCompile(`\A[A-Z]+$`)
	validPathHandling = regexp.MustCompile(`v\d`)
	validHostAlias    = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]+(-[a-zA-Z0-9]+)*)+(\.([a-zA-Z0-9]+(-[a-zA-Z0-9]+)*))*?(\.\*)?$`)
	validProtocols    = []string{"http", "https", "grpc", "grpcs", "tcp", "tls", "tls_passthrough", "ws", "wss"}
	redirectCodes     = []int{426, 301, 302, 307, 308}
)

// badAnnotation is the error of an annotation whose value is refused.
func badAnnotation(key, value, why string) error {
	return fmt.Errorf("annotation %s: invalid value %q: %s", key, value, why)
}

// commaList splits a comma-separated annotation value, trimming spaces and
// dropping empty items, as KIC does.
func commaList(s string, sanitize func(string) string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		v = strings.TrimSpace(v)
		if sanitize != nil {
			v = sanitize(v)
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// boolAnnotation reads "true" or "false" (any case); absent: ok, not set.
func boolAnnotation(anns map[string]string, key string) (value, set bool, err error) {
	v, ok := anns[key]
	if !ok || v == "" {
		return false, false, nil
	}
	switch strings.ToLower(v) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, false, badAnnotation(key, v, "expected true or false")
}

// intAnnotation reads an integer; absent: not set.
func intAnnotation(anns map[string]string, key string) (value int, set bool, err error) {
	v, ok := anns[key]
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, false, badAnnotation(key, v, "expected an integer")
	}
	return n, true, nil
}

// applyRouteAnnotations overrides the fields of route (a Kong route in
// declarative shape) from its Ingress's annotations, in KIC's order. KIC
// ignores a value it cannot use; here the route is refused with the reason
// (the caller skips it and reports it).
func applyRouteAnnotations(route map[string]any, anns map[string]string) error {
	if v, set, err := boolAnnotation(anns, annStripPath); err != nil {
		return err
	} else if set {
		route["strip_path"] = v
	}
	if v, ok := anns[annHTTPSRedirectCode]; ok {
		code, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || !slices.Contains(redirectCodes, code) {
			return badAnnotation(annHTTPSRedirectCode, v, "expected one of 426, 301, 302, 307, 308")
		}
		route["https_redirect_status_code"] = code
	}
	if v, set, err := boolAnnotation(anns, annPreserveHost); err != nil {
		return err
	} else if set {
		route["preserve_host"] = v
	}
	if v, ok := anns[annProtocols]; ok {
		protocols := commaList(v, nil)
		for _, p := range protocols {
			if !slices.Contains(validProtocols, p) {
				return badAnnotation(annProtocols, v, "unknown protocol "+p)
			}
		}
		if len(protocols) > 0 {
			route["protocols"] = protocols
		}
	}
	if n, set, err := intAnnotation(anns, annRegexPriority); err != nil {
		return err
	} else if set {
		route["regex_priority"] = n
	}
	if v, ok := anns[annMethods]; ok {
		methods := commaList(v, strings.ToUpper)
		for _, m := range methods {
			if !validMethods.MatchString(m) {
				return badAnnotation(annMethods, v, "invalid method "+m)
			}
		}
		if len(methods) > 0 {
			route["methods"] = methods
		}
	}
	if v, ok := anns[annHostAliases]; ok && v != "" {
		hosts, _ := route["hosts"].([]string)
		for _, h := range commaList(v, nil) {
			if !validHostAlias.MatchString(h) {
				return badAnnotation(annHostAliases, v, "invalid host "+h)
			}
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		route["hosts"] = hosts
	}
	if headers := headerAnnotations(anns); headers != nil {
		route["headers"] = headers
	}
	if v, ok := anns[annPathHandling]; ok {
		if !validPathHandling.MatchString(v) {
			return badAnnotation(annPathHandling, v, "expected v0 or v1")
		}
		route["path_handling"] = v
	}
	normalizeProtocols(route)
	return nil
}

// headerAnnotations collects konghq.com/headers.<name> annotations: the
// header's values, split at konghq.com/headers-separator (default ",").
func headerAnnotations(anns map[string]string) map[string][]string {
	sep := anns[annHeadersSeparator]
	if sep == "" {
		sep = ","
	}
	var headers map[string][]string
	for k, v := range anns {
		name, ok := strings.CutPrefix(k, annHeadersPrefix)
		if !ok || name == "" {
			continue
		}
		if headers == nil {
			headers = map[string][]string{}
		}
		var values []string
		for _, hv := range strings.Split(v, sep) {
			values = append(values, strings.TrimSpace(hv))
		}
		headers[name] = values
	}
	return headers
}

// normalizeProtocols applies KIC's rule: a route mixing gRPC and HTTP
// protocols gets http and https; a gRPC route has no strip_path.
func normalizeProtocols(route map[string]any) {
	protocols, _ := route["protocols"].([]string)
	var http, grpc bool
	for _, p := range protocols {
		if strings.Contains(p, "grpc") {
			grpc = true
		}
		if strings.Contains(p, "http") {
			http = true
		}
	}
	if grpc && http {
		route["protocols"] = []string{"http", "https"}
	}
	if grpc {
		delete(route, "strip_path")
	}
}

// applyServiceAnnotations overrides the fields of service and upstream
// (Kong entities in declarative shape) from the annotations of their
// Kubernetes Service.
func applyServiceAnnotations(service, upstream map[string]any, anns map[string]string) error {
	if v, ok := anns[annProtocol]; ok && v != "" {
		if !slices.Contains(validProtocols, v) {
			return badAnnotation(annProtocol, v, "unknown protocol")
		}
		service["protocol"] = v
	}
	if v, ok := anns[annPath]; ok && v != "" {
		if !strings.HasPrefix(v, "/") {
			return badAnnotation(annPath, v, "a path starts with /")
		}
		service["path"] = v
	}
	for key, field := range map[string]string{
		annConnectTimeout: "connect_timeout", annWriteTimeout: "write_timeout",
		annReadTimeout: "read_timeout", annRetries: "retries",
	} {
		if n, set, err := intAnnotation(anns, key); err != nil {
			return err
		} else if set {
			service[field] = n
		}
	}
	if p, _ := service["protocol"].(string); p == "grpc" || p == "grpcs" {
		delete(service, "path")
	}
	if v := anns[annHostHeader]; v != "" {
		upstream["host_header"] = v
	}
	return nil
}

// userTags are the konghq.com/tags of an object, without repeats.
func userTags(anns map[string]string) []string {
	var out []string
	for _, t := range commaList(anns[annTags], nil) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
