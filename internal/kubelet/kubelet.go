// Package kubelet is the kubelet above the CRI: it registers its Node and
// keeps its status and Lease fresh, runs the pods bound to it through a
// CRI runtime (containerd, or the simulated runtime of package
// simruntime), probes their containers and reports their status.
//
// The decisions are pure functions, table-tested: computePodActions (what
// to kill, create and start for a pod, given what the CRI runs),
// generatePodStatus (the pod's API status from the CRI's view),
// computeNodeStatus, the back-off and the probe thresholds. Around them:
//
//	pod informer (spec.nodeName=<node>) → one worker per pod:
//	  read the CRI's view → plan → kill / RunPodSandbox / pull / create /
//	  start → status through pods/status → on deletion stop everything,
//	  then confirm it with a DELETE of grace period 0
//	relist every second → wake the workers of pods whose containers
//	  changed; clean up sandboxes of pods the API server does not know
//	probe workers → verdicts → wake the pod's worker
//	node: register, status every 10 s (written on change or every
//	  5 min), Lease renewed every 10 s
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Kubelet is one node's kubelet. Create it with New, then call Run once.
type Kubelet struct {
	cfg    Config
	log    *slog.Logger
	client kubernetes.Interface
	clock  clock.WithTicker

	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster

	informers   informers.SharedInformerFactory
	podInformer toolscache.SharedIndexInformer

	// runtimeName prefixes container IDs; runtimeVersion is the node's
	// containerRuntimeVersion. Both come from the CRI Version call.
	runtimeName    string
	runtimeVersion string
	startTime      time.Time

	crashBackoff *backoff
	imageBackoff *backoff
	// pullErrors holds, by image back-off key, the last pull error for
	// the ImagePullBackOff message.
	pullErrors sync.Map
	prober     *prober
	volumes    *volumeManager
	services   serviceSource

	// clientCA signs the server's clients; stats keeps CPU samples
	// between summaries.
	clientCA []byte
	stats    statsCache

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	synced  atomic.Bool // informer synced and workers created for its pods

	node nodeState

	// ctx is Run's: pod workers started by informer events live in it.
	ctx     context.Context
	started atomic.Bool
	// mirrorWake asks the mirror pod loop for a sync; mirrorDeleted
	// (owned by the loop) holds when it deleted mirror pods.
	mirrorWake    chan struct{}
	mirrorDeleted map[string]time.Time
	ready         atomic.Bool
	wg            sync.WaitGroup
}

// New validates cfg and builds a Kubelet. Nothing talks to the API server
// or the runtime until Run.
func New(cfg Config) (*Kubelet, error) {
	if err := cfg.defaultAndValidate(); err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		rc := rest.CopyConfig(cfg.RESTConfig)
		rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
		if rc.ContentType == "" {
			rc.ContentType = "application/vnd.kubernetes.protobuf"
			rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		}
		rc = rest.AddUserAgent(rc, "skiff-kubelet")
		var err error
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("kubelet: client: %w", err)
		}
	}
	clientCA, err := cfg.clientCA()
	if err != nil {
		return nil, err
	}
	k := &Kubelet{
		clientCA:      clientCA,
		cfg:           cfg,
		log:           cfg.Logger,
		client:        client,
		clock:         cfg.Clock,
		crashBackoff:  newBackoff(cfg.CrashLoopBackOff, cfg.MaxCrashLoopBackOff),
		imageBackoff:  newBackoff(cfg.ImagePullBackOff, cfg.MaxImagePullBackOff),
		workers:       map[types.UID]*podWorker{},
		mirrorWake:    make(chan struct{}, 1),
		mirrorDeleted: map[string]time.Time{},
	}
	k.volumes = newVolumeManager(&k.cfg)
	k.services = newServiceSource(cfg.Services, client)
	k.prober = &prober{
		exec: func(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, error) {
			stdout, stderr, err := cfg.Runtime.ExecSync(ctx, id, cmd, timeout)
			return append(stdout, stderr...), err
		},
		dial: cfg.ProbeDialer,
	}
	k.informers = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	k.podInformer = k.informers.Core().V1().Pods().Informer()
	return k, nil
}

