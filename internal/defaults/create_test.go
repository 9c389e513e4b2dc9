package defaults

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodStatusOnCreate(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	tests := []struct {
		name string
		// in is defaulted with Default before PodStatusOnCreate runs, as
		// on the create path.
		in   string
		want string
	}{
		{
			name: "status is reset to Pending with the computed QoS class",
			in: `
apiVersion: v1
kind: Pod
metadata: {name: p, generation: 7}
spec:
  containers: [{name: c, image: "nginx:1"}]
status:
  phase: Running
  podIP: 10.0.0.9
  conditions: [{type: Ready, status: "True"}]
`,
			want: `
apiVersion: v1
kind: Pod
metadata: {name: p, generation: 1}
spec:
  containers:
  - name: c
    image: "nginx:1"
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
status: {phase: Pending, qosClass: BestEffort}
`,
		},
		{
			name: "scheduling gates, label keys merged into selectors, AppArmor annotations synced",
			in: `
apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: {app: web, tier: fe}
  annotations:
    container.apparmor.security.beta.kubernetes.io/a: runtime/default
    container.apparmor.security.beta.kubernetes.io/b: localhost/my-profile
    container.apparmor.security.beta.kubernetes.io/c: unconfined
    container.apparmor.security.beta.kubernetes.io/d: runtime/default
    container.apparmor.security.beta.kubernetes.io/e: bogus
spec:
  schedulingGates: [{name: wait}]
  securityContext:
    appArmorProfile: {type: Unconfined}
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: zone
        labelSelector: {matchLabels: {role: cache}}
        matchLabelKeys: [app, absent]
      - topologyKey: zone
        matchLabelKeys: [app]
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        podAffinityTerm:
          topologyKey: host
          labelSelector: {}
          mismatchLabelKeys: [tier]
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: web}}
    matchLabelKeys: [tier]
  containers:
  - {name: a, image: "x:1"}
  - {name: b, image: "x:1"}
  - {name: c, image: "x:1"}
  - name: d
    image: "x:1"
    securityContext: {appArmorProfile: {type: Unconfined}}
  - {name: e, image: "x:1"}
`,
			want: `
apiVersion: v1
kind: Pod
metadata:
  name: p
  generation: 1
  labels: {app: web, tier: fe}
  annotations:
    container.apparmor.security.beta.kubernetes.io/a: runtime/default
    container.apparmor.security.beta.kubernetes.io/b: localhost/my-profile
    container.apparmor.security.beta.kubernetes.io/c: unconfined
    container.apparmor.security.beta.kubernetes.io/d: runtime/default
    container.apparmor.security.beta.kubernetes.io/e: bogus
spec:
  schedulingGates: [{name: wait}]
  securityContext:
    appArmorProfile: {type: Unconfined}
  affinity:
    podAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: zone
        labelSelector:
          matchLabels: {role: cache}
          matchExpressions: [{key: app, operator: In, values: [web]}]
        matchLabelKeys: [app, absent]
      - topologyKey: zone
        matchLabelKeys: [app]
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        podAffinityTerm:
          topologyKey: host
          labelSelector:
            matchExpressions: [{key: tier, operator: NotIn, values: [fe]}]
          mismatchLabelKeys: [tier]
  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector:
      matchLabels: {app: web}
      matchExpressions: [{key: tier, operator: In, values: [fe]}]
    matchLabelKeys: [tier]
  containers:
  - name: a
    image: "x:1"
    securityContext: {appArmorProfile: {type: RuntimeDefault}}
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  - name: b
    image: "x:1"
    securityContext: {appArmorProfile: {type: Localhost, localhostProfile: my-profile}}
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  - name: c
    image: "x:1"
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  - name: d
    image: "x:1"
    securityContext: {appArmorProfile: {type: Unconfined}}
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  - name: e
    image: "x:1"
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  terminationGracePeriodSeconds: 30
status:
  phase: Pending
  qosClass: BestEffort
  conditions:
  - type: PodScheduled
    status: "False"
    reason: SchedulingGated
    message: Scheduling is blocked due to non-empty scheduling gates
    lastTransitionTime: "2026-01-02T03:04:05Z"
`,
		},
		{
			name: "windows pods keep AppArmor annotations only",
			in: `
apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {container.apparmor.security.beta.kubernetes.io/a: runtime/default}
spec:
  os: {name: windows}
  containers: [{name: a, image: "x:1"}]
`,
			want: `
apiVersion: v1
kind: Pod
metadata:
  name: p
  generation: 1
  annotations: {container.apparmor.security.beta.kubernetes.io/a: runtime/default}
spec:
  os: {name: windows}
  containers:
  - name: a
    image: "x:1"
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
status: {phase: Pending, qosClass: BestEffort}
`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decode(t, tc.in).(*corev1.Pod)
			want := decode(t, tc.want)
			Default(got)
			PodStatusOnCreate(got, now)
			if d := diff(want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s\ngot:\n%s", d, toYAML(got))
			}
		})
	}
	PodStatusOnCreate(nil, now) // must not panic
}

