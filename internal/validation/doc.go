// Package validation checks core/v1 API objects for semantic validity.
//
// Every exported function is pure: it takes versioned objects from
// k8s.io/api/core/v1 (already defaulted by internal/defaults) and returns a
// field.ErrorList whose entries name the offending field path (for example
// "metadata.name" or "spec.containers[0].image"). An empty list means the
// object is valid. The rules and user-visible messages follow upstream
// Kubernetes (pkg/apis/core/validation) where practical.
package validation
