package controller

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Context is what the controller manager hands every controller it
// starts: one client, one shared informer factory, events, time, logs.
type Context struct {
	// Client reaches the API server.
	Client kubernetes.Interface
	// Dynamic reaches any served resource (the namespace controller
	// deletes every kind, the garbage collector watches every kind).
	Dynamic dynamic.Interface
	// Informers is the process's one shared informer factory; a
	// controller asks it for informers while it is built, the manager
	// starts it afterwards.
	Informers informers.SharedInformerFactory
	// Recorder returns an event recorder whose events carry source
	// component (upstream: "<name>-controller").
	Recorder func(component string) record.EventRecorder
	// Clock is the controllers' time.
	Clock clock.WithTicker
	// Logger receives the controllers' logs.
	Logger *slog.Logger
	// NodeMonitorGracePeriod is how long a node's kubelet may be silent
	// before the node lifecycle controller calls it unreachable (upstream's
	// --node-monitor-grace-period); 0 is upstream's 50 s.
	NodeMonitorGracePeriod time.Duration
	// HPASyncPeriod is how often the horizontal pod autoscaler looks at
	// each autoscaler (upstream's --horizontal-pod-autoscaler-sync-period);
	// 0 is upstream's 15 s.
	HPASyncPeriod time.Duration
}

// Runner is a built controller. Run starts its workers and blocks until
// ctx ends; the manager calls it after the informers have synced, once
// per term of leadership. ShutDown releases it when the process stops.
type Runner interface {
	Run(ctx context.Context, workers int)
	ShutDown()
}

// Init builds one controller from the manager's Context.
type Init func(Context) (Runner, error)
