package ingress

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

func ptr[T any](v T) *T { return &v }

// echoService is the seed's Service: port 80 to the pods' 1027.
func echoService(anns map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "testing", Name: "echo", UID: "svc-uid", Annotations: anns},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(1027), Protocol: corev1.ProtocolTCP}}},
	}
}

// echoIngress routes path (of pathType) to echo:80.
func echoIngress(name, host, path string, pathType networkingv1.PathType, anns map[string]string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "testing", Name: name, UID: "ing-uid", Annotations: anns},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr("kong"), Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: path, PathType: &pathType,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "echo", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
}

// echoSlice has one endpoint per address, all ready except those listed
// as terminating.
func echoSlice(ready []string, terminating ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "testing", Name: "echo-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "echo"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr(""), Port: ptr(int32(1027)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for _, a := range ready {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	}
	for _, a := range terminating {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{a},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}})
	}
	return sl
}

func seedObjects(ings ...*networkingv1.Ingress) objects {
	return objects{
		ingresses: ings,
		services:  map[string]*corev1.Service{"testing/echo": echoService(nil)},
		slices:    map[string][]*discoveryv1.EndpointSlice{"testing/echo": {echoSlice([]string{"10.244.0.5", "10.244.0.6"}, "10.244.0.7")}},
		policies:  map[string]*UpstreamPolicy{},
	}
}

// TestSeedEchoIngress: the seed's echo Ingress gives KIC's service, route
// and upstream, with KIC's names, ids and fields, and the pods as targets.
func TestSeedEchoIngress(t *testing.T) {
	tr := translate(seedObjects(echoIngress("echo", "", "/echo", networkingv1.PathTypePrefix, nil)))
	if len(tr.problems) != 0 {
		t.Fatalf("problems: %+v", tr.problems)
	}
	cfg := tr.config
	if len(cfg.Services) != 1 || len(cfg.Routes) != 1 || len(cfg.Upstreams) != 1 {
		t.Fatalf("got %d services, %d routes, %d upstreams", len(cfg.Services), len(cfg.Routes), len(cfg.Upstreams))
	}
	s, r, u := cfg.Services[0], cfg.Routes[0], cfg.Upstreams[0]
	if *s.Name != "testing.echo.80" || s.Host != "echo.testing.80.svc" || s.Port != 80 || s.Protocol != "http" ||
		*s.Path != "/" || s.Retries != 5 || s.ConnectTimeout != 60000 || s.ReadTimeout != 60000 || s.WriteTimeout != 60000 {
		t.Errorf("service: %+v", s)
	}
	wantTags := []string{"k8s-name:echo", "k8s-namespace:testing", "k8s-kind:Service", "k8s-uid:svc-uid", "k8s-version:v1"}
	if !reflect.DeepEqual(s.Tags, wantTags) || !reflect.DeepEqual(u.Tags, wantTags) {
		t.Errorf("service tags %q, upstream tags %q", s.Tags, u.Tags)
	}
	if *r.Name != "testing.echo.echo..80" || r.ServiceID() != s.ID || r.StripPath || !r.PreserveHost ||
		r.RegexPriority != 0 || !r.RequestBuffering || !r.ResponseBuffering || r.HTTPSRedirectStatusCode != 426 || r.PathHandling != "v0" {
		t.Errorf("route: %+v", r)
	}
	if !reflect.DeepEqual(r.Paths, []string{"/echo/", "~/echo$"}) || !reflect.DeepEqual(r.Protocols, []string{"http", "https"}) || len(r.Hosts) != 0 {
		t.Errorf("route paths %q protocols %q hosts %q", r.Paths, r.Protocols, r.Hosts)
	}
	if !reflect.DeepEqual(r.Tags, []string{"k8s-name:echo", "k8s-namespace:testing", "k8s-kind:Ingress", "k8s-uid:ing-uid", "k8s-group:networking.k8s.io", "k8s-version:v1"}) {
		t.Errorf("route tags %q", r.Tags)
	}
	if u.Name != "echo.testing.80.svc" || u.Algorithm != "round-robin" || u.Slots != 10000 {
		t.Errorf("upstream: %+v", u)
	}
	eps := tr.endpoints["echo.testing.80.svc"]
	if len(eps) != 3 || eps[0].Host != "10.244.0.5" || eps[0].Port != 1027 || eps[0].Weight != 100 || eps[0].Terminating ||
		eps[2].Host != "10.244.0.7" || !eps[2].Terminating {
		t.Errorf("endpoints: %+v", eps)
	}
}

