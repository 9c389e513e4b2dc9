package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// deploymentPrinter prints deployments: NAME READY UP-TO-DATE AVAILABLE AGE,
// and with -o wide CONTAINERS IMAGES SELECTOR.
func deploymentPrinter() Printer {
	status := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	return typed[appsv1.Deployment, *appsv1.Deployment]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			column("Up-to-date", "string", status["updatedReplicas"]),
			column("Available", "string", status["availableReplicas"]),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
			wide(column("Selector", "string", extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"])),
		},
		cells: func(d *appsv1.Deployment, now time.Time) ([]interface{}, error) {
			// Unlike the other workloads, a deployment's selector is
			// written empty (not <none>) when it selects nothing.
			selector := "<invalid>"
			if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
				selector = s.String()
			}
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			return []interface{}{
				d.Name,
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, int32Value(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas),
				int64(d.Status.AvailableReplicas),
				since(d.CreationTimestamp, now),
				names, images, selector,
			}, nil
		},
	}
}

// replicaSetPrinter prints replica sets: NAME DESIRED CURRENT READY AGE, and
// with -o wide CONTAINERS IMAGES SELECTOR.
func replicaSetPrinter() Printer {
	spec, status := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc(), extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	return typed[appsv1.ReplicaSet, *appsv1.ReplicaSet]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Desired", "integer", spec["replicas"]),
			column("Current", "integer", status["replicas"]),
			column("Ready", "integer", status["readyReplicas"]),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
			wide(column("Selector", "string", spec["selector"])),
		},
		cells: func(rs *appsv1.ReplicaSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(rs.Spec.Template.Spec.Containers)
			return []interface{}{
				rs.Name,
				int64(int32Value(rs.Spec.Replicas)),
				int64(rs.Status.Replicas),
				int64(rs.Status.ReadyReplicas),
				since(rs.CreationTimestamp, now),
				names, images, metav1.FormatLabelSelector(rs.Spec.Selector),
			}, nil
		},
	}
}

// daemonSetPrinter prints daemon sets: NAME DESIRED CURRENT READY UP-TO-DATE
// AVAILABLE NODE SELECTOR AGE, and with -o wide CONTAINERS IMAGES SELECTOR.
func daemonSetPrinter() Printer {
	status := extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	return typed[appsv1.DaemonSet, *appsv1.DaemonSet]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Desired", "integer", status["desiredNumberScheduled"]),
			column("Current", "integer", status["currentNumberScheduled"]),
			column("Ready", "integer", status["numberReady"]),
			column("Up-to-date", "integer", status["updatedNumberScheduled"]),
			column("Available", "integer", status["numberAvailable"]),
			column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
			wide(column("Selector", "string", extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"])),
		},
		cells: func(ds *appsv1.DaemonSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(ds.Spec.Template.Spec.Containers)
			return []interface{}{
				ds.Name,
				int64(ds.Status.DesiredNumberScheduled),
				int64(ds.Status.CurrentNumberScheduled),
				int64(ds.Status.NumberReady),
				int64(ds.Status.UpdatedNumberScheduled),
				int64(ds.Status.NumberAvailable),
				labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				since(ds.CreationTimestamp, now),
				names, images, metav1.FormatLabelSelector(ds.Spec.Selector),
			}, nil
		},
	}
}

// statefulSetPrinter prints stateful sets: NAME READY AGE, and with -o wide
// CONTAINERS IMAGES.
func statefulSetPrinter() Printer {
	return typed[appsv1.StatefulSet, *appsv1.StatefulSet]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
		},
		cells: func(ss *appsv1.StatefulSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(ss.Spec.Template.Spec.Containers)
			return []interface{}{
				ss.Name,
				fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, int32Value(ss.Spec.Replicas)),
				since(ss.CreationTimestamp, now),
				names, images,
			}, nil
		},
	}
}

// controllerRevisionPrinter prints controller revisions: NAME CONTROLLER
// REVISION AGE. CONTROLLER is the owning controller as kind.group/name in
// lower case (daemonset.apps/fluentd), or <none>.
func controllerRevisionPrinter() Printer {
	return typed[appsv1.ControllerRevision, *appsv1.ControllerRevision]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Controller", "string", "Controller of the object"),
			column("Revision", "string", appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]),
			ageColumn(),
		},
		cells: func(cr *appsv1.ControllerRevision, now time.Time) ([]interface{}, error) {
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, err := schema.ParseGroupVersion(ref.APIVersion)
				if err != nil {
					return nil, fmt.Errorf("printers: controller revision %s: %w", cr.Name, err)
				}
				gk := gv.WithKind(ref.Kind).GroupKind()
				controller = ref.Name
				if !gk.Empty() {
					controller = strings.ToLower(gk.String()) + "/" + ref.Name
				}
			}
			return []interface{}{cr.Name, controller, cr.Revision, since(cr.CreationTimestamp, now)}, nil
		},
	}
}
