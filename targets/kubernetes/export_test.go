package kubernetes

import (
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// UseFakeClient makes every kubernetes source provisioned until the test
// ends use c (client-go's fake clientset) instead of connecting to a
// cluster. The informer machinery on top of it is the real one.
func UseFakeClient(t testing.TB, c *fake.Clientset) {
	t.Helper()
	prev := clientFor
	clientFor = func(string) (client, error) { return c, nil }
	t.Cleanup(func() { clientFor = prev })
}
