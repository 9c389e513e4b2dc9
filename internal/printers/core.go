package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

const (
	// nodeRoleLabelPrefix marks a node's roles: node-role.kubernetes.io/<role>.
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	// nodeRoleLabel is the older kubernetes.io/role=<role> form.
	nodeRoleLabel = "kubernetes.io/role"
)

// nodePrinter prints nodes: NAME STATUS ROLES AGE VERSION, and with -o wide
// INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME.
func nodePrinter() Printer {
	info, status := corev1.NodeSystemInfo{}.SwaggerDoc(), corev1.NodeStatus{}.SwaggerDoc()
	return typed[corev1.Node, *corev1.Node]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "The status of the node"),
			column("Roles", "string", "The roles of the node"),
			ageColumn(),
			column("Version", "string", info["kubeletVersion"]),
			wide(column("Internal-IP", "string", status["addresses"])),
			wide(column("External-IP", "string", status["addresses"])),
			wide(column("OS-Image", "string", info["osImage"])),
			wide(column("Kernel-Version", "string", info["kernelVersion"])),
			wide(column("Container-Runtime", "string", info["containerRuntimeVersion"])),
		},
		cells: nodeCells,
	}
}

// nodeCells is one node's row. STATUS is Ready, NotReady (Ready condition
// False or Unknown) or Unknown (no Ready condition), followed by
// ",SchedulingDisabled" for a cordoned node. ROLES are the sorted roles from
// the node's role labels, or <none>. KERNEL-VERSION carries the node's
// architecture in parentheses when the node reports one, as v1.37 prints it.
func nodeCells(node *corev1.Node, now time.Time) ([]interface{}, error) {
	status := "Unknown"
	for _, c := range node.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		// The last Ready condition counts, as upstream's condition map keeps it.
		if c.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		} else {
			status = "Not" + string(corev1.NodeReady)
		}
	}
	if node.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}

	info := node.Status.NodeInfo
	unknown := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	kernel := unknown(info.KernelVersion)
	if info.Architecture != "" {
		kernel += " (" + info.Architecture + ")"
	}

	return []interface{}{
		node.Name,
		status,
		orNone(strings.Join(nodeRoles(node.Labels), ",")),
		since(node.CreationTimestamp, now),
		info.KubeletVersion,
		nodeAddress(node, corev1.NodeInternalIP),
		nodeAddress(node, corev1.NodeExternalIP),
		unknown(info.OSImage),
		kernel,
		unknown(info.ContainerRuntimeVersion),
	}, nil
}

// nodeRoles returns the sorted, distinct roles named by node-role labels
// (node-role.kubernetes.io/<role>) and kubernetes.io/role=<role>.
func nodeRoles(nodeLabels map[string]string) []string {
	set := make(map[string]bool)
	for k, v := range nodeLabels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				set[role] = true
			}
		case k == nodeRoleLabel && v != "":
			set[v] = true
		}
	}
	roles := make([]string, 0, len(set))
	for r := range set {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns node's first address of type t, or <none>.
func nodeAddress(node *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range node.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

// namespacePrinter prints namespaces: NAME STATUS AGE.
func namespacePrinter() Printer {
	return typed[corev1.Namespace, *corev1.Namespace]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "The status of the namespace"),
			ageColumn(),
		},
		cells: func(ns *corev1.Namespace, now time.Time) ([]interface{}, error) {
			return []interface{}{ns.Name, string(ns.Status.Phase), since(ns.CreationTimestamp, now)}, nil
		},
	}
}

// servicePrinter prints services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S)
// AGE, and with -o wide SELECTOR.
func servicePrinter() Printer {
	spec := corev1.ServiceSpec{}.SwaggerDoc()
	return typed[corev1.Service, *corev1.Service]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Type", "string", spec["type"]),
			column("Cluster-IP", "string", spec["clusterIP"]),
			column("External-IP", "string", spec["externalIPs"]),
			column("Port(s)", "string", spec["ports"]),
			ageColumn(),
			wide(column("Selector", "string", spec["selector"])),
		},
		cells: serviceCells,
	}
}