// TestIDsAreKICs: service and route ids are the UUIDv5 KIC (go-kong's
// FillID) and a DB-less Kong give the names.
func TestIDsAreKICs(t *testing.T) {
	tr := translate(seedObjects(echoIngress("echo", "", "/echo", networkingv1.PathTypePrefix, nil)))
	// the golden file of KIC's kongupstreampolicy-ingress test has
	// default.httpbin-deployment.80 -> 41e0df75-8715-5017-b56b-431e70ccd2ff;
	// check the same derivation on that name
	cfg, err := upstreams.BuildDeclarative(document([]map[string]any{{"name": "default.httpbin-deployment.80", "host": "x"}}, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Services[0].ID != "41e0df75-8715-5017-b56b-431e70ccd2ff" {
		t.Errorf("id of default.httpbin-deployment.80 = %s", cfg.Services[0].ID)
	}
	if tr.config.Services[0].ID == "" || tr.config.Routes[0].ID == "" {
		t.Error("no ids")
	}
}

// TestPaths: Ingress path types as KIC translates them.
func TestPaths(t *testing.T) {
	for _, c := range []struct {
		path     string
		pathType networkingv1.PathType
		prefix   string
		want     []string
	}{
		{"/echo", networkingv1.PathTypePrefix, "", []string{"/echo/", "~/echo$"}},
		{"/echo/", networkingv1.PathTypePrefix, "", []string{"/echo/", "~/echo$"}},
		{"/", networkingv1.PathTypePrefix, "", []string{"/"}},
		{"/a/b", networkingv1.PathTypeExact, "", []string{"~/a/b$"}},
		{"/", networkingv1.PathTypeExact, "", []string{"~/$"}},
		{"/echo", networkingv1.PathTypeImplementationSpecific, "", []string{"/echo"}},
		{"/~/v[0-9]+/echo", networkingv1.PathTypeImplementationSpecific, "", []string{"~/v[0-9]+/echo"}},
		{"/@/v[0-9]+", networkingv1.PathTypeImplementationSpecific, "/@", []string{"~/v[0-9]+"}},
		{"//a///b", networkingv1.PathTypeImplementationSpecific, "", []string{"/a/b"}},
	} {
		var anns map[string]string
		if c.prefix != "" {
			anns = map[string]string{annRegexPrefix: c.prefix}
		}
		tr := translate(seedObjects(echoIngress("echo", "", c.path, c.pathType, anns)))
		if len(tr.problems) != 0 || len(tr.config.Routes) != 1 {
			t.Errorf("%s %s: problems %+v", c.pathType, c.path, tr.problems)
			continue
		}
		if got := tr.config.Routes[0].Paths; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s: paths %q, want %q", c.pathType, c.path, got, c.want)
		}
	}
}

// TestRouteAnnotations: the Ingress annotations KIC users rely on.
func TestRouteAnnotations(t *testing.T) {
	ing := echoIngress("echo", "echo.example", "/echo", networkingv1.PathTypePrefix, map[string]string{
		annStripPath: "TRUE", annMethods: "get, post", annProtocols: "https", annPreserveHost: "false",
		annHTTPSRedirectCode: "301", annRegexPriority: "7", annPathHandling: "v1",
		annHeadersPrefix + "x-env": "prod, canary", annHostAliases: "alias.example,*.wild.example", annTags: "team-a,team-a",
	})
	tr := translate(seedObjects(ing))
	if len(tr.problems) != 0 {
		t.Fatalf("problems: %+v", tr.problems)
	}
	r := tr.config.Routes[0]
	if *r.Name != "testing.echo.echo.echo.example.80" || !r.StripPath || r.PreserveHost || r.HTTPSRedirectStatusCode != 301 ||
		r.RegexPriority != 7 || r.PathHandling != "v1" {
		t.Errorf("route: %+v", r)
	}
	if !reflect.DeepEqual(r.Methods, []string{"GET", "POST"}) || !reflect.DeepEqual(r.Protocols, []string{"https"}) ||
		!reflect.DeepEqual(r.Hosts, []string{"echo.example", "alias.example", "*.wild.example"}) ||
		!reflect.DeepEqual(r.Headers, map[string][]string{"x-env": {"prod", "canary"}}) {
		t.Errorf("methods %q protocols %q hosts %q headers %v", r.Methods, r.Protocols, r.Hosts, r.Headers)
	}
	if r.Tags[len(r.Tags)-1] != "team-a" || r.Tags[len(r.Tags)-2] == "team-a" {
		t.Errorf("tags %q", r.Tags)
	}
}

// TestServiceAnnotations: Service annotations set the Kong service's and
// upstream's fields.
func TestServiceAnnotations(t *testing.T) {
	o := seedObjects(echoIngress("echo", "", "/echo", networkingv1.PathTypePrefix, nil))
	o.services["testing/echo"] = echoService(map[string]string{
		annPath: "/api", annProtocol: "https", annRetries: "2", annConnectTimeout: "1000",
		annReadTimeout: "2000", annWriteTimeout: "3000", annHostHeader: "echo.internal",
	})
	tr := translate(o)
	if len(tr.problems) != 0 {
		t.Fatalf("problems: %+v", tr.problems)
	}
	s, u := tr.config.Services[0], tr.config.Upstreams[0]
	if *s.Path != "/api" || s.Protocol != "https" || s.Retries != 2 || s.ConnectTimeout != 1000 || s.ReadTimeout != 2000 || s.WriteTimeout != 3000 {
		t.Errorf("service: %+v", s)
	}
	if u.HostHeader == nil || *u.HostHeader != "echo.internal" {
		t.Errorf("upstream host_header: %v", u.HostHeader)
	}
}

// TestUpstreamPolicy: KIC's kongupstreampolicy-ingress example gives the
// upstream fields of KIC's golden output.
func TestUpstreamPolicy(t *testing.T) {
	o := seedObjects(echoIngress("echo", "", "/echo", networkingv1.PathTypePrefix, nil))
	o.services["testing/echo"] = echoService(map[string]string{upstreamPolicyAnnotation: "httpbin"})
	o.policies["testing/httpbin"] = &UpstreamPolicy{Namespace: "testing", Name: "httpbin", Spec: UpstreamPolicySpec{
		Algorithm: ptr("consistent-hashing"), Slots: ptr(100),
		HashOn: &UpstreamHash{Header: ptr("session-id")}, HashOnFallback: &UpstreamHash{Input: ptr("consumer")},
		Healthchecks: &Healthchecks{
			Active: &ActiveHealthcheck{Type: ptr("http"), HTTPPath: ptr("/status"), HTTPSSNI: ptr("example.com"),
				HTTPSVerifyCertificate: ptr(false), Concurrency: ptr(20), Timeout: ptr(15),
				Headers:   map[string][]string{"X-Health-Check": {"kong", "dataplane"}},
				Healthy:   &HealthcheckHealthy{HTTPStatuses: []int{200, 302}, Interval: ptr(5), Successes: ptr(5)},
				Unhealthy: &HealthcheckUnhealthy{HTTPStatuses: []int{400, 500}, HTTPFailures: ptr(5), Timeouts: ptr(5), Interval: ptr(10)}},
			Passive: &PassiveHealthcheck{Type: ptr("tcp"), Healthy: &HealthcheckHealthy{Successes: ptr(5)},
				Unhealthy: &HealthcheckUnhealthy{TCPFailures: ptr(5), Timeouts: ptr(10)}},
		},
	}}
	tr := translate(o)
	if len(tr.problems) != 0 {
		t.Fatalf("problems: %+v", tr.problems)
	}
	u := upstreams.EntityMap(tr.config.Upstreams[0])
	if u["algorithm"] != "consistent-hashing" || u["slots"] != 100.0 || u["hash_on"] != "header" ||
		u["hash_on_header"] != "session-id" || u["hash_fallback"] != "consumer" {
		t.Errorf("upstream: %v", u)
	}
	hc := u["healthchecks"].(map[string]any)
	active, passive := hc["active"].(map[string]any), hc["passive"].(map[string]any)
	if active["http_path"] != "/status" || active["https_sni"] != "example.com" || active["concurrency"] != 20.0 ||
		active["timeout"] != 15.0 || active["https_verify_certificate"] != false ||
		!reflect.DeepEqual(active["healthy"].(map[string]any)["http_statuses"], []any{200.0, 302.0}) ||
		active["unhealthy"].(map[string]any)["http_failures"] != 5.0 || active["unhealthy"].(map[string]any)["interval"] != 10.0 {
		t.Errorf("active: %v", active)
	}
	if passive["type"] != "tcp" || passive["unhealthy"].(map[string]any)["tcp_failures"] != 5.0 || passive["healthy"].(map[string]any)["successes"] != 5.0 {
		t.Errorf("passive: %v", passive)
	}
}

// TestBadObjectsAreSkipped: an unknown Service, an unknown port, a bad
// annotation value on an Ingress or a Service leave that object out with a
// problem naming it; the rest is served.
func TestBadObjectsAreSkipped(t *testing.T) {
	good := echoIngress("good", "", "/good", networkingv1.PathTypePrefix, nil)
	badAnn := echoIngress("bad-annotation", "", "/bad", networkingv1.PathTypePrefix, map[string]string{annStripPath: "maybe"})
	noSvc := echoIngress("no-service", "", "/none", networkingv1.PathTypePrefix, nil)
	noSvc.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "missing"
	noPort := echoIngress("no-port", "", "/port", networkingv1.PathTypePrefix, nil)
	noPort.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 81
	tr := translate(seedObjects(good, badAnn, noSvc, noPort))
	if len(tr.config.Routes) != 1 || *tr.config.Routes[0].Name != "testing.good.echo..80" {
		t.Fatalf("routes: %+v", tr.config.Routes)
	}
	want := map[string]string{
		"Ingress testing/bad-annotation": "konghq.com/strip-path",
		"Ingress testing/no-service":     "Service testing/missing not found",
		"Ingress testing/no-port":        "no port 81",
	}
	if len(tr.problems) != len(want) {
		t.Fatalf("problems: %+v", tr.problems)
	}
	for _, p := range tr.problems {
		if !strings.Contains(p.reason, want[p.object.String()]) {
			t.Errorf("problem %s: %q, want it to mention %q", p.object, p.reason, want[p.object.String()])
		}
	}

	o := seedObjects(good)
	o.services["testing/echo"] = echoService(map[string]string{annConnectTimeout: "soon"})
	tr = translate(o)
	if len(tr.config.Services) != 0 || len(tr.problems) != 1 || tr.problems[0].object.Kind != "Service" ||
		!strings.Contains(tr.problems[0].reason, "konghq.com/connect-timeout") {
		t.Errorf("bad Service annotation: services %d, problems %+v", len(tr.config.Services), tr.problems)
	}
	// a value Kong's schema refuses (retries above 32767) is reported too
	o.services["testing/echo"] = echoService(map[string]string{annRetries: "100000"})
	tr = translate(o)
	if len(tr.config.Services) != 0 || len(tr.problems) != 1 || !strings.Contains(tr.problems[0].reason, "retries") {
		t.Errorf("retries out of range: services %d, problems %+v", len(tr.config.Services), tr.problems)
	}
}

// TestDefaultBackendAndSharedService: the oldest Ingress's default backend
// is a catch-all route named <namespace>.<ingress>; Ingresses to the same
// Service port share one Kong service.
func TestDefaultBackendAndSharedService(t *testing.T) {
	a := echoIngress("a", "a.example", "/a", networkingv1.PathTypePrefix, nil)
	a.CreationTimestamp = metav1.Unix(100, 0)
	a.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "echo", Port: networkingv1.ServiceBackendPort{Number: 80}}}
	b := echoIngress("b", "b.example", "/b", networkingv1.PathTypeExact, nil)
	b.CreationTimestamp = metav1.Unix(200, 0)
	b.Spec.DefaultBackend = a.Spec.DefaultBackend
	tr := translate(seedObjects(b, a))
	if len(tr.problems) != 0 || len(tr.config.Services) != 1 {
		t.Fatalf("problems %+v, services %d", tr.problems, len(tr.config.Services))
	}
	var names []string
	for _, r := range tr.config.Routes {
		names = append(names, *r.Name)
	}
	if !reflect.DeepEqual(names, []string{"testing.a", "testing.a.echo.a.example.80", "testing.b.echo.b.example.80"}) {
		t.Errorf("routes %q", names)
	}
}
