package proxy

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// startingEvent is the event upstream's kube-proxy records on its node
// when it starts (`kubectl describe node` lists it, from kube-proxy). The
// node is referred to by name as its UID, as upstream's kube-proxy and
// kubectl's node describer do.
func startingEvent(nodeName string, now metav1.MicroTime) *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", nodeName, now.UnixNano()), Namespace: metav1.NamespaceDefault},
		EventTime:           now,
		ReportingController: Component,
		ReportingInstance:   Component + "-" + nodeName,
		Action:              "StartKubeProxy",
		Reason:              "Starting",
		Type:                v1.EventTypeNormal,
		Regarding:           v1.ObjectReference{Kind: "Node", Name: nodeName, UID: types.UID(nodeName)},
	}
}

// recordStarting writes the Starting event; events are best effort, so a
// failure is only logged.
func (p *Proxy) recordStarting(ctx context.Context) {
	ev := startingEvent(p.cfg.NodeName, metav1.NewMicroTime(p.cfg.Clock.Now()))
	if _, err := p.cfg.Client.EventsV1().Events(ev.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		p.logger.Warn("could not record the Starting event", "node", p.cfg.NodeName, "err", err)
	}
}
