package testk8s

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kwokNodeAnnotation marks the node kwok plays (value "fake").
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// nodeIP is the fake node's address (its pods' hostIP); nothing dials it.
const nodeIP = "10.244.0.254"

// PodReadyDelayAnnotation on a pod (e.g. "500ms") sets how long the pod
// runs with its IP before it becomes Ready, like a container that starts
// listening and then passes its readiness probe. It is kwok's annotation.
const PodReadyDelayAnnotation = "pod-ready.stage.kwok.x-k8s.io/delay"

// PodDeleteDelayAnnotation on a pod (e.g. "3s") sets how long a deleted
// pod keeps terminating before kwok removes it, like an application that
// drains for that long after SIGTERM. Its endpoint stays in the
// EndpointSlice as ready=false, serving=true, terminating=true meanwhile.
// It is kwok's annotation.
const PodDeleteDelayAnnotation = "pod-delete.stage.kwok.x-k8s.io/delay"

// Delays of pods without those annotations. Set them before the first
// Start to change them.
var (
	PodReadyDelay  = 100 * time.Millisecond
	PodDeleteDelay = time.Second
)

// startingReason is the reason of the Ready condition of a pod between its
// start and its readiness: only such a pod becomes Ready by itself (a pod
// whose readiness a test failed stays unready).
const startingReason = "ContainersStarting"

// The harness's kwok Stages for pods: a bound pod gets its IP and runs,
// not Ready; after its ready delay it becomes Ready; once deleted it goes
// after its delete delay. Each %d is a delay in milliseconds.
const podStages = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: testk8s-pod-start
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "False", reason: ` + startingReason + `, lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "False", reason: ` + startingReason + `, lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: testk8s-pod-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'Exists'
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .reason'
      operator: 'In'
      values: ['` + startingReason + `']
  delay:
    durationMilliseconds: %d
    durationFrom:
      expressionFrom: '.metadata.annotations["` + PodReadyDelayAnnotation + `"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        started: true
        restartCount: 0
        state: {running: {startedAt: {{ $now | Quote }}}}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: testk8s-pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  delay:
    durationMilliseconds: %d
    durationFrom:
      expressionFrom: '.metadata.annotations["` + PodDeleteDelayAnnotation + `"]'
  next:
    delete: true
`

// writeStages writes kwok's configuration: the node Stages the build
// script copied (initialize, heartbeat with lease), kwok's pod-complete
// Stage (for Jobs) and the harness's pod Stages, as one multi-document
// file.
func writeStages(path string) error {
	var docs []string
	for _, name := range stageFiles {
		raw, err := os.ReadFile(filepath.Join(stagesDir(), name))
		if err != nil {
			return err
		}
		docs = append(docs, strings.TrimSpace(string(raw)))
	}
	docs = append(docs, strings.TrimSpace(fmt.Sprintf(podStages, PodReadyDelay.Milliseconds(), PodDeleteDelay.Milliseconds())))
	return os.WriteFile(path, []byte(strings.Join(docs, "\n---\n")+"\n"), 0o600)
}

// createNode registers the node kwok plays, with room for many pods and no
// taints, so the scheduler binds every pod to it.
func (p *Plane) createNode() error {
	room := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        NodeName,
			Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux",
				"kubernetes.io/arch": "amd64", "type": "kwok"},
		},
		Spec:   corev1.NodeSpec{PodCIDR: PodCIDR, PodCIDRs: []string{PodCIDR}},
		Status: corev1.NodeStatus{Allocatable: room, Capacity: room},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	return ignoreExists(err)
}
