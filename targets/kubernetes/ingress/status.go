package ingress

import (
	"context"
	"net"
	"reflect"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
)

// publishStatus writes the address Caddy is reached at to the
// .status.loadBalancer of every Ingress served whose status differs, as
// KIC does, so that `kubectl get ingress` shows it. A failed update is
// logged and tried again at the next change.
func (w *watcher) publishStatus(ctx context.Context, c *Controller, ings []*networkingv1.Ingress, tr translation, logger *zap.Logger) {
	want := w.addresses(c)
	if want == nil {
		return
	}
	for _, ing := range ings {
		if !tr.served[types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}] {
			continue
		}
		if reflect.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
			continue
		}
		next := ing.DeepCopy()
		next.Status.LoadBalancer.Ingress = want
		reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := w.networking.Put().Namespace(ing.Namespace).Resource("ingresses").Name(ing.Name).
			SubResource("status").Body(next).Do(reqCtx).Error()
		cancel()
		if err != nil {
			logger.Warn("updating the Ingress status failed", zap.String("ingress", ing.Namespace+"/"+ing.Name), zap.Error(err))
		}
	}
}

// addresses are the status entries to publish: publish_address, or else
// the publish Service's load-balancer addresses, external IPs or cluster
// IP; nil when there is none (yet).
func (w *watcher) addresses(c *Controller) []networkingv1.IngressLoadBalancerIngress {
	var out []networkingv1.IngressLoadBalancerIngress
	add := func(a string) {
		if net.ParseIP(a) != nil {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: a})
		} else {
			out = append(out, networkingv1.IngressLoadBalancerIngress{Hostname: a})
		}
	}
	for _, a := range c.PublishAddresses {
		add(a)
	}
	if out != nil || w.publish == nil {
		return out
	}
	for _, o := range w.publish.GetStore().List() {
		svc, ok := o.(*corev1.Service)
		if !ok {
			continue
		}
		for _, lb := range svc.Status.LoadBalancer.Ingress {
			out = append(out, networkingv1.IngressLoadBalancerIngress{IP: lb.IP, Hostname: lb.Hostname})
		}
		if out == nil {
			for _, ip := range svc.Spec.ExternalIPs {
				add(ip)
			}
		}
		if out == nil && svc.Spec.ClusterIP != "" && !strings.EqualFold(svc.Spec.ClusterIP, corev1.ClusterIPNone) {
			add(svc.Spec.ClusterIP)
		}
	}
	return out
}
