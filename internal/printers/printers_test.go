package printers

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the fixed instant every test measures ages to.
var now = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

// ago is the metav1.Time d before now.
func ago(d time.Duration) metav1.Time { return metav1.Time{Time: now.Add(-d)} }

// agoPtr is ago as a pointer.
func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func gr(group, resource string) schema.GroupResource {
	return schema.GroupResource{Group: group, Resource: resource}
}

// header is what kubectl prints above a column: its name in upper case with
// spaces kept.
func header(c metav1.TableColumnDefinition) string { return strings.ToUpper(c.Name) }

// TestColumns checks each resource's headers, with -o wide and without, as
// kubectl get prints them upstream.
func TestColumns(t *testing.T) {
	tests := []struct {
		resource schema.GroupResource
		normal   string // the priority-0 headers, "|"-separated
		wide     string // the priority-1 headers, "|"-separated
	}{
		{gr("", "pods"), "NAME|READY|STATUS|RESTARTS|AGE", "IP|NODE|NOMINATED NODE|READINESS GATES"},
		{gr("", "nodes"), "NAME|STATUS|ROLES|AGE|VERSION", "INTERNAL-IP|EXTERNAL-IP|OS-IMAGE|KERNEL-VERSION|CONTAINER-RUNTIME"},
		{gr("", "namespaces"), "NAME|STATUS|AGE", ""},
		{gr("", "services"), "NAME|TYPE|CLUSTER-IP|EXTERNAL-IP|PORT(S)|AGE", "SELECTOR"},
		{gr("", "endpoints"), "NAME|ENDPOINTS|AGE", ""},
		{gr("", "configmaps"), "NAME|DATA|AGE", ""},
		{gr("", "secrets"), "NAME|TYPE|DATA|AGE", ""},
		{gr("", "serviceaccounts"), "NAME|SECRETS|AGE", ""},
		{gr("", "events"), "LAST SEEN|TYPE|REASON|OBJECT|MESSAGE", "SUBOBJECT|SOURCE|FIRST SEEN|COUNT|NAME"},
		{gr("", "resourcequotas"), "NAME|REQUEST|LIMIT|AGE", ""},
		{gr("", "limitranges"), "NAME|CREATED AT", ""},
		{gr("", "podtemplates"), "NAME|CONTAINERS|IMAGES|POD LABELS", ""},
		{gr("apps", "deployments"), "NAME|READY|UP-TO-DATE|AVAILABLE|AGE", "CONTAINERS|IMAGES|SELECTOR"},
		{gr("apps", "replicasets"), "NAME|DESIRED|CURRENT|READY|AGE", "CONTAINERS|IMAGES|SELECTOR"},
		{gr("apps", "daemonsets"), "NAME|DESIRED|CURRENT|READY|UP-TO-DATE|AVAILABLE|NODE SELECTOR|AGE", "CONTAINERS|IMAGES|SELECTOR"},
		{gr("apps", "statefulsets"), "NAME|READY|AGE", "CONTAINERS|IMAGES"},
		{gr("apps", "controllerrevisions"), "NAME|CONTROLLER|REVISION|AGE", ""},
		{gr("batch", "jobs"), "NAME|STATUS|COMPLETIONS|DURATION|AGE", "CONTAINERS|IMAGES|SELECTOR"},
		{gr("batch", "cronjobs"), "NAME|SCHEDULE|TIMEZONE|SUSPEND|ACTIVE|LAST SCHEDULE|AGE", "CONTAINERS|IMAGES|SELECTOR"},
		{gr("autoscaling", "horizontalpodautoscalers"), "NAME|REFERENCE|TARGETS|MINPODS|MAXPODS|REPLICAS|AGE", ""},
		{gr("scheduling.k8s.io", "priorityclasses"), "NAME|VALUE|GLOBAL-DEFAULT|AGE|PREEMPTIONPOLICY", ""},
		{gr("coordination.k8s.io", "leases"), "NAME|HOLDER|AGE", ""},
		{gr("networking.k8s.io", "networkpolicies"), "NAME|POD-SELECTOR|AGE", ""},
		{gr("discovery.k8s.io", "endpointslices"), "NAME|ADDRESSTYPE|PORTS|ENDPOINTS|AGE", ""},
		{gr("events.k8s.io", "events"), "LAST SEEN|TYPE|REASON|OBJECT|MESSAGE", "SUBOBJECT|SOURCE|FIRST SEEN|COUNT|NAME"},
		{gr("rbac.authorization.k8s.io", "roles"), "NAME|CREATED AT", ""},
	}
	r := New()
	for _, tt := range tests {
		t.Run(tt.resource.String(), func(t *testing.T) {
			var normal, wide []string
			for _, c := range r.Lookup(tt.resource).Columns() {
				switch c.Priority {
				case 0:
					normal = append(normal, header(c))
				case 1:
					wide = append(wide, header(c))
				default:
					t.Errorf("column %q has priority %d", c.Name, c.Priority)
				}
				if c.Type == "" {
					t.Errorf("column %q has no type", c.Name)
				}
			}
			if got := strings.Join(normal, "|"); got != tt.normal {
				t.Errorf("headers = %s, want %s", got, tt.normal)
			}
			if got := strings.Join(wide, "|"); got != tt.wide {
				t.Errorf("wide headers = %s, want %s", got, tt.wide)
			}
		})
	}
}

