package kubelet

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// envSources reads the ConfigMaps and Secrets env vars refer to. Errors
// for a missing object must satisfy apierrors.IsNotFound.
type envSources interface {
	ConfigMap(ctx context.Context, namespace, name string) (*v1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*v1.Secret, error)
}

// envContext is what env var values are resolved against.
type envContext struct {
	Pod     *v1.Pod
	PodIPs  []string
	HostIPs []string
	// Allocatable stands in for a resource limit a container does not set.
	Allocatable v1.ResourceList
	// ServiceEnv are the service env vars (serviceEnvVars): $(VAR) sees
	// them, the container's own vars override them, and the rest follow
	// the container's.
	ServiceEnv map[string]string
}

type envList struct {
	order []string
	vals  map[string]string
}

func (l *envList) set(k, v string) {
	if l.vals == nil {
		l.vals = map[string]string{}
	}
	if _, ok := l.vals[k]; !ok {
		l.order = append(l.order, k)
	}
	l.vals[k] = v
}

// makeEnvironment resolves a container's env and envFrom as upstream's
// kubelet does: envFrom first (each source in order, with its prefix, and
// as upstream since relaxed names, without checking key names),
// then env, whose values expand $(VAR) against what came before and the
// service env vars, then the service env vars the container did not set.
// The error, if any, is the message the container's waiting state shows.
func makeEnvironment(ctx context.Context, ec envContext, c *v1.Container, src envSources) ([]*runtimeapi.KeyValue, error) {
	pod := ec.Pod
	var l envList
	cms := map[string]*v1.ConfigMap{}
	secrets := map[string]*v1.Secret{}
	getCM := func(name string, optional bool) (*v1.ConfigMap, error) {
		if cm, ok := cms[name]; ok {
			return cm, nil
		}
		cm, err := src.ConfigMap(ctx, pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return nil, nil
			}
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("configmap %q not found", name)
			}
			return nil, err
		}
		cms[name] = cm
		return cm, nil
	}
	getSecret := func(name string, optional bool) (*v1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := src.Secret(ctx, pod.Namespace, name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional {
				return nil, nil
			}
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("secret %q not found", name)
			}
			return nil, err
		}
		secrets[name] = s
		return s, nil
	}

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := getCM(from.ConfigMapRef.Name, optional(from.ConfigMapRef.Optional))
			if err != nil {
				return nil, err
			}
			if cm == nil {
				continue
			}
			for _, k := range sortedKeys(cm.Data) {
				l.set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			s, err := getSecret(from.SecretRef.Name, optional(from.SecretRef.Optional))
			if err != nil {
				return nil, err
			}
			if s == nil {
				continue
			}
			for _, k := range sortedKeys(s.Data) {
				l.set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}

	for _, e := range c.Env {
		val := e.Value
		switch {
		case e.ValueFrom == nil:
			val = expand(e.Value, withServiceEnv(l.vals, ec.ServiceEnv))
		case e.ValueFrom.FieldRef != nil:
			v, err := fieldValue(ec, e.ValueFrom.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			val = v
		case e.ValueFrom.ResourceFieldRef != nil:
			v, err := resourceValue(ec, c, e.ValueFrom.ResourceFieldRef)
			if err != nil {
				return nil, err
			}
			val = v
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, err := getCM(ref.Name, optional(ref.Optional))
			if err != nil {
				return nil, err
			}
			if cm == nil {
				continue
			}
			v, ok := cm.Data[ref.Key]
			if !ok {
				if b, isBin := cm.BinaryData[ref.Key]; isBin {
					v, ok = string(b), true
				}
			}
			if !ok {
				if optional(ref.Optional) {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, pod.Namespace, ref.Name)
			}
			val = v
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := getSecret(ref.Name, optional(ref.Optional))
			if err != nil {
				return nil, err
			}
			if s == nil {
				continue
			}
			b, ok := s.Data[ref.Key]
			if !ok {
				if optional(ref.Optional) {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, pod.Namespace, ref.Name)
			}
			val = string(b)
		}
		l.set(e.Name, val)
	}
	for _, k := range sortedKeys(ec.ServiceEnv) {
		if _, set := l.vals[k]; !set {
			l.set(k, ec.ServiceEnv[k])
		}
	}
	out := make([]*runtimeapi.KeyValue, 0, len(l.order))
	for _, k := range l.order {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(l.vals[k])})
	}
	return out, nil
}

// withServiceEnv is what $(VAR) in an env value sees: the container's
// vars so far over the service env vars.
func withServiceEnv(vals, svc map[string]string) map[string]string {
	if len(svc) == 0 {
		return vals
	}
	out := make(map[string]string, len(vals)+len(svc))
	for k, v := range svc {
		out[k] = v
	}
	for k, v := range vals {
		out[k] = v
	}
	return out
}

// expandArgs expands $(VAR) in a command or its args against the env.
func expandArgs(args []string, env []*runtimeapi.KeyValue) []string {
	if len(args) == 0 {
		return nil
	}
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		vals[kv.Key] = string(kv.Value)
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, vals)
	}
	return out
}

// expand replaces $(NAME) by NAME's value when it is defined and $$ by $;
// anything else stays as written, as upstream's expansion does.
func expand(s string, vals map[string]string) string {
	return expandWith(s, func(name string) (string, bool) {
		v, ok := vals[name]
		return v, ok
	})
}

// expandWith is expand with the values from lookup; a name it does not
// know stays as written.
func expandWith(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func optional(p *bool) bool { return p != nil && *p }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldValue resolves a downward-API field path for an env var.
func fieldValue(ec envContext, path string) (string, error) {
	pod := ec.Pod
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(ec.HostIPs), nil
	case "status.hostIPs":
		return strings.Join(ec.HostIPs, ","), nil
	case "status.podIP":
		return first(ec.PodIPs), nil
	case "status.podIPs":
		return strings.Join(ec.PodIPs, ","), nil
	}
	return podFieldAsString(pod, path)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func bracketKey(path, prefix string) (string, bool) {
	if !strings.HasPrefix(path, prefix+"[") || !strings.HasSuffix(path, "]") {
		return "", false
	}
	k := path[len(prefix)+1 : len(path)-1]
	return strings.Trim(k, `'"`), true
}

// resourceValue resolves a resourceFieldRef: the container's request or
// limit in units of the divisor, rounded up; a limit the container does
// not set is the node's allocatable.
func resourceValue(ec envContext, c *v1.Container, ref *v1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = nil
		for _, list := range [][]v1.Container{ec.Pod.Spec.Containers, ec.Pod.Spec.InitContainers} {
			for i := range list {
				if list[i].Name == ref.ContainerName {
					target = &list[i]
				}
			}
		}
		if target == nil {
			return "", fmt.Errorf("container %q not found in pod", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource: %v", ref.Resource)
	}
	rn := v1.ResourceName(name)
	var q resource.Quantity
	var found bool
	if kind == "limits" {
		q, found = target.Resources.Limits[rn]
		if !found {
			q, found = ec.Allocatable[rn]
		}
	} else {
		q, found = target.Resources.Requests[rn]
		if !found {
			// As upstream's defaulting: a request defaults to the limit.
			q, found = target.Resources.Limits[rn]
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if !found {
		return "0", nil
	}
	if rn == v1.ResourceCPU {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}
