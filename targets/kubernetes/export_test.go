package kubernetes

import (
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// fakeClient serves a source from client-go's fake clientset. It also
// tells the informer (through the embedded clientset) that the fake does
// not support streaming lists.
type fakeClient struct{ *fake.Clientset }

func (f fakeClient) endpointSlices(namespace string) endpointSlices {
	return f.DiscoveryV1().EndpointSlices(namespace)
}

// UseFakeClient makes every kubernetes source provisioned until the test
// ends use c (client-go's fake clientset) instead of connecting to a
// cluster. The informer machinery on top of it is the real one.
func UseFakeClient(t testing.TB, c *fake.Clientset) {
	t.Helper()
	prev := clientFor
	clientFor = func(string) (client, error) { return fakeClient{c}, nil }
	t.Cleanup(func() { clientFor = prev })
}