// TestColumnDetails checks column types and formats that kubectl acts on.
func TestColumnDetails(t *testing.T) {
	r := New()
	find := func(p Printer, name string) metav1.TableColumnDefinition {
		for _, c := range p.Columns() {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no column %q", name)
		return metav1.TableColumnDefinition{}
	}
	tests := []struct {
		resource        schema.GroupResource
		column          string
		typ, format     string
		wantDescription bool
	}{
		{gr("", "pods"), "Name", "string", "name", true},
		{gr("", "pods"), "Restarts", "string", "", true},
		{gr("", "pods"), "Age", "string", "", true},
		{gr("", "events"), "Name", "string", "name", true},
		{gr("apps", "replicasets"), "Desired", "integer", "", true},
		{gr("batch", "cronjobs"), "Suspend", "boolean", "", true},
		{gr("scheduling.k8s.io", "priorityclasses"), "Global-Default", "boolean", "", true},
		{gr("scheduling.k8s.io", "priorityclasses"), "Value", "integer", "", true},
		{gr("", "limitranges"), "Created At", "date", "", true},
	}
	for _, tt := range tests {
		c := find(r.Lookup(tt.resource), tt.column)
		if c.Type != tt.typ || c.Format != tt.format {
			t.Errorf("%s %s: type %q format %q, want %q %q", tt.resource, tt.column, c.Type, c.Format, tt.typ, tt.format)
		}
		if tt.wantDescription && c.Description == "" {
			t.Errorf("%s %s: no description", tt.resource, tt.column)
		}
	}
}

// TestColumnsAreCopies checks that changing what Columns returns does not
// change the printer.
func TestColumnsAreCopies(t *testing.T) {
	p := New().Lookup(gr("", "pods"))
	p.Columns()[0].Name = "changed"
	if got := p.Columns()[0].Name; got != "Name" {
		t.Fatalf("first column = %q after changing a copy", got)
	}
}

// TestCellsMatchColumns checks, for an empty object of every resource, that
// each printer returns one cell per column.
func TestCellsMatchColumns(t *testing.T) {
	objects := map[schema.GroupResource]runtime.Object{
		gr("", "pods"):                                      &corev1.Pod{},
		gr("", "nodes"):                                     &corev1.Node{},
		gr("", "namespaces"):                                &corev1.Namespace{},
		gr("", "services"):                                  &corev1.Service{},
		gr("", "endpoints"):                                 &corev1.Endpoints{},
		gr("", "configmaps"):                                &corev1.ConfigMap{},
		gr("", "secrets"):                                   &corev1.Secret{},
		gr("", "serviceaccounts"):                           &corev1.ServiceAccount{},
		gr("", "events"):                                    &corev1.Event{},
		gr("", "resourcequotas"):                            &corev1.ResourceQuota{},
		gr("", "limitranges"):                               &corev1.LimitRange{},
		gr("", "podtemplates"):                              &corev1.PodTemplate{},
		gr("apps", "deployments"):                           &appsv1.Deployment{},
		gr("apps", "replicasets"):                           &appsv1.ReplicaSet{},
		gr("apps", "daemonsets"):                            &appsv1.DaemonSet{},
		gr("apps", "statefulsets"):                          &appsv1.StatefulSet{},
		gr("apps", "controllerrevisions"):                   &appsv1.ControllerRevision{},
		gr("batch", "jobs"):                                 &batchv1.Job{},
		gr("batch", "cronjobs"):                             &batchv1.CronJob{},
		gr("autoscaling", "horizontalpodautoscalers"):       &autoscalingv2.HorizontalPodAutoscaler{},
		gr("scheduling.k8s.io", "priorityclasses"):          &schedulingv1.PriorityClass{},
		gr("networking.k8s.io", "networkpolicies"):          &networkingv1.NetworkPolicy{},
		gr("coordination.k8s.io", "leases"):                 &coordinationv1.Lease{},
		gr("discovery.k8s.io", "endpointslices"):            &discoveryv1.EndpointSlice{},
		gr("events.k8s.io", "events"):                       &eventsv1.Event{},
		gr("rbac.authorization.k8s.io", "clusterroles"):     &rbacv1.ClusterRole{},
		gr("rbac.authorization.k8s.io", "rolebindings"):     &rbacv1.RoleBinding{},
		gr("", "nonexistent-but-printed-by-default-anyway"): &corev1.ConfigMap{},
	}
	r := New()
	for resource, obj := range objects {
		p := r.Lookup(resource)
		cells, err := p.Cells(obj, now)
		if err != nil {
			t.Errorf("%s: %v", resource, err)
			continue
		}
		if len(cells) != len(p.Columns()) {
			t.Errorf("%s: %d cells for %d columns", resource, len(cells), len(p.Columns()))
		}
	}
	for resource := range r.printers {
		if _, ok := objects[resource]; !ok {
			t.Errorf("%s has a printer but no object in this test", resource)
		}
	}
}

// TestCellsRejectsOtherObjects checks the errors for objects a printer cannot
// print.
func TestCellsRejectsOtherObjects(t *testing.T) {
	r := New()
	tests := []struct {
		name     string
		resource schema.GroupResource
		obj      runtime.Object
	}{
		{"another kind", gr("", "pods"), &corev1.Node{}},
		{"nil interface", gr("", "pods"), nil},
		{"nil pointer", gr("", "pods"), (*corev1.Pod)(nil)},
		{"default printer, nil", gr("", "limitranges"), nil},
		{"default printer, no metadata", gr("", "limitranges"), &metav1.Status{}},
		{"unstructured that does not decode", gr("", "pods"), &unstructured.Unstructured{Object: map[string]interface{}{
			"kind": "Pod", "spec": "not an object",
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if cells, err := r.Lookup(tt.resource).Cells(tt.obj, now); err == nil {
				t.Fatalf("got cells %v, want an error", cells)
			}
		})
	}
}

// TestUnstructured checks that an unstructured object prints like the typed
// one it holds.
func TestUnstructured(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(5 * time.Minute)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}, NodeName: "node-1"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "10.244.0.5",
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
		},
	}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pod)
	if err != nil {
		t.Fatal(err)
	}
	p := New().Lookup(gr("", "pods"))
	want, err := p.Cells(pod, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Cells(&unstructured.Unstructured{Object: content}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unstructured cells %v, typed %v", got, want)
	}
}

// TestDefaultPrinter checks the NAME / CREATED AT printer.
func TestDefaultPrinter(t *testing.T) {
	p := New().Lookup(gr("", "limitranges"))
	tests := []struct {
		name string
		obj  runtime.Object
		want []interface{}
	}{
		{"created", &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{
			Name: "limits", CreationTimestamp: metav1.Time{Time: time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600))},
		}}, []interface{}{"limits", "2026-01-02T03:04:05Z"}},
		{"zero time", &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "new"}}, []interface{}{"new", "0001-01-01T00:00:00Z"}},
		{"unstructured", &unstructured.Unstructured{Object: map[string]interface{}{
			"metadata": map[string]interface{}{"name": "u", "creationTimestamp": "2025-12-31T23:59:59Z"},
		}}, []interface{}{"u", "2025-12-31T23:59:59Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Cells(tt.obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("cells %#v, want %#v", got, tt.want)
			}
		})
	}
}

// checkCells runs one printer over a table of objects and compares whole
// rows.
func checkCells(t *testing.T, resource schema.GroupResource, tests []cellsCase) {
	t.Helper()
	p := New().Lookup(resource)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Cells(tt.obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cells\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

type cellsCase struct {
	name string
	obj  runtime.Object
	want []interface{}
}
