package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func objectMeta(name string, age time.Duration) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: ago(age)}
}

func ptr[T any](v T) *T { return &v }

func podTemplate(containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}
}

var (
	nginx   = corev1.Container{Name: "nginx", Image: "nginx:1.27"}
	busybox = corev1.Container{Name: "sidecar", Image: "busybox"}
)

func TestNodeCells(t *testing.T) {
	ready := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "cp-1", CreationTimestamp: ago(10 * 24 * time.Hour), Labels: map[string]string{
			"node-role.kubernetes.io/control-plane": "",
			"node-role.kubernetes.io/worker":        "true",
			"kubernetes.io/role":                    "worker",
			"kubernetes.io/hostname":                "cp-1",
		}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "cp-1"},
				{Type: corev1.NodeInternalIP, Address: "192.168.0.10"},
				{Type: corev1.NodeInternalIP, Address: "fd00::10"},
				{Type: corev1.NodeExternalIP, Address: "203.0.113.10"},
			},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: "v1.37.2", OSImage: "Debian GNU/Linux 12 (bookworm)",
				KernelVersion: "6.1.0-18-amd64", Architecture: "amd64", ContainerRuntimeVersion: "containerd://2.1.0",
			},
		},
	}
	notReady := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "w-1", CreationTimestamp: ago(5 * time.Hour), Labels: map[string]string{"kubernetes.io/role": "edge"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.37.0", KernelVersion: "6.8.0"},
		},
	}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}}

	checkCells(t, gr("", "nodes"), []cellsCase{
		{"ready, cordoned, roles", ready, []interface{}{"cp-1", "Ready,SchedulingDisabled", "control-plane,worker", "10d", "v1.37.2",
			"192.168.0.10", "203.0.113.10", "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64 (amd64)", "containerd://2.1.0"}},
		{"not ready, legacy role label", notReady, []interface{}{"w-1", "NotReady", "edge", "5h", "v1.37.0",
			"<none>", "<none>", "<unknown>", "6.8.0", "<unknown>"}},
		{"no status", bare, []interface{}{"new", "Unknown", "<none>", "<unknown>", "",
			"<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
	})
}

func TestServiceCells(t *testing.T) {
	tcp := func(port, nodePort int32) corev1.ServicePort {
		return corev1.ServicePort{Port: port, NodePort: nodePort, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}
	}
	svc := func(name string, typ corev1.ServiceType, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
		s := &corev1.Service{ObjectMeta: objectMeta(name, 3*time.Minute), Spec: corev1.ServiceSpec{Type: typ, Ports: ports}}
		if clusterIP != "" {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = clusterIP, []string{clusterIP}
		}
		return s
	}
	clusterIP := svc("web", corev1.ServiceTypeClusterIP, "10.96.0.10", tcp(80, 0), tcp(443, 0))
	clusterIP.Spec.Selector = map[string]string{"app": "web", "tier": "front"}
	withExternal := svc("web-ext", corev1.ServiceTypeClusterIP, "10.96.0.11", tcp(80, 0))
	withExternal.Spec.ExternalIPs = []string{"198.51.100.1", "198.51.100.2"}
	udp := svc("dns", corev1.ServiceTypeClusterIP, "10.96.0.53", corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP})
	dualStackOnlyIPs := svc("dual", corev1.ServiceTypeClusterIP, "", tcp(80, 0))
	dualStackOnlyIPs.Spec.ClusterIPs = []string{"10.96.0.12", "fd00::12"}
	lb := svc("lb", corev1.ServiceTypeLoadBalancer, "10.96.0.20", tcp(80, 30080))
	lb.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.10"}, {IP: "203.0.113.9"}}
	lb.Spec.ExternalIPs = []string{"198.51.100.7"}

	checkCells(t, gr("", "services"), []cellsCase{
		{"cluster IP", clusterIP, []interface{}{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,443/TCP", "3m", "app=web,tier=front"}},
		{"external IPs", withExternal, []interface{}{"web-ext", "ClusterIP", "10.96.0.11", "198.51.100.1,198.51.100.2", "80/TCP", "3m", "<none>"}},
		{"udp", udp, []interface{}{"dns", "ClusterIP", "10.96.0.53", "<none>", "53/UDP", "3m", "<none>"}},
		{"cluster IPs only", dualStackOnlyIPs, []interface{}{"dual", "ClusterIP", "10.96.0.12", "<none>", "80/TCP", "3m", "<none>"}},
		{"headless", svc("db", corev1.ServiceTypeClusterIP, "None", tcp(5432, 0)), []interface{}{"db", "ClusterIP", "None", "<none>", "5432/TCP", "3m", "<none>"}},
		{"node port", svc("np", corev1.ServiceTypeNodePort, "10.96.0.30", tcp(80, 30080)), []interface{}{"np", "NodePort", "10.96.0.30", "<none>", "80:30080/TCP", "3m", "<none>"}},
		{"load balancer pending", svc("lbp", corev1.ServiceTypeLoadBalancer, "10.96.0.21", tcp(80, 31000)), []interface{}{"lbp", "LoadBalancer", "10.96.0.21", "<pending>", "80:31000/TCP", "3m", "<none>"}},
		{"load balancer, unclipped", lb, []interface{}{"lb", "LoadBalancer", "10.96.0.20", "203.0.113.10,203.0.113.9,lb.example.com,198.51.100.7", "80:30080/TCP", "3m", "<none>"}},
		{"external name", &corev1.Service{ObjectMeta: objectMeta("db-ext", 3*time.Minute), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
			[]interface{}{"db-ext", "ExternalName", "<none>", "db.example.com", "<none>", "3m", "<none>"}},
		{"no type", svc("odd", "", "10.96.0.40"), []interface{}{"odd", "", "10.96.0.40", "<unknown>", "<none>", "3m", "<none>"}},
	})
}

func TestCoreCells(t *testing.T) {
	age := 45 * time.Second
	checkCells(t, gr("", "namespaces"), []cellsCase{
		{"active", &corev1.Namespace{ObjectMeta: objectMeta("kube-system", age), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}},
			[]interface{}{"kube-system", "Active", "45s"}},
		{"terminating", &corev1.Namespace{ObjectMeta: objectMeta("old", age), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			[]interface{}{"old", "Terminating", "45s"}},
	})
	checkCells(t, gr("", "configmaps"), []cellsCase{
		{"text and binary", &corev1.ConfigMap{ObjectMeta: objectMeta("cfg", age), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {0}}},
			[]interface{}{"cfg", int64(3), "45s"}},
		{"empty", &corev1.ConfigMap{ObjectMeta: objectMeta("kube-root-ca.crt", age)}, []interface{}{"kube-root-ca.crt", int64(0), "45s"}},
	})
	checkCells(t, gr("", "secrets"), []cellsCase{
		{"tls", &corev1.Secret{ObjectMeta: objectMeta("tls", age), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			[]interface{}{"tls", "kubernetes.io/tls", int64(2), "45s"}},
		{"string data merged", &corev1.Secret{ObjectMeta: objectMeta("s", age), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": nil}, StringData: map[string]string{"a": "x", "b": "y"}},
			[]interface{}{"s", "Opaque", int64(2), "45s"}},
	})
	checkCells(t, gr("", "serviceaccounts"), []cellsCase{
		{"default", &corev1.ServiceAccount{ObjectMeta: objectMeta("default", age)}, []interface{}{"default", int64(0), "45s"}},
		{"with secrets", &corev1.ServiceAccount{ObjectMeta: objectMeta("ci", age), Secrets: []corev1.ObjectReference{{Name: "a"}, {Name: "b"}}},
			[]interface{}{"ci", int64(2), "45s"}},
	})
	checkCells(t, gr("", "podtemplates"), []cellsCase{
		{"two containers", &corev1.PodTemplate{ObjectMeta: objectMeta("tmpl", age), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{nginx, busybox}},
		}}, []interface{}{"tmpl", "nginx,sidecar", "nginx:1.27,busybox", "app=web"}},
		{"empty", &corev1.PodTemplate{ObjectMeta: objectMeta("none", age)}, []interface{}{"none", "", "", "<none>"}},
	})

	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	checkCells(t, gr("", "resourcequotas"), []cellsCase{
		{"requests and limits", &corev1.ResourceQuota{ObjectMeta: objectMeta("quota", age), Status: corev1.ResourceQuotaStatus{
			Hard: corev1.ResourceList{"pods": q("10"), "requests.cpu": q("1"), "limits.memory": q("2Gi"), "limits.cpu": q("2"), "requests.memory": q("1024Mi")},
			Used: corev1.ResourceList{"pods": q("3"), "requests.cpu": q("500m"), "limits.cpu": q("1"), "requests.memory": q("512Mi")},
		}}, []interface{}{"quota", "pods: 3/10, requests.cpu: 500m/1, requests.memory: 512Mi/1Gi", "limits.cpu: 1/2, limits.memory: 0/2Gi", "45s"}},
		{"no status", &corev1.ResourceQuota{ObjectMeta: objectMeta("empty", age)}, []interface{}{"empty", "", "", "45s"}},
	})

	checkCells(t, gr("", "endpoints"), []cellsCase{
		{"no subsets", &corev1.Endpoints{ObjectMeta: objectMeta("none", age)}, []interface{}{"none", "<none>", "45s"}},
		{"ports and addresses", &corev1.Endpoints{ObjectMeta: objectMeta("web", age), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.0.1"}, {IP: "10.244.0.2"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 80}, {Name: "https", Port: 443}},
		}}}, []interface{}{"web", "10.244.0.1:80,10.244.0.2:80,10.244.0.1:443 + 1 more...", "45s"}},
		{"headless without ports, IPv6", &corev1.Endpoints{ObjectMeta: objectMeta("h", age), Subsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.1"}}},
			{Addresses: []corev1.EndpointAddress{{IP: "fd00::1"}}, Ports: []corev1.EndpointPort{{Port: 53}}},
		}}, []interface{}{"h", "10.244.0.1,[fd00::1]:53", "45s"}},
		{"subset without addresses", &corev1.Endpoints{ObjectMeta: objectMeta("e", age), Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}},
			[]interface{}{"e", "", "45s"}},
	})
}

