package testk8s

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// waitTimeout bounds the waits of this file.
const waitTimeout = 30 * time.Second

// NewNamespace creates a namespace named after the test (plus a random
// suffix), so tests sharing the plane do not see each other's objects, and
// deletes it when the test ends.
func (p *Plane) NewNamespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 50 {
		base = base[:50]
	}
	name := fmt.Sprintf("%s-%04x", base, rand.IntN(1<<16))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := p.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return name
}

// Scale sets a Deployment's replicas through its scale subresource, the
// API `kubectl scale` uses, and returns the moment the API accepted it.
func (p *Plane) Scale(t testing.TB, ns, deployment string, replicas int32) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: deployment, Namespace: ns},
		Spec: autoscalingv1.ScaleSpec{Replicas: replicas}}
	if _, err := p.Client.AppsV1().Deployments(ns).UpdateScale(ctx, deployment, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scaling deployment %s/%s to %d: %v", ns, deployment, replicas, err)
	}
	return time.Now()
}

// ReadyPods returns the pods of ns matching labelSelector that are Ready,
// have an IP and are not terminating, sorted by name.
func (p *Plane) ReadyPods(t testing.TB, ns, labelSelector string) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := p.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		t.Fatalf("listing pods of %s (%s): %v", ns, labelSelector, err)
	}
	var ready []corev1.Pod
	for _, pod := range list.Items {
		if pod.DeletionTimestamp == nil && pod.Status.PodIP != "" && podReady(&pod) {
			ready = append(ready, pod)
		}
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	return ready
}

// WaitReadyPods waits (30 s at most) until exactly n pods of ns matching
// labelSelector are ready (see ReadyPods) and returns them.
func (p *Plane) WaitReadyPods(t testing.TB, ns, labelSelector string, n int) []corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		pods := p.ReadyPods(t, ns, labelSelector)
		if len(pods) == n {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ready pods in %s (%s), want %d", len(pods), ns, labelSelector, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// podReady reports the pod's Ready condition.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
