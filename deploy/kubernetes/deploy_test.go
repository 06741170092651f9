// Package kubernetes_test proves the deployment files valid on a real API
// server (internal/testk8s): the CRD with its schema and CEL rules, the
// IngressClass, the RBAC (exactly the verbs the Ingress controller needs),
// the Deployment and Service, and the seed's echo workload and Ingress.
package kubernetes_test

import (
	"os"
	"strings"
	"testing"

	"github.com/caddy-upstreams/caddy-upstreams/internal/testk8s"
)

func TestMain(m *testing.M) { os.Exit(testk8s.Main(m)) }

// TestDeployFilesApply applies deploy/kubernetes with kustomize as a user
// does (`kubectl apply -k`), then the seed's workload and Ingress.
func TestDeployFilesApply(t *testing.T) {
	p := testk8s.Start(t)
	p.Kubectl(t, "apply", "-k", ".")
	p.Kubectl(t, "wait", "--for=condition=Established", "--timeout=30s", "crd/kongupstreampolicies.configuration.konghq.com")
	if got := p.Kubectl(t, "get", "ingressclass", "kong", "-o", "jsonpath={.spec.controller}"); got != "ingress-controllers.konghq.com/kong" {
		t.Fatalf("IngressClass kong: controller %q", got)
	}
	p.Kubectl(t, "rollout", "status", "-n", "kong", "deployment/caddy-upstreams", "--timeout=30s")
	if got := p.Kubectl(t, "get", "service", "-n", "kong", "kong-proxy", "-o", "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort}"); got != "80:proxy" {
		t.Fatalf("Service kong-proxy ports: %q", got)
	}

	p.Apply(t, "../../testdata/kubernetes/echo.yaml")
	p.Apply(t, "../../testdata/kubernetes/echo-ingress.yaml")
	p.WaitReadyPods(t, "testing", "app=echo", 1)
	if got := p.Kubectl(t, "get", "ingress", "-n", "testing", "echo", "-o", "jsonpath={.spec.ingressClassName} {.spec.rules[0].http.paths[0].path}"); got != "kong /echo" {
		t.Fatalf("Ingress echo: %q", got)
	}
}

// TestRBACGrantsExactlyWhatTheControllerNeeds acts as the ServiceAccount
// of deploy/kubernetes and asks the API server what it may do.
func TestRBACGrantsExactlyWhatTheControllerNeeds(t *testing.T) {
	p := testk8s.Start(t)
	p.Apply(t, "namespace.yaml")
	p.Apply(t, "rbac.yaml")
	p.Apply(t, "crd-kongupstreampolicies.yaml") // can-i on a resource the server does not know answers no
	p.Kubectl(t, "wait", "--for=condition=Established", "--timeout=30s", "crd/kongupstreampolicies.configuration.konghq.com")
	kubeconfig := p.KubeconfigWithToken(t, p.ServiceAccountToken(t, "kong", "caddy-upstreams"))
	for _, tc := range []struct {
		verb, resource string
		allowed        bool
	}{
		{"list", "ingresses.networking.k8s.io", true},
		{"watch", "ingresses.networking.k8s.io", true},
		{"get", "ingresses.networking.k8s.io", true},
		{"patch", "ingresses.networking.k8s.io/status", true},
		{"update", "ingresses.networking.k8s.io/status", true},
		{"watch", "ingressclasses.networking.k8s.io", true},
		{"list", "services", true},
		{"watch", "endpointslices.discovery.k8s.io", true},
		{"list", "kongupstreampolicies.configuration.konghq.com", true},
		{"create", "events", true},
		{"patch", "events", true},
		// nothing more
		{"update", "ingresses.networking.k8s.io", false},
		{"delete", "ingresses.networking.k8s.io", false},
		{"update", "services", false},
		{"list", "secrets", false},
		{"list", "pods", false},
		{"list", "endpoints", false},
		{"update", "kongupstreampolicies.configuration.konghq.com", false},
		{"list", "events", false},
	} {
		args := []string{"--kubeconfig", kubeconfig, "auth", "can-i", tc.verb, tc.resource, "--all-namespaces"}
		if resource, sub, ok := strings.Cut(tc.resource, "/"); ok {
			args[5], args = resource, append(args, "--subresource="+sub) // kubectl names a subresource by flag
		}
		out, err := p.KubectlErr(args...)
		if got := strings.TrimSpace(out) == "yes" && err == nil; got != tc.allowed {
			t.Errorf("can-i %s %s: %q (%v), want allowed=%v", tc.verb, tc.resource, out, err, tc.allowed)
		}
	}
}