func TestEventCells(t *testing.T) {
	backOff := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.17c3d6f1a2b3c4d5", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default", FieldPath: "spec.containers{nginx}"},
		Reason:         "BackOff",
		Message:        "  Back-off restarting failed container nginx\n",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: ago(10 * time.Minute),
		LastTimestamp:  ago(2 * time.Minute),
		Count:          5,
		Type:           corev1.EventTypeWarning,
	}
	scheduled := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-1.17c3d6f1a2b3c4d6"},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
		Reason:              "Scheduled",
		Message:             "Successfully assigned default/web-1 to node-1",
		EventTime:           metav1.MicroTime{Time: now.Add(-30 * time.Second)},
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-cp-1",
		Type:                corev1.EventTypeNormal,
	}
	series := scheduled.DeepCopy()
	series.Series = &corev1.EventSeries{Count: 4, LastObservedTime: metav1.MicroTime{Time: now.Add(-15 * time.Second)}}
	series.Source = corev1.EventSource{Component: "kubelet"}
	nodeEvent := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "n"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node"},
		Reason:         "RegisteredNode",
		FirstTimestamp: ago(time.Hour),
		Count:          1,
		Type:           corev1.EventTypeNormal,
	}
	noTime := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "x"}}

	checkCells(t, gr("", "events"), []cellsCase{
		{"back-off", backOff, []interface{}{"2m", "Warning", "BackOff", "pod/web-1", "spec.containers{nginx}", "kubelet, node-1",
			"Back-off restarting failed container nginx", "10m", int64(5), "web-1.17c3d6f1a2b3c4d5"}},
		{"new-API singleton", scheduled, []interface{}{"30s", "Normal", "Scheduled", "pod/web-1", "", "default-scheduler, default-scheduler-cp-1",
			"Successfully assigned default/web-1 to node-1", "30s", int64(1), "web-1.17c3d6f1a2b3c4d6"}},
		{"series", series, []interface{}{"15s", "Normal", "Scheduled", "pod/web-1", "", "kubelet, default-scheduler-cp-1",
			"Successfully assigned default/web-1 to node-1", "30s", int64(4), "web-1.17c3d6f1a2b3c4d6"}},
		{"unnamed object, no last timestamp", nodeEvent, []interface{}{"60m", "Normal", "RegisteredNode", "node", "", "", "", "60m", int64(1), "n"}},
		{"no times", noTime, []interface{}{"<unknown>", "", "", "", "", "", "", "<unknown>", int64(1), "x"}},
	})

	// The same events as events.k8s.io/v1 objects print the same rows.
	checkCells(t, gr("events.k8s.io", "events"), []cellsCase{
		{"back-off", &eventsv1.Event{
			ObjectMeta:               backOff.ObjectMeta,
			Regarding:                backOff.InvolvedObject,
			Reason:                   backOff.Reason,
			Note:                     backOff.Message,
			DeprecatedSource:         backOff.Source,
			DeprecatedFirstTimestamp: backOff.FirstTimestamp,
			DeprecatedLastTimestamp:  backOff.LastTimestamp,
			DeprecatedCount:          backOff.Count,
			Type:                     backOff.Type,
		}, []interface{}{"2m", "Warning", "BackOff", "pod/web-1", "spec.containers{nginx}", "kubelet, node-1",
			"Back-off restarting failed container nginx", "10m", int64(5), "web-1.17c3d6f1a2b3c4d5"}},
		{"series", &eventsv1.Event{
			ObjectMeta:          series.ObjectMeta,
			Regarding:           series.InvolvedObject,
			Reason:              series.Reason,
			Note:                series.Message,
			EventTime:           series.EventTime,
			Series:              &eventsv1.EventSeries{Count: 4, LastObservedTime: series.Series.LastObservedTime},
			ReportingController: series.ReportingController,
			ReportingInstance:   series.ReportingInstance,
			DeprecatedSource:    series.Source,
			Type:                series.Type,
		}, []interface{}{"15s", "Normal", "Scheduled", "pod/web-1", "", "kubelet, default-scheduler-cp-1",
			"Successfully assigned default/web-1 to node-1", "30s", int64(4), "web-1.17c3d6f1a2b3c4d6"}},
	})
}