// Ready reports that the node is registered and the kubelet runs the pods
// bound to it.
func (k *Kubelet) Ready() bool { return k.ready.Load() }

// Run registers the node, then runs its pods, status and Lease until ctx
// ends. Containers keep running when it returns: a restarted kubelet
// adopts them. It returns nil after ctx ends, or the error that stopped
// it before it was ready.
func (k *Kubelet) Run(ctx context.Context) error {
	if !k.started.CompareAndSwap(false, true) {
		return errors.New("kubelet: Run may be called only once")
	}
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(k.log.Handler()))
	k.ctx = ctx
	k.startTime = k.clock.Now()
	if err := os.MkdirAll(k.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("kubelet: data dir: %w", err)
	}

	v, err := k.cfg.Runtime.Version(ctx, "v1")
	if err != nil {
		return fmt.Errorf("kubelet: container runtime: %w", err)
	}
	k.runtimeName = v.GetRuntimeName()
	k.runtimeVersion = v.GetRuntimeName() + "://" + v.GetRuntimeVersion()
	if k.cfg.PodCIDR != "" {
		k.setPodCIDR(ctx, k.cfg.PodCIDR)
	}
	if k.cfg.ServerPort != 0 {
		wait, err := k.startServer(ctx)
		if err != nil {
			return err
		}
		defer wait()
	}

	k.broadcaster = k.cfg.EventBroadcaster
	if k.broadcaster == nil {
		k.broadcaster = record.NewBroadcaster(record.WithContext(ctx))
		k.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
		defer k.broadcaster.Shutdown()
	}
	k.recorder = k.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})

	if err := k.registerNode(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	reg, err := k.podInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podUpdated(nil, obj) },
		UpdateFunc: func(old, obj any) { k.podUpdated(old, obj) },
		DeleteFunc: func(obj any) { k.podDeleted(obj) },
	})
	if err != nil {
		return fmt.Errorf("kubelet: pod handler: %w", err)
	}
	k.informers.Start(ctx.Done())
	defer k.informers.Shutdown()
	if k.services.factory != nil {
		k.services.factory.Start(ctx.Done())
		defer k.services.factory.Shutdown()
	}

	k.wg.Add(2)
	go func() { defer k.wg.Done(); k.nodeStatusLoop(ctx) }()
	go func() { defer k.wg.Done(); k.leaseLoop(ctx) }()

	if !toolscache.WaitForCacheSync(ctx.Done(), reg.HasSynced, k.services.synced) {
		k.wg.Wait()
		k.waitWorkers()
		return nil
	}
	k.cleanupOrphanedPodDirs(ctx)
	k.synced.Store(true)
	k.ready.Store(true)
	k.log.Info("kubelet ready", "runtime", k.runtimeVersion)

	k.wg.Add(2)
	go func() { defer k.wg.Done(); k.relistLoop(ctx) }()
	go func() { defer k.wg.Done(); k.mirrorLoop(ctx) }()
	<-ctx.Done()
	k.wg.Wait()
	k.waitWorkers()
	return nil
}

func (k *Kubelet) setPodCIDR(ctx context.Context, cidr string) {
	err := k.cfg.Runtime.UpdateRuntimeConfig(ctx, &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: cidr}})
	if err != nil {
		k.log.Error("could not pass the pod CIDR to the runtime", "podCIDR", cidr, "err", err)
		return
	}
	k.node.mu.Lock()
	k.node.podCIDR = cidr
	k.node.mu.Unlock()
}

// waitWorkers waits for every pod and probe worker to return.
func (k *Kubelet) waitWorkers() {
	k.mu.Lock()
	ws := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		ws = append(ws, w)
	}
	k.mu.Unlock()
	for _, w := range ws {
		<-w.done
	}
}
