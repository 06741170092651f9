package kubernetes

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

func ptr[T any](v T) *T { return &v }

// twoPortSlice is a slice of Service "web" with ports http=8080 and
// metrics=9090, one endpoint per condition the API can report.
func twoPortSlice() *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("http"), Port: ptr(int32(8080))},
			{Name: ptr("metrics"), Port: ptr(int32(9090))},
		},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-2"}, NodeName: ptr("node-a")},
			{Addresses: []string{"10.0.0.1"}}, // no conditions: ready, as the API says
			{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}},
			{Addresses: []string{"10.0.0.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(false), Terminating: ptr(true)}},
			{Addresses: []string{"10.0.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}
}

func TestEndpointsOfConditions(t *testing.T) {
	got := endpointsOf([]*discoveryv1.EndpointSlice{twoPortSlice()}, "web", "http", 100)
	want := []targets.Endpoint{
		{Host: "10.0.0.1", Port: 8080, Weight: 100},
		{Host: "10.0.0.2", Port: 8080, Weight: 100, Tags: []string{"k8s-pod:web-2", "k8s-node:node-a"}},
		{Host: "10.0.0.3", Port: 8080, Weight: 100, Terminating: true, Tags: []string{"k8s-terminating"}},
		{Host: "10.0.0.4", Port: 8080, Weight: 100, Terminating: true, Tags: []string{"k8s-terminating"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("endpoints:\n%+v\nwant\n%+v", got, want)
	}
}

func TestEndpointsOfPortSelection(t *testing.T) {
	one := twoPortSlice()
	one.Ports = one.Ports[:1]
	unnamed := twoPortSlice()
	unnamed.Ports = []discoveryv1.EndpointPort{{Port: ptr(int32(7000))}}
	for _, tc := range []struct {
		name   string
		slice  *discoveryv1.EndpointSlice
		port   portSelector
		number int // 0: no endpoint
	}{
		{"by name", twoPortSlice(), "metrics", 9090},
		{"by pod port number", twoPortSlice(), "9090", 9090},
		{"unknown name", twoPortSlice(), "grpc", 0},
		{"unknown number", twoPortSlice(), "80", 0},
		{"empty with two ports", twoPortSlice(), "", 0},
		{"empty with one port", one, "", 8080},
		{"empty with one unnamed port", unnamed, "", 7000},
	} {
		got := endpointsOf([]*discoveryv1.EndpointSlice{tc.slice}, "web", tc.port, 1)
		if tc.number == 0 {
			if len(got) != 0 {
				t.Errorf("%s: %+v, want none", tc.name, got)
			}
			continue
		}
		if len(got) != 4 || got[0].Port != tc.number {
			t.Errorf("%s: %+v, want 4 endpoints on port %d", tc.name, got, tc.number)
		}
	}
}

func TestEndpointsOfSkipsForeignSlices(t *testing.T) {
	other := twoPortSlice()
	other.Labels[discoveryv1.LabelServiceName] = "db"
	fqdn := twoPortSlice()
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	v6 := twoPortSlice()
	v6.AddressType = discoveryv1.AddressTypeIPv6
	v6.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}
	got := endpointsOf([]*discoveryv1.EndpointSlice{other, fqdn, v6}, "web", "http", 7)
	want := []targets.Endpoint{{Host: "fd00::1", Port: 8080, Weight: 7}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("endpoints %+v, want %+v", got, want)
	}
}

func TestPortJSON(t *testing.T) {
	for raw, want := range map[string]Port{`"http"`: "http", `"8080"`: "8080", `8080`: "8080"} {
		var p Port
		if err := p.UnmarshalJSON([]byte(raw)); err != nil || p != want {
			t.Errorf("%s: %q, %v; want %q", raw, p, err, want)
		}
	}
	var p Port
	if err := p.UnmarshalJSON([]byte(`{"name":"http"}`)); err == nil {
		t.Errorf("an object was accepted as a port: %q", p)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Source
		want string
	}{
		{Source{Weight: 1}, "service is required"},
		{Source{Service: "web", Weight: 70000}, "weight must be between 1 and 65535"},
		{Source{Service: "web", Weight: 1, Port: "0"}, "port must be between 1 and 65535"},
	} {
		if err := tc.s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
	ok := Source{Service: "web", Weight: 100, Port: "http"}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid source refused: %v", err)
	}
}