func TestAppsCells(t *testing.T) {
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "env", Operator: metav1.LabelSelectorOpIn, Values: []string{"prod", "canary"}},
	}}
	checkCells(t, gr("apps", "deployments"), []cellsCase{
		{"rolling", &appsv1.Deployment{
			ObjectMeta: objectMeta("web", 26*time.Hour),
			Spec:       appsv1.DeploymentSpec{Replicas: ptr(int32(3)), Selector: selector, Template: podTemplate(nginx, busybox)},
			Status:     appsv1.DeploymentStatus{Replicas: 4, ReadyReplicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2},
		}, []interface{}{"web", "2/3", int64(1), int64(2), "26h", "nginx,sidecar", "nginx:1.27,busybox", "app=web,env in (canary,prod)"}},
		{"no selector, no replicas", &appsv1.Deployment{ObjectMeta: objectMeta("bare", 0)},
			[]interface{}{"bare", "0/0", int64(0), int64(0), "0s", "", "", ""}},
		{"invalid selector", &appsv1.Deployment{ObjectMeta: objectMeta("bad", 0), Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Sometimes"}},
		}}}, []interface{}{"bad", "0/0", int64(0), int64(0), "0s", "", "", "<invalid>"}},
	})
	checkCells(t, gr("apps", "replicasets"), []cellsCase{
		{"scaled", &appsv1.ReplicaSet{
			ObjectMeta: objectMeta("web-7d4b9c6f5", 7*time.Minute+30*time.Second),
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr(int32(3)), Selector: selector, Template: podTemplate(nginx)},
			Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
		}, []interface{}{"web-7d4b9c6f5", int64(3), int64(3), int64(1), "7m30s", "nginx", "nginx:1.27", "app=web,env in (canary,prod)"}},
		{"no selector", &appsv1.ReplicaSet{ObjectMeta: objectMeta("bare", 0)},
			[]interface{}{"bare", int64(0), int64(0), int64(0), "0s", "", "", "<none>"}},
	})
	checkCells(t, gr("apps", "daemonsets"), []cellsCase{
		{"on linux nodes", &appsv1.DaemonSet{
			ObjectMeta: objectMeta("fluentd", 400*24*time.Hour),
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "fluentd"}},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers:   []corev1.Container{{Name: "fluentd", Image: "fluentd:v1"}},
					NodeSelector: map[string]string{"kubernetes.io/os": "linux"},
				}},
			},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2},
		}, []interface{}{"fluentd", int64(3), int64(3), int64(2), int64(1), int64(2), "kubernetes.io/os=linux", "400d", "fluentd", "fluentd:v1", "app=fluentd"}},
		{"no node selector", &appsv1.DaemonSet{ObjectMeta: objectMeta("ds", time.Minute)},
			[]interface{}{"ds", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "60s", "", "", "<none>"}},
	})
	checkCells(t, gr("apps", "statefulsets"), []cellsCase{
		{"partly ready", &appsv1.StatefulSet{
			ObjectMeta: objectMeta("db", 3*365*24*time.Hour),
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(3)), Template: podTemplate(corev1.Container{Name: "postgres", Image: "postgres:17"})},
			Status:     appsv1.StatefulSetStatus{ReadyReplicas: 1},
		}, []interface{}{"db", "1/3", "3y", "postgres", "postgres:17"}},
	})
	owned := func(apiVersion, kind, name string, controller bool) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-5d8f9", CreationTimestamp: ago(time.Hour), OwnerReferences: []metav1.OwnerReference{
				{APIVersion: apiVersion, Kind: kind, Name: name, Controller: &controller},
			}},
			Revision: 2,
		}
	}
	checkCells(t, gr("apps", "controllerrevisions"), []cellsCase{
		{"daemon set", owned("apps/v1", "DaemonSet", "fluentd", true), []interface{}{"fluentd-5d8f9", "daemonset.apps/fluentd", int64(2), "60m"}},
		{"core group", owned("v1", "Pod", "p", true), []interface{}{"p-5d8f9", "pod/p", int64(2), "60m"}},
		{"owner that does not control", owned("apps/v1", "StatefulSet", "db", false), []interface{}{"db-5d8f9", "<none>", int64(2), "60m"}},
	})
	if _, err := New().Lookup(gr("apps", "controllerrevisions")).Cells(owned("a/b/c", "X", "x", true), now); err == nil {
		t.Error("controller revision with an unparsable owner API version: want an error")
	}
}

