package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// PodStartupConfig configures RunPodStartup.
type PodStartupConfig struct {
	// RESTConfig reaches the cluster under test (any cluster: Skiff,
	// kind, k3s...).
	RESTConfig *rest.Config
	// Pods is how many pods are created at once. Default 30.
	Pods int
	// Image is the pods' image; it should already be on the node, so
	// that the figure is the startup of the pod and not a pull.
	Image string
	// Command, when set, replaces the image's entrypoint.
	Command []string
	// Namespace the pods are created in. Default "default".
	Namespace string
	// NodeName, when set, pins the pods to that node (no scheduler).
	NodeName string
	// Timeout bounds the wait for the last pod. Default 2 minutes.
	Timeout time.Duration
	// Progress receives a line per phase; nil discards them.
	Progress io.Writer
}

// PodStartupResults are the figures of one RunPodStartup.
type PodStartupResults struct {
	Pods  int    `json:"pods"`
	Image string `json:"image"`
	// Running is, per pod, the time from the start of its create to the
	// watch event that showed it Running.
	Running Latency `json:"createToRunning"`
	// Elapsed is from the first create to the last pod Running.
	ElapsedMs float64 `json:"elapsedMs"`
}

// WriteTable prints the results for a person.
func (r *PodStartupResults) WriteTable(w io.Writer) error {
	_, err := fmt.Fprintf(w, "pods %d (image %s)\ncreate → Running (watch): p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms\nall %d Running after %.0f ms\n",
		r.Pods, r.Image, r.Running.P50Ms, r.Running.P90Ms, r.Running.P99Ms, r.Running.MaxMs, r.Pods, r.ElapsedMs)
	return err
}

// startupLabel marks the benchmark's pods, for the watch and the
// clean-up.
const startupLabel = "skiff.sh/bench"

// RunPodStartup creates cfg.Pods pods at once and measures, through a
// watch, how long each takes from its create to phase Running; then it
// deletes them and waits until they are gone. This is upstream's pod
// startup SLI (with the image already present).
func RunPodStartup(ctx context.Context, cfg PodStartupConfig) (*PodStartupResults, error) {
	if cfg.RESTConfig == nil || cfg.Image == "" {
		return nil, errors.New("bench pods: a cluster and an image are required")
	}
	if cfg.Pods <= 0 {
		cfg.Pods = 30
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	rc := rest.CopyConfig(cfg.RESTConfig)
	rc.QPS, rc.Burst = -1, 0
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	pods := client.CoreV1().Pods(cfg.Namespace)
	run := fmt.Sprintf("startup-%d", time.Now().UnixNano())
	selector := startupLabel + "=" + run

	w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	defer cleanUpPods(client, cfg, selector)

	grace := int64(1)
	created := make([]time.Time, cfg.Pods)
	var mu sync.Mutex
	errs := make(chan error, cfg.Pods)
	fmt.Fprintf(cfg.Progress, "creating %d pods (image %s)\n", cfg.Pods, cfg.Image)
	first := time.Now()
	for i := range cfg.Pods {
		go func() {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%03d", run, i), Labels: map[string]string{startupLabel: run}},
				Spec: corev1.PodSpec{
					NodeName:                      cfg.NodeName,
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "c", Image: cfg.Image, Command: cfg.Command, ImagePullPolicy: corev1.PullIfNotPresent,
					}},
				},
			}
			mu.Lock()
			created[i] = time.Now()
			mu.Unlock()
			_, err := pods.Create(ctx, pod, metav1.CreateOptions{})
			errs <- err
		}()
	}
	for range cfg.Pods {
		if err := <-errs; err != nil {
			return nil, fmt.Errorf("create: %w", err)
		}
	}

	running := map[string]time.Duration{}
	var last time.Time
	timeout := time.After(cfg.Timeout)
	for len(running) < cfg.Pods {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, fmt.Errorf("%d of %d pods Running after %v", len(running), cfg.Pods, cfg.Timeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, errors.New("the watch ended")
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type == watch.Deleted || pod.Status.Phase != corev1.PodRunning {
				continue
			}
			if _, seen := running[pod.Name]; seen {
				continue
			}
			var i int
			if _, err := fmt.Sscanf(pod.Name[len(run)+1:], "%d", &i); err != nil || i >= cfg.Pods {
				continue
			}
			last = time.Now()
			mu.Lock()
			running[pod.Name] = last.Sub(created[i])
			mu.Unlock()
		}
	}
	lat := make([]time.Duration, 0, len(running))
	for _, d := range running {
		lat = append(lat, d)
	}
	elapsed := last.Sub(first)
	fmt.Fprintf(cfg.Progress, "all %d pods Running after %v; deleting them\n", cfg.Pods, elapsed.Round(time.Millisecond))
	return &PodStartupResults{
		Pods: cfg.Pods, Image: cfg.Image,
		Running:   latency(lat, cfg.Pods, elapsed),
		ElapsedMs: float64(elapsed) / float64(time.Millisecond),
	}, nil
}

// cleanUpPods deletes the benchmark's pods and waits (a minute at most)
// until the kubelet has stopped them and they are gone.
func cleanUpPods(client kubernetes.Interface, cfg PodStartupConfig, selector string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pods := client.CoreV1().Pods(cfg.Namespace)
	if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: selector}); err != nil {
		fmt.Fprintf(cfg.Progress, "deleting the pods: %v\n", err)
		return
	}
	for ctx.Err() == nil {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(list.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Fprintln(cfg.Progress, "some pods were still there a minute after their deletion")
}
