package testk8s

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubeconfig renders a kubeconfig for the API server: with the admin
// client certificate when token is empty, else with the bearer token.
func (p *Plane) kubeconfig(token string) []byte {
	user := "    client-certificate-data: " + b64(p.pki.adminCertPEM) + "\n    client-key-data: " + b64(p.pki.adminKeyPEM) + "\n"
	if token != "" {
		user = "    token: " + token + "\n"
	}
	return []byte(`apiVersion: v1
kind: Config
clusters:
- name: testk8s
  cluster:
    server: ` + APIServerURL + `
    certificate-authority-data: ` + b64(p.pki.caPEM) + `
users:
- name: testk8s
  user:
` + user + `contexts:
- name: testk8s
  context:
    cluster: testk8s
    user: testk8s
current-context: testk8s
`)
}

// KubeconfigWithToken writes a kubeconfig that authenticates with a bearer
// token (a ServiceAccount's, see ServiceAccountToken, or a wrong one) and
// returns its path.
func (p *Plane) KubeconfigWithToken(t testing.TB, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, p.kubeconfig(token), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ServiceAccountToken returns a token of a ServiceAccount (TokenRequest
// API, valid for an hour), to act as it with KubeconfigWithToken.
func (p *Plane) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hour := int64(3600)
	tr, err := p.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of ServiceAccount %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// b64 encodes bytes for a kubeconfig's *-data fields.
func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
