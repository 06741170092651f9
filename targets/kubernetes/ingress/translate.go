package ingress

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/caddy-upstreams/caddy-upstreams/targets"
	"github.com/caddy-upstreams/caddy-upstreams/targets/kubernetes"
	"github.com/caddy-upstreams/caddy-upstreams/upstreams"
)

// Kong defaults KIC writes into every service it makes.
const (
	defaultServicePort    = 80
	defaultServiceTimeout = 60000
	defaultServiceRetries = 5
	defaultTargetWeight   = 100
)

// objects are the Kubernetes objects a translation reads.
type objects struct {
	ingresses []*networkingv1.Ingress                 // of our class
	services  map[string]*corev1.Service              // by "namespace/name"
	slices    map[string][]*discoveryv1.EndpointSlice // by "namespace/service"
	// policies are the KongUpstreamPolicies by "namespace/name"; nil when
	// the CRD is not installed.
	policies map[string]*UpstreamPolicy
}

// objectRef names a Kubernetes object in events and logs.
type objectRef struct {
	Kind, APIVersion, Namespace, Name string
	UID                               types.UID
}

func (o objectRef) String() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

func ingressRef(ing *networkingv1.Ingress) objectRef {
	return objectRef{Kind: "Ingress", APIVersion: "networking.k8s.io/v1", Namespace: ing.Namespace, Name: ing.Name, UID: ing.UID}
}

func serviceRef(svc *corev1.Service) objectRef {
	return objectRef{Kind: "Service", APIVersion: "v1", Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}
}

// problem is an object, or a part of one, that was left out, and why.
type problem struct {
	object objectRef
	reason string
}

// translation is what the registry gets of the objects: Kong entities as
// KIC would make them, and each upstream's endpoints.
type translation struct {
	config    *upstreams.DeclarativeConfig
	endpoints map[string][]targets.Endpoint // by upstream name
	problems  []problem
	// served are the Ingresses at least one route was made of
	served map[types.NamespacedName]bool
}

// backendPort is an Ingress backend's Service port: a number, a name, or
// neither (the Service's only port), and its form in KIC's names.
type backendPort struct {
	number int32
	name   string
}

func (p backendPort) canonical() string {
	switch {
	case p.number != 0:
		return strconv.Itoa(int(p.number))
	case p.name != "":
		return p.name
	}
	return "implicitPort"
}

// find returns the Service port the backend means, as KIC finds it.
func (p backendPort) find(svc *corev1.Service) (corev1.ServicePort, error) {
	ports := svc.Spec.Ports
	switch {
	case p.number != 0:
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			return corev1.ServicePort{Port: p.number}, nil
		}
		for _, sp := range ports {
			if sp.Port == p.number {
				return sp, nil
			}
		}
	case p.name != "":
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			return corev1.ServicePort{}, fmt.Errorf("rules with an ExternalName service must specify numeric ports")
		}
		for _, sp := range ports {
			if sp.Name == p.name || (sp.TargetPort.StrVal != "" && sp.TargetPort.StrVal == p.name) {
				return sp, nil
			}
		}
	default:
		if len(ports) != 1 {
			return corev1.ServicePort{}, fmt.Errorf("in implicit mode, service must have exactly 1 port, has %d", len(ports))
		}
		return ports[0], nil
	}
	return corev1.ServicePort{}, fmt.Errorf("no port %s in Service %s/%s", p.canonical(), svc.Namespace, svc.Name)
}

// routeMeta gathers the paths of one Ingress that go to one Service port
// under one host: they become one Kong route (KIC's index).
type routeMeta struct {
	ing     *networkingv1.Ingress
	host    string
	service string
	port    backendPort
	paths   []string
}

// group is one Kong service (a Service port), its upstream and its routes.
type group struct {
	name      string
	svc       *corev1.Service
	service   map[string]any
	upstream  map[string]any
	endpoints []targets.Endpoint
	routes    []groupRoute
	failed    bool
}

type groupRoute struct {
	route map[string]any
	ing   *networkingv1.Ingress
}

// translator builds one translation.
type translator struct {
	in     objects
	out    translation
	groups map[string]*group
}

