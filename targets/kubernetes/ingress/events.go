package ingress

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// eventReason is the reason of the Warning events about objects left out,
// KIC's reason for a translation failure.
const eventReason = "KongConfigurationTranslationFailed"

// reporter tells about the objects a translation left out: a log line and
// a Kubernetes Warning event on the object, once per problem for as long
// as it lasts (a problem that goes away and comes back is told again).
type reporter struct {
	core     rest.Interface
	logger   *zap.Logger
	host     string
	reported map[problem]bool
}

func newReporter(core rest.Interface, logger *zap.Logger) *reporter {
	host, _ := os.Hostname()
	return &reporter{core: core, logger: logger, host: host, reported: map[problem]bool{}}
}

// report logs and records the problems not reported yet.
func (r *reporter) report(ctx context.Context, problems []problem) {
	now := map[problem]bool{}
	for _, p := range problems {
		now[p] = true
		if r.reported[p] {
			continue
		}
		r.logger.Warn("Kubernetes object skipped", zap.String("object", p.object.String()), zap.String("reason", p.reason))
		if p.object.Name != "" {
			if err := r.event(ctx, p); err != nil {
				r.logger.Warn("recording an event failed", zap.String("object", p.object.String()), zap.Error(err))
			}
		}
	}
	r.reported = now
}

// event creates a Warning event on the problem's object.
func (r *reporter) event(ctx context.Context, p problem) error {
	t := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: p.object.Name + ".", Namespace: p.object.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: p.object.Kind, APIVersion: p.object.APIVersion,
			Namespace: p.object.Namespace, Name: p.object.Name, UID: p.object.UID},
		Reason: eventReason, Message: p.reason, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "caddy-upstreams", Host: r.host},
		FirstTimestamp: t, LastTimestamp: t, Count: 1,
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.core.Post().Namespace(p.object.Namespace).Resource("events").Body(ev).Do(ctx).Error()
}
