package controller

import (
	"context"
	"log/slog"
	"net/netip"
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
	// NodeEviction configures the node lifecycle controller's tainting
	// rates; zero fields are upstream's defaults.
	NodeEviction NodeEviction
	// NodeIPAM configures the node IPAM controller.
	NodeIPAM NodeIPAM
}

// NodeEviction is how fast the node lifecycle controller taints nodes
// NoExecute per zone (upstream's flags of the same names).
type NodeEviction struct {
	// Rate is nodes per second in a healthy zone (--node-eviction-rate,
	// default 0.1).
	Rate float32
	// SecondaryRate is nodes per second in a partially disrupted zone
	// of a large cluster (--secondary-node-eviction-rate, default 0.01).
	SecondaryRate float32
	// UnhealthyZoneThreshold is the share of not-ready nodes that makes a
	// zone partially disrupted (--unhealthy-zone-threshold, default 0.55).
	UnhealthyZoneThreshold float32
	// LargeClusterSizeThreshold is the zone size above which a partially
	// disrupted zone keeps its secondary rate, below which it stops
	// (--large-cluster-size-threshold, default 50).
	LargeClusterSizeThreshold int
}

// NodeIPAM is the node IPAM controller's configuration (upstream's flags
// of the same names).
type NodeIPAM struct {
	// AllocateNodeCIDRs turns the controller on (--allocate-node-cidrs;
	// upstream's default is off, `skiff server` turns it on).
	AllocateNodeCIDRs bool
	// ClusterCIDRs are the ranges node pod CIDRs are cut from
	// (--cluster-cidr): one, or one per IP family.
	ClusterCIDRs []netip.Prefix
	// NodeCIDRMaskSize is the node CIDRs' mask size of a single-stack
	// cluster (--node-cidr-mask-size), NodeCIDRMaskSizeIPv4 and
	// NodeCIDRMaskSizeIPv6 those of a dual-stack one; 0 is the default,
	// 24 for IPv4 and 64 for IPv6.
	NodeCIDRMaskSize, NodeCIDRMaskSizeIPv4, NodeCIDRMaskSizeIPv6 int
}

// Runner is a built controller. Run starts its workers and blocks until
// ctx ends; the manager calls it after the informers have synced, once
// per term of leadership. ShutDown releases it when the process stops.
type Runner interface {
	Run(ctx context.Context, workers int)
	ShutDown()
}

// Init builds one controller from the manager's Context. A nil Runner
// with a nil error means the configuration turns the controller off
// (upstream: node IPAM without --allocate-node-cidrs).
type Init func(Context) (Runner, error)