// TestKongUpstreamPolicyValidation applies KongUpstreamPolicies with
// server-side dry-run: KIC's valid examples pass, and the schema and CEL
// rules refuse what KIC refuses, with KIC's messages.
func TestKongUpstreamPolicyValidation(t *testing.T) {
	p := testk8s.Start(t)
	p.Apply(t, "crd-kongupstreampolicies.yaml")
	p.Kubectl(t, "wait", "--for=condition=Established", "--timeout=30s", "crd/kongupstreampolicies.configuration.konghq.com")
	ns := p.NewNamespace(t)
	policy := func(spec string) string {
		return "apiVersion: configuration.konghq.com/v1beta1\nkind: KongUpstreamPolicy\nmetadata: {name: p, namespace: " + ns + "}\nspec:\n" + spec
	}
	valid := []string{
		"  algorithm: consistent-hashing\n  hashOn: {header: x-user}\n  hashOnFallback: {input: ip}\n  slots: 100\n",
		"  algorithm: sticky-sessions\n  hashOn: {input: none}\n  stickySessions: {cookie: session}\n",
		"  algorithm: consistent-hashing\n  hashOn: {cookie: c, cookiePath: /}\n",
		`  algorithm: least-connections
  healthchecks:
    threshold: 50
    active:
      type: http
      httpPath: /health
      concurrency: 2
      headers: {x-probe: ["1"]}
      healthy: {interval: 5, successes: 2, httpStatuses: [200, 302]}
      unhealthy: {interval: 5, httpFailures: 3, tcpFailures: 1, timeouts: 2, httpStatuses: [500]}
    passive:
      healthy: {successes: 5}
      unhealthy: {httpFailures: 3}
`,
	}
	for _, spec := range valid {
		if out, err := p.KubectlErr("apply", "--dry-run=server", "-f", writeTemp(t, policy(spec))); err != nil {
			t.Errorf("valid policy refused:\n%s%v", spec, err)
		} else if !strings.Contains(out, "created (server dry run)") {
			t.Errorf("dry run of\n%s: %q", spec, out)
		}
	}
	invalid := []struct{ spec, message string }{
		{"  algorithm: round-robin\n  hashOn: {header: x-user}\n",
			"spec.algorithm must be set to either 'consistent-hashing' or 'sticky-sessions' when spec.hashOn is set."},
		{"  algorithm: consistent-hashing\n  hashOn: {header: a, input: ip}\n",
			"Only one of spec.hashOn.(input|cookie|header|uriCapture|queryArg) can be set."},
		{"  algorithm: consistent-hashing\n  hashOn: {cookie: c}\n",
			"When spec.hashOn.cookie is set, spec.hashOn.cookiePath is required."},
		{"  algorithm: consistent-hashing\n  hashOn: {cookie: c, cookiePath: /}\n  hashOnFallback: {input: ip}\n",
			"spec.hashOnFallback must not be set when spec.hashOn.cookie is set."},
		{"  algorithm: sticky-sessions\n  hashOn: {header: h}\n  stickySessions: {cookie: s}\n",
			"When spec.stickySessions is set, spec.hashOn.input must be set to 'none'"},
		{"  healthchecks:\n    passive:\n      healthy: {interval: 3}\n",
			"spec.healthchecks.passive.healthy.interval must not be set."},
		{"  algorithm: random\n", `Unsupported value: "random"`},
		{"  slots: 5\n", "should be greater than or equal to 10"},
		{"  healthchecks:\n    active:\n      httpPath: health\n", `should match '^/.*$'`},
		{"  healthchecks:\n    active:\n      healthy: {httpStatuses: [99]}\n", "should be greater than or equal to 100"},
	}
	for _, tc := range invalid {
		_, err := p.KubectlErr("apply", "--dry-run=server", "-f", writeTemp(t, policy(tc.spec)))
		if err == nil || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("policy\n%s: %v, want an error with %q", tc.spec, err, tc.message)
		}
	}
}

// writeTemp writes a manifest into a temporary file and returns its path.
func writeTemp(t *testing.T, manifest string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(manifest); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
