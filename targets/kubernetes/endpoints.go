package kubernetes

import (
	"sort"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
)

// Tags of the targets the source reports.
const (
	tagPodPrefix   = "k8s-pod:"
	tagNodePrefix  = "k8s-node:"
	tagTerminating = "k8s-terminating"
)

// portSelector chooses the port of an EndpointSlice the source balances
// over: by name (the Service port's name), by number (the port on the
// pods, the Service's targetPort), or, when empty, the slice's only port.
type portSelector string

// find returns the selected port of a slice.
func (p portSelector) find(ports []discoveryv1.EndpointPort) (int, bool) {
	if p == "" {
		if len(ports) == 1 && ports[0].Port != nil {
			return int(*ports[0].Port), true
		}
		return 0, false
	}
	number, err := strconv.Atoi(string(p))
	for _, ep := range ports {
		if ep.Port == nil {
			continue
		}
		if err == nil && int(*ep.Port) == number {
			return number, true
		}
		if err != nil && ep.Name != nil && *ep.Name == string(p) {
			return int(*ep.Port), true
		}
	}
	return 0, false
}

// endpointsOf turns the EndpointSlices of a Service into endpoints, sorted
// by address. Ready endpoints weigh weight; terminating ones (serving or
// not) are reported Terminating, so they finish what they have and get no
// new requests; endpoints neither ready nor terminating are left out.
// Slices of another Service, of FQDN addresses, or without the selected
// port contribute nothing.
func endpointsOf(slices []*discoveryv1.EndpointSlice, service string, port portSelector, weight int) []targets.Endpoint {
	out := []targets.Endpoint{}
	for _, sl := range slices {
		if sl.Labels[discoveryv1.LabelServiceName] != service {
			continue
		}
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		number, ok := port.find(sl.Ports)
		if !ok {
			continue
		}
		for _, ep := range sl.Endpoints {
			// the API says: a nil ready condition is to be read as ready
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			terminating := ep.Conditions.Terminating != nil && *ep.Conditions.Terminating
			if !ready && !terminating {
				continue
			}
			tags := endpointTags(&ep, terminating)
			for _, addr := range ep.Addresses {
				out = append(out, targets.Endpoint{Host: addr, Port: number, Weight: weight, Terminating: terminating, Tags: tags})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// endpointTags names an endpoint's pod and node, and marks it terminating.
func endpointTags(ep *discoveryv1.Endpoint, terminating bool) []string {
	var tags []string
	if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && ep.TargetRef.Name != "" {
		tags = append(tags, tagPodPrefix+ep.TargetRef.Name)
	}
	if ep.NodeName != nil && *ep.NodeName != "" {
		tags = append(tags, tagNodePrefix+*ep.NodeName)
	}
	if terminating {
		tags = append(tags, tagTerminating)
	}
	return tags
}

// ServiceEndpoints turns the EndpointSlices of a Service into endpoints
// exactly as the source does (see endpointsOf): the slices' port named
// portName (a Service port's name; "" selects a slice's only port), ready
// endpoints with weight, terminating ones reported Terminating. The
// Kubernetes Ingress controller uses it for the targets of its upstreams.
func ServiceEndpoints(slices []*discoveryv1.EndpointSlice, service, portName string, weight int) []targets.Endpoint {
	return endpointsOf(slices, service, portSelector(portName), weight)
}