// translate turns the objects into Kong entities as KIC 3 does. Objects
// that cannot be served (an unknown Service or port, a refused annotation
// value, an entity Kong's schema rejects) are left out and listed in the
// translation's problems; the rest is served.
func translate(in objects) translation {
	t := &translator{in: in, groups: map[string]*group{},
		out: translation{endpoints: map[string][]targets.Endpoint{}, served: map[types.NamespacedName]bool{}}}
	ings := append([]*networkingv1.Ingress(nil), in.ingresses...)
	sort.SliceStable(ings, func(i, j int) bool {
		a, b := ings[i], ings[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	metas := map[string]*routeMeta{}
	for _, ing := range ings {
		t.indexIngress(ing, metas)
	}
	names := make([]string, 0, len(metas))
	for name := range metas {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := metas[name]
		t.addRoute(m.ing, m.service, m.port, t.ruleRoute(name, m))
	}
	for _, ing := range ings {
		if b := ing.Spec.DefaultBackend; b != nil {
			if b.Service == nil {
				t.problem(ingressRef(ing), "default backend: only Service backends are supported")
				continue
			}
			// only the oldest Ingress's default backend is used, as in KIC
			t.addRoute(ing, b.Service.Name, portOf(b.Service.Port), t.defaultRoute(ing))
			break
		}
	}
	t.out.config = t.build()
	return t.out
}

func portOf(p networkingv1.ServiceBackendPort) backendPort {
	return backendPort{number: p.Number, name: p.Name}
}

func (t *translator) problem(o objectRef, format string, args ...any) {
	t.out.problems = append(t.out.problems, problem{object: o, reason: fmt.Sprintf(format, args...)})
}

// indexIngress adds an Ingress's paths to metas, keyed by KIC's route name.
func (t *translator) indexIngress(ing *networkingv1.Ingress, metas map[string]*routeMeta) {
	regexPrefix := controllerRegexPrefix
	if p, ok := ing.Annotations[annRegexPrefix]; ok {
		regexPrefix = p
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			path := flattenSlashes(p.Path)
			if path == "" {
				path = "/"
			}
			pathType := networkingv1.PathTypeImplementationSpecific
			if p.PathType != nil {
				pathType = *p.PathType
			}
			if p.Backend.Service == nil {
				t.problem(ingressRef(ing), "path %q: only Service backends are supported", path)
				continue
			}
			port := portOf(p.Backend.Service.Port)
			key := strings.Join([]string{ing.Namespace, ing.Name, p.Backend.Service.Name, rule.Host, port.canonical()}, ".")
			m := metas[key]
			if m == nil {
				m = &routeMeta{ing: ing, host: rule.Host, service: p.Backend.Service.Name, port: port}
				metas[key] = m
			}
			m.paths = append(m.paths, kongPaths(path, pathType, regexPrefix)...)
		}
	}
}

// ruleRoute is the Kong route of the paths of one Ingress rule to one
// Service port: KIC's name <namespace>.<ingress>.<service>.<host>.<port>
// ("*" of a wildcard host written "_") and fields.
func (t *translator) ruleRoute(key string, m *routeMeta) map[string]any {
	name := key
	if strings.Contains(m.host, "*") {
		name = strings.Join([]string{m.ing.Namespace, m.ing.Name, m.service, strings.ReplaceAll(m.host, "*", "_"), m.port.canonical()}, ".")
	}
	r := baseRoute(name, m.ing)
	if m.host != "" {
		r["hosts"] = []string{m.host}
	}
	r["paths"] = m.paths
	return r
}

// defaultRoute is the catch-all route of an Ingress's default backend:
// KIC's name <namespace>.<ingress>, path "/".
func (t *translator) defaultRoute(ing *networkingv1.Ingress) map[string]any {
	r := baseRoute(ing.Namespace+"."+ing.Name, ing)
	r["paths"] = []string{"/"}
	return r
}

// baseRoute has the fields KIC gives every Ingress route.
func baseRoute(name string, ing *networkingv1.Ingress) map[string]any {
	return map[string]any{
		"name": name, "strip_path": false, "preserve_host": true, "regex_priority": 0,
		"request_buffering": true, "response_buffering": true,
		"tags": objectTags(ing.Name, ing.Namespace, "Ingress", ing.UID, "networking.k8s.io", "v1", ing.Annotations),
	}
}

// objectTags are KIC's tags naming the Kubernetes object an entity was
// made of, then the object's konghq.com/tags.
func objectTags(name, namespace, kind string, uid types.UID, group, version string, anns map[string]string) []string {
	tags := []string{"k8s-name:" + name, "k8s-namespace:" + namespace, "k8s-kind:" + kind}
	if uid != "" {
		tags = append(tags, "k8s-uid:"+string(uid))
	}
	if group != "" {
		tags = append(tags, "k8s-group:"+group)
	}
	tags = append(tags, "k8s-version:"+version)
	return append(tags, userTags(anns)...)
}

// addRoute adds a route of ing to the Kong service of a Service port,
// making the service, its upstream and endpoints first.
func (t *translator) addRoute(ing *networkingv1.Ingress, service string, port backendPort, route map[string]any) {
	if err := applyRouteAnnotations(route, ing.Annotations); err != nil {
		t.problem(ingressRef(ing), "route %s: %v", route["name"], err)
		return
	}
	name := ing.Namespace + "." + service + "." + port.canonical()
	g := t.groups[name]
	if g == nil {
		g = t.newGroup(name, ing, service, port)
		t.groups[name] = g
	}
	if g.failed {
		return
	}
	g.routes = append(g.routes, groupRoute{route: route, ing: ing})
}

// newGroup makes the Kong service and upstream of a Service port.
func (t *translator) newGroup(name string, ing *networkingv1.Ingress, service string, port backendPort) *group {
	g := &group{name: name, failed: true}
	svc := t.in.services[ing.Namespace+"/"+service]
	if svc == nil {
		t.problem(ingressRef(ing), "Service %s/%s not found", ing.Namespace, service)
		return g
	}
	sp, err := port.find(svc)
	if err != nil {
		t.problem(ingressRef(ing), "backend Service %s/%s: %v", ing.Namespace, service, err)
		return g
	}
	upstreamName := service + "." + ing.Namespace + "." + port.canonical() + ".svc"
	tags := objectTags(svc.Name, svc.Namespace, "Service", svc.UID, "", "v1", svc.Annotations)
	g.svc = svc
	g.service = map[string]any{
		"name": name, "host": upstreamName, "port": int(sp.Port), "protocol": "http", "path": "/",
		"connect_timeout": defaultServiceTimeout, "read_timeout": defaultServiceTimeout,
		"write_timeout": defaultServiceTimeout, "retries": defaultServiceRetries, "tags": tags,
	}
	g.upstream = map[string]any{"name": upstreamName, "tags": tags}
	if err := applyServiceAnnotations(g.service, g.upstream, svc.Annotations); err != nil {
		t.problem(serviceRef(svc), "%v", err)
		return g
	}
	if policy := svc.Annotations[upstreamPolicyAnnotation]; policy != "" {
		switch p := t.in.policies[svc.Namespace+"/"+policy]; {
		case t.in.policies == nil:
			t.problem(serviceRef(svc), "KongUpstreamPolicy %s: the CRD configuration.konghq.com/v1beta1 KongUpstreamPolicy is not installed; using the default upstream settings", policy)
		case p == nil:
			t.problem(serviceRef(svc), "KongUpstreamPolicy %s/%s not found; using the default upstream settings", svc.Namespace, policy)
		default:
			p.Spec.apply(g.upstream)
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		targetPort := int(sp.Port)
		if sp.TargetPort.IntVal != 0 {
			targetPort = int(sp.TargetPort.IntVal)
		}
		g.endpoints = []targets.Endpoint{{Host: svc.Spec.ExternalName, Port: targetPort, Weight: defaultTargetWeight}}
	} else {
		g.endpoints = kubernetes.ServiceEndpoints(t.in.slices[svc.Namespace+"/"+svc.Name], svc.Name, sp.Name, defaultTargetWeight)
	}
	g.failed = false
	return g
}

// build validates each service with its upstream and routes against
// Kong's schemas, leaving out (as problems) what Kong would refuse, and
// returns the entities.
func (t *translator) build() *upstreams.DeclarativeConfig {
	names := make([]string, 0, len(t.groups))
	for name, g := range t.groups {
		if !g.failed {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var services, ups []map[string]any
	for _, name := range names {
		g := t.groups[name]
		if err := validate(g.service, nil, g.upstream); err != nil {
			t.problem(serviceRef(g.svc), "Kong service %s: %v", g.name, err)
			continue
		}
		var routes []map[string]any
		for _, r := range g.routes {
			if err := validate(g.service, []map[string]any{r.route}, g.upstream); err != nil {
				t.problem(ingressRef(r.ing), "route %s: %v", r.route["name"], err)
				continue
			}
			routes = append(routes, r.route)
			t.out.served[types.NamespacedName{Namespace: r.ing.Namespace, Name: r.ing.Name}] = true
		}
		sort.SliceStable(routes, func(i, j int) bool { return routes[i]["name"].(string) < routes[j]["name"].(string) })
		s := copyMap(g.service)
		if len(routes) > 0 {
			s["routes"] = routes
		}
		services = append(services, s)
		ups = append(ups, g.upstream)
		t.out.endpoints[g.upstream["name"].(string)] = g.endpoints
	}
	cfg, err := upstreams.BuildDeclarative(document(services, ups), false)
	if err != nil {
		// each part passed alone: only names shared by two parts can fail
		t.problem(objectRef{}, "the translated configuration was refused: %v", err)
		return &upstreams.DeclarativeConfig{}
	}
	return cfg
}

// validate checks one service with the given routes and its upstream.
func validate(service map[string]any, routes []map[string]any, upstream map[string]any) error {
	s := copyMap(service)
	if len(routes) > 0 {
		s["routes"] = routes
	}
	_, err := upstreams.BuildDeclarative(document([]map[string]any{s}, []map[string]any{upstream}), false)
	return err
}

// document is a Kong declarative document of the services and upstreams,
// in the JSON shapes BuildDeclarative reads.
func document(services, ups []map[string]any) map[string]any {
	doc := map[string]any{"_format_version": upstreams.DeclarativeFormatVersion, "services": services, "upstreams": ups}
	raw, err := json.Marshal(doc)
	if err != nil {
		panic(err) // maps of strings, numbers, booleans and lists only
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