func TestBatchCells(t *testing.T) {
	cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue}
	}
	job := func(name string, completions, parallelism *int32, st batchv1.JobStatus) *batchv1.Job {
		return &batchv1.Job{
			ObjectMeta: objectMeta(name, 20*time.Minute),
			Spec: batchv1.JobSpec{
				Completions: completions, Parallelism: parallelism,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "abc"}},
				Template: podTemplate(corev1.Container{Name: "pi", Image: "perl:5.34"}),
			},
			Status: st,
		}
	}
	deleting := job("del", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuspended)}})
	deleting.DeletionTimestamp = agoPtr(time.Second)
	tail := []interface{}{"20m", "pi", "perl:5.34", "batch.kubernetes.io/controller-uid=abc"}
	row := func(cells ...interface{}) []interface{} { return append(cells, tail...) }

	checkCells(t, gr("batch", "jobs"), []cellsCase{
		{"complete", job("pi", ptr(int32(1)), ptr(int32(1)), batchv1.JobStatus{
			Succeeded: 1, StartTime: agoPtr(10 * time.Minute), CompletionTime: agoPtr(9 * time.Minute),
			Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)},
		}), row("pi", "Complete", "1/1", "60s")},
		{"running, parallel", job("par", nil, ptr(int32(3)), batchv1.JobStatus{StartTime: agoPtr(90 * time.Second)}),
			row("par", "Running", "0/1 of 3", "90s")},
		{"not started", job("new", nil, nil, batchv1.JobStatus{}), row("new", "Running", "0/1", "")},
		{"failed", job("f", ptr(int32(5)), nil, batchv1.JobStatus{Succeeded: 2, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(50 * time.Minute),
			Conditions: []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}}), row("f", "Failed", "2/5", "10m")},
		{"terminating before suspended", deleting, row("del", "Terminating", "0/1", "")},
		{"suspended", job("s", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobSuspended)}}), row("s", "Suspended", "0/1", "")},
		{"failure target", job("ft", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: []batchv1.JobCondition{cond(batchv1.JobFailureTarget)}}), row("ft", "FailureTarget", "0/1", "")},
		{"success criteria met", job("sc", ptr(int32(1)), nil, batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet)}}), row("sc", "SuccessCriteriaMet", "1/1", "")},
		{"false condition", job("fc", ptr(int32(1)), nil, batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionFalse}}}), row("fc", "Running", "0/1", "")},
	})

	cron := &batchv1.CronJob{
		ObjectMeta: objectMeta("backup", 20*time.Minute),
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *", TimeZone: ptr("Etc/UTC"), Suspend: ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate(corev1.Container{Name: "backup", Image: "restic:0.17"})}},
		},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "backup-1"}}, LastScheduleTime: agoPtr(3 * time.Minute)},
	}
	checkCells(t, gr("batch", "cronjobs"), []cellsCase{
		{"scheduled", cron, []interface{}{"backup", "*/5 * * * *", "Etc/UTC", "False", int64(1), "3m", "20m", "backup", "restic:0.17", "<none>"}},
		{"never scheduled", &batchv1.CronJob{ObjectMeta: objectMeta("new", time.Minute), Spec: batchv1.CronJobSpec{Schedule: "@daily", Suspend: ptr(true)}},
			[]interface{}{"new", "@daily", "<none>", "True", int64(0), "<none>", "60s", "", "", "<none>"}},
		{"suspend unset", &batchv1.CronJob{ObjectMeta: objectMeta("u", time.Minute), Spec: batchv1.CronJobSpec{Schedule: "@hourly"}},
			[]interface{}{"u", "@hourly", "<none>", "<unset>", int64(0), "<none>", "60s", "", "", "<none>"}},
	})
}