func TestPodQOSClass(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want corev1.PodQOSClass
	}{
		{
			name: "nothing requested",
			spec: `{containers: [{name: a}]}`,
			want: corev1.PodQOSBestEffort,
		},
		{
			name: "zero and non-compute quantities do not count",
			spec: `{containers: [{name: a, resources: {requests: {cpu: "0", ephemeral-storage: 1Gi}}}]}`,
			want: corev1.PodQOSBestEffort,
		},
		{
			name: "requests only",
			spec: `{containers: [{name: a, resources: {requests: {cpu: 100m}}}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "cpu and memory limits, requests defaulted to them",
			spec: `{containers: [{name: a, resources: {limits: {cpu: "1", memory: 1Gi}}}]}`,
			want: corev1.PodQOSGuaranteed,
		},
		{
			name: "cpu limit only",
			spec: `{containers: [{name: a, resources: {limits: {cpu: "1"}}}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "requests below limits",
			spec: `{containers: [{name: a, resources: {limits: {cpu: "1", memory: 1Gi}, requests: {cpu: 500m}}}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "one container unconstrained",
			spec: `{containers: [{name: a, resources: {limits: {cpu: "1", memory: 1Gi}}}, {name: b}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "init container counts",
			spec: `{initContainers: [{name: i, resources: {requests: {memory: 1Mi}}}], containers: [{name: a, resources: {limits: {cpu: "1", memory: 1Gi}}}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "pod-level limits decide over containers",
			spec: `{resources: {limits: {cpu: "2", memory: 2Gi}}, containers: [{name: a}, {name: b}]}`,
			want: corev1.PodQOSGuaranteed,
		},
		{
			name: "pod-level requests defaulted from container requests below pod-level limits",
			spec: `{resources: {limits: {cpu: "2", memory: 2Gi}}, containers: [{name: a}, {name: b, resources: {requests: {cpu: 100m}}}]}`,
			want: corev1.PodQOSBurstable,
		},
		{
			name: "pod-level requests only",
			spec: `{resources: {requests: {cpu: "1"}}, containers: [{name: a, resources: {limits: {cpu: "1", memory: 1Gi}}}]}`,
			want: corev1.PodQOSBurstable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			decodeInto(t, tc.spec, &pod.Spec)
			Default(pod)
			PodStatusOnCreate(pod, metav1.Time{})
			if got := pod.Status.QOSClass; got != tc.want {
				t.Errorf("QoS class = %s, want %s\nspec:\n%s", got, tc.want, toYAML(pod.Spec))
			}
		})
	}
	t.Run("a class already in status is kept", func(t *testing.T) {
		pod := &corev1.Pod{Status: corev1.PodStatus{QOSClass: corev1.PodQOSGuaranteed}}
		PodStatusOnCreate(pod, metav1.Time{})
		if pod.Status.QOSClass != corev1.PodQOSGuaranteed {
			t.Errorf("QoS class = %s, want the given Guaranteed", pod.Status.QOSClass)
		}
	})
}

func TestNamespaceOnCreate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "kubernetes finalizer added, phase Active",
			in:   `{metadata: {name: a}}`,
			want: `{metadata: {name: a}, spec: {finalizers: [kubernetes]}, status: {phase: Active}}`,
		},
		{
			name: "appended after other finalizers",
			in:   `{metadata: {name: a}, spec: {finalizers: [example.com/x]}}`,
			want: `{metadata: {name: a}, spec: {finalizers: [example.com/x, kubernetes]}, status: {phase: Active}}`,
		},
		{
			name: "not duplicated; status reset",
			in:   `{metadata: {name: a}, spec: {finalizers: [kubernetes]}, status: {phase: Terminating, conditions: [{type: NamespaceDeletionContentFailure, status: "True"}]}}`,
			want: `{metadata: {name: a}, spec: {finalizers: [kubernetes]}, status: {phase: Active}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got, want corev1.Namespace
			decodeInto(t, tc.in, &got)
			decodeInto(t, tc.want, &want)
			NamespaceOnCreate(&got)
			if d := diff(want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
	NamespaceOnCreate(nil) // must not panic
}

func TestAdmitPodTolerations(t *testing.T) {
	const (
		notReady    = `{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}`
		unreachable = `{key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}`
	)
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "both added, not-ready first",
			in:   `{}`,
			want: `{tolerations: [` + notReady + `, ` + unreachable + `]}`,
		},
		{
			name: "an existing not-ready toleration is kept as is",
			in:   `{tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 60}]}`,
			want: `{tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 60}, ` + unreachable + `]}`,
		},
		{
			name: "a toleration of every taint covers both",
			in:   `{tolerations: [{operator: Exists}]}`,
			want: `{tolerations: [{operator: Exists}]}`,
		},
		{
			name: "a key without effect covers that taint",
			in:   `{tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists}]}`,
			want: `{tolerations: [{key: node.kubernetes.io/unreachable, operator: Exists}, ` + notReady + `]}`,
		},
		{
			name: "another effect does not cover the NoExecute taint",
			in:   `{tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}, {effect: NoSchedule, operator: Exists}]}`,
			want: `{tolerations: [{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoSchedule}, {effect: NoSchedule, operator: Exists}, ` + notReady + `, ` + unreachable + `]}`,
		},
		{
			name: "unrelated tolerations are kept",
			in:   `{tolerations: [{key: gpu, operator: Equal, value: "true", effect: NoSchedule}]}`,
			want: `{tolerations: [{key: gpu, operator: Equal, value: "true", effect: NoSchedule}, ` + notReady + `, ` + unreachable + `]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got, want corev1.Pod
			decodeInto(t, tc.in, &got.Spec)
			decodeInto(t, tc.want, &want.Spec)
			AdmitPodTolerations(&got)
			if d := diff(want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
	AdmitPodTolerations(nil) // must not panic
}

func TestAdmitPodPriority(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{
			name: "no class: priority 0, preempt lower priority",
			in:   `{}`,
			want: `{priority: 0, preemptionPolicy: PreemptLowerPriority}`,
		},
		{
			name: "matching values are accepted",
			in:   `{priority: 0, preemptionPolicy: PreemptLowerPriority}`,
			want: `{priority: 0, preemptionPolicy: PreemptLowerPriority}`,
		},
		{
			name:    "a different priority is refused",
			in:      `{priority: 5}`,
			want:    `{priority: 5}`,
			wantErr: true,
		},
		{
			name:    "a different preemption policy is refused",
			in:      `{preemptionPolicy: Never}`,
			want:    `{preemptionPolicy: Never}`,
			wantErr: true,
		},
		{
			name: "a named class is left for the class lookup",
			in:   `{priorityClassName: high}`,
			want: `{priorityClassName: high}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got, want corev1.Pod
			decodeInto(t, tc.in, &got.Spec)
			decodeInto(t, tc.want, &want.Spec)
			err := AdmitPodPriority(&got)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if d := diff(want, got); d != "" {
				t.Errorf("mismatch (-want +got):\n%s", d)
			}
		})
	}
	if err := AdmitPodPriority(nil); err != nil {
		t.Errorf("nil pod: %v", err)
	}
}
