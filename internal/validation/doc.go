// Package validation checks core/v1 API objects for semantic validity.
//
// Every exported function is pure: it takes versioned objects from
// k8s.io/api/core/v1 (already defaulted by internal/defaults) and returns a
// field.ErrorList whose entries name the offending field path (for example
// "metadata.name" or "spec.containers[0].image"). An empty list means the
// object is valid; a nil object yields an InternalError instead of a panic.
// Create validators are named ValidateK, update validators ValidateKUpdate
// (they validate the new object fully and check transitions from the old
// one), and status-subresource validators ValidateKStatusUpdate.
//
// The rules, error types and detail strings follow upstream Kubernetes
// (pkg/apis/core/validation) with these deliberate differences:
//
//   - Services: when only spec.clusterIP is set, it is treated as
//     spec.clusterIPs = [clusterIP] (upstream syncs the two in the registry
//     before validating). nodePort values are range-checked (1-65535); the
//     service-node-port-range is the allocator's business.
//   - Nodes: when only spec.podCIDR is set it is treated as
//     spec.podCIDRs = [podCIDR]; taint errors are reported under
//     "spec.taints" (upstream says "metadata.taints").
//   - Pod templates: label errors are reported under
//     "<template>.metadata.labels" (upstream says "<template>.labels").
//   - Pod status conditions are reported under "status.conditions[i].type"
//     and namespace phase under "status.phase".
//   - Secrets: keys in stringData (if not yet merged into data) are
//     validated too.
//   - Features that are on by default upstream are assumed enabled (relaxed
//     env var names and DNS search paths, zero-second sleep actions,
//     sidecar containers, pod-level resources); privileged containers are
//     allowed.
package validation