func TestHorizontalPodAutoscalerCells(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	cpu := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))},
	}}
	cpuNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr(int32(40)), AverageValue: q("120m")},
	}}
	memory := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("500Mi")},
	}}
	memoryNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: q("200Mi")},
	}}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("10")},
	}}
	external := autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "queue"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("1k")},
	}}
	object := autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "hits"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: q("5")},
	}}
	objectNow := autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{}}
	container := autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
		Name: corev1.ResourceCPU, Container: "app", Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType},
	}}

	hpa := func(name string, min *int32, specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: objectMeta(name, 8*24*time.Hour+time.Hour),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
				MinReplicas:    min, MaxReplicas: 10, Metrics: specs,
			},
			Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: statuses},
		}
	}
	row := func(name, targets, min string) []interface{} {
		return []interface{}{name, "Deployment/web", targets, min, int64(10), int64(3), "8d"}
	}
	checkCells(t, gr("autoscaling", "horizontalpodautoscalers"), []cellsCase{
		{"cpu", hpa("cpu", ptr(int32(1)), []autoscalingv2.MetricSpec{cpu}, []autoscalingv2.MetricStatus{cpuNow}), row("cpu", "cpu: 40%/80%", "1")},
		{"cpu unknown", hpa("cpu0", ptr(int32(2)), []autoscalingv2.MetricSpec{cpu}, nil), row("cpu0", "cpu: <unknown>/80%", "2")},
		{"three metrics", hpa("three", nil, []autoscalingv2.MetricSpec{cpu, memory, pods}, []autoscalingv2.MetricStatus{cpuNow, memoryNow}),
			row("three", "cpu: 40%/80%, memory: 200Mi/500Mi + 1 more...", "<unset>")},
		{"pods and external", hpa("pe", nil, []autoscalingv2.MetricSpec{pods, external}, nil), row("pe", "<unknown>/10, <unknown>/1k (avg)", "<unset>")},
		{"object value, status without one", hpa("obj", nil, []autoscalingv2.MetricSpec{object, container}, []autoscalingv2.MetricStatus{objectNow}),
			row("obj", "<nil>/5, cpu: <unknown>/<auto>", "<unset>")},
		{"no metrics", hpa("none", nil, nil, nil), row("none", "<none>", "<unset>")},
		{"unknown type", hpa("odd", nil, []autoscalingv2.MetricSpec{{Type: "Weather"}}, nil), row("odd", "<unknown type>", "<unset>")},
	})
}