// serviceCells is one service's row. CLUSTER-IP is the primary cluster IP or
// <none>. PORT(S) lists port/protocol, port:nodePort/protocol where a node
// port is allocated, or <none>. EXTERNAL-IP is serviceExternalIP's.
func serviceCells(svc *corev1.Service, now time.Time) ([]interface{}, error) {
	clusterIP := svc.Spec.ClusterIP
	if clusterIP == "" && len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	ports := make([]string, len(svc.Spec.Ports))
	for i, p := range svc.Spec.Ports {
		if p.NodePort > 0 {
			ports[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			ports[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return []interface{}{
		svc.Name,
		string(svc.Spec.Type),
		orNone(clusterIP),
		serviceExternalIP(svc),
		orNone(strings.Join(ports, ",")),
		since(svc.CreationTimestamp, now),
		labels.FormatLabels(svc.Spec.Selector),
	}, nil
}

// serviceExternalIP is a service's EXTERNAL-IP: its external IPs (or <none>)
// for ClusterIP and NodePort; for LoadBalancer the sorted, distinct ingress
// IPs or hostnames followed by the external IPs, or <pending> while there
// are none; the external name for ExternalName; <unknown> for another type.
// As upstream's server prints it, the load balancer's list is not clipped.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		seen := make(map[string]bool)
		var ingress []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			at := in.IP
			if at == "" {
				at = in.Hostname
			}
			if at != "" && !seen[at] {
				seen[at] = true
				ingress = append(ingress, at)
			}
		}
		sort.Strings(ingress)
		all := append(ingress, svc.Spec.ExternalIPs...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// endpointsPrinter prints endpoints: NAME ENDPOINTS AGE.
func endpointsPrinter() Printer {
	return typed[corev1.Endpoints, *corev1.Endpoints]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
			ageColumn(),
		},
		cells: func(ep *corev1.Endpoints, now time.Time) ([]interface{}, error) {
			return []interface{}{ep.Name, formatEndpoints(ep), since(ep.CreationTimestamp, now)}, nil
		},
	}
}

// formatEndpoints lists an Endpoints' addresses, each as ip:port once per
// port of its subset (or as the bare IP in a subset without ports): the
// first three, then " + N more...". It is <none> without subsets.
func formatEndpoints(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	var all []string
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				all = append(all, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				all = append(all, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return firstOfMany(all, 3, ",")
}

// configMapPrinter prints config maps: NAME DATA AGE, DATA counting both
// text and binary keys.
func configMapPrinter() Printer {
	return typed[corev1.ConfigMap, *corev1.ConfigMap]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
			ageColumn(),
		},
		cells: func(cm *corev1.ConfigMap, now time.Time) ([]interface{}, error) {
			return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), since(cm.CreationTimestamp, now)}, nil
		},
	}
}

// secretPrinter prints secrets: NAME TYPE DATA AGE.
func secretPrinter() Printer {
	doc := corev1.Secret{}.SwaggerDoc()
	return typed[corev1.Secret, *corev1.Secret]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Type", "string", doc["type"]),
			column("Data", "string", doc["data"]),
			ageColumn(),
		},
		cells: func(s *corev1.Secret, now time.Time) ([]interface{}, error) {
			// Upstream counts the internal object's data, into which
			// stringData has been merged by the time anything reads it.
			keys := len(s.Data)
			for k := range s.StringData {
				if _, dup := s.Data[k]; !dup {
					keys++
				}
			}
			return []interface{}{s.Name, string(s.Type), int64(keys), since(s.CreationTimestamp, now)}, nil
		},
	}
}

// serviceAccountPrinter prints service accounts: NAME SECRETS AGE.
func serviceAccountPrinter() Printer {
	return typed[corev1.ServiceAccount, *corev1.ServiceAccount]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
			ageColumn(),
		},
		cells: func(sa *corev1.ServiceAccount, now time.Time) ([]interface{}, error) {
			return []interface{}{sa.Name, int64(len(sa.Secrets)), since(sa.CreationTimestamp, now)}, nil
		},
	}
}

// resourceQuotaPrinter prints resource quotas: NAME REQUEST LIMIT AGE.
func resourceQuotaPrinter() Printer {
	return typed[corev1.ResourceQuota, *corev1.ResourceQuota]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
			column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
			ageColumn(),
		},
		cells: resourceQuotaCells,
	}
}

// resourceQuotaCells lists each hard-limited resource, in name order, as
// "name: used/hard": those named limits.* under LIMIT, the rest under
// REQUEST.
func resourceQuotaCells(q *corev1.ResourceQuota, now time.Time) ([]interface{}, error) {
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	sort.Strings(names)
	var request, limit []string
	for _, name := range names {
		used, hard := q.Status.Used[corev1.ResourceName(name)], q.Status.Hard[corev1.ResourceName(name)]
		entry := fmt.Sprintf("%s: %s/%s", name, quantity(&used), quantity(&hard))
		if pieces := strings.Split(name, "."); len(pieces) > 1 && pieces[0] == "limits" {
			limit = append(limit, entry)
		} else {
			request = append(request, entry)
		}
	}
	return []interface{}{q.Name, strings.Join(request, ", "), strings.Join(limit, ", "), since(q.CreationTimestamp, now)}, nil
}

// podTemplatePrinter prints pod templates: NAME CONTAINERS IMAGES POD LABELS
// (no AGE, as upstream).
func podTemplatePrinter() Printer {
	return typed[corev1.PodTemplate, *corev1.PodTemplate]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			containersColumn(),
			imagesColumn(),
			column("Pod Labels", "string", "The labels for the pod template."),
		},
		cells: func(t *corev1.PodTemplate, _ time.Time) ([]interface{}, error) {
			names, images := containerCells(t.Template.Spec.Containers)
			return []interface{}{t.Name, names, images, labels.FormatLabels(t.Template.Labels)}, nil
		},
	}
}