func TestOtherCells(t *testing.T) {
	checkCells(t, gr("scheduling.k8s.io", "priorityclasses"), []cellsCase{
		{"system", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical", CreationTimestamp: ago(time.Hour)},
			Value: 2000001000, PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
			[]interface{}{"system-node-critical", int64(2000001000), false, "60m", "PreemptLowerPriority"}},
		{"global default, no policy", &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "low", CreationTimestamp: ago(time.Hour)}, Value: -5, GlobalDefault: true},
			[]interface{}{"low", int64(-5), true, "60m", ""}},
	})
	checkCells(t, gr("coordination.k8s.io", "leases"), []cellsCase{
		{"held", &coordinationv1.Lease{ObjectMeta: objectMeta("kube-scheduler", time.Hour), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("cp-1_4f1c")}},
			[]interface{}{"kube-scheduler", "cp-1_4f1c", "60m"}},
		{"free", &coordinationv1.Lease{ObjectMeta: objectMeta("free", time.Hour)}, []interface{}{"free", "", "60m"}},
	})
	checkCells(t, gr("discovery.k8s.io", "endpointslices"), []cellsCase{
		{"ports and endpoints", &discoveryv1.EndpointSlice{
			ObjectMeta:  objectMeta("web-abcde", time.Hour),
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(80))}, {Name: ptr("metrics")}, {}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.244.0.1"}}, {Addresses: []string{"10.244.0.2", "10.244.0.3"}}, {Addresses: []string{"10.244.0.4"}},
			},
		}, []interface{}{"web-abcde", "IPv4", "80,metrics,*", "10.244.0.1,10.244.0.2,10.244.0.3 + 1 more...", "60m"}},
		{"empty", &discoveryv1.EndpointSlice{ObjectMeta: objectMeta("e", time.Hour), AddressType: discoveryv1.AddressTypeIPv6},
			[]interface{}{"e", "IPv6", "<unset>", "<unset>", "60m"}},
		{"four ports", &discoveryv1.EndpointSlice{ObjectMeta: objectMeta("p", time.Hour), AddressType: discoveryv1.AddressTypeFQDN,
			Ports: []discoveryv1.EndpointPort{{Port: ptr(int32(1))}, {Port: ptr(int32(2))}, {Port: ptr(int32(3))}, {Port: ptr(int32(4))}}},
			[]interface{}{"p", "FQDN", "1,2,3 + 1 more...", "<unset>", "60m"}},
	})
}
