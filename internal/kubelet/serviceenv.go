package kubelet

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	informerscorev1 "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// serviceSource is where the service env vars come from: Config.Services,
// or an informer of the kubelet's own (factory non-nil: Run starts it).
type serviceSource struct {
	lister  corelisters.ServiceLister
	synced  toolscache.InformerSynced
	factory informers.SharedInformerFactory
}

func newServiceSource(shared informerscorev1.ServiceInformer, client kubernetes.Interface) serviceSource {
	var s serviceSource
	if shared == nil {
		s.factory = informers.NewSharedInformerFactory(client, 0)
		shared = s.factory.Core().V1().Services()
	}
	s.synced = shared.Informer().HasSynced // registers it with its factory
	s.lister = shared.Lister()
	return s
}

// serviceEnv is the service env vars of a pod's containers, from the
// Services the kubelet's informer holds.
func (k *Kubelet) serviceEnv(pod *v1.Pod) (map[string]string, error) {
	if !k.services.synced() {
		return nil, fmt.Errorf("services have not yet been read at least once, cannot construct envvars")
	}
	svcs, err := k.services.lister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("failed to list services when setting up env vars")
	}
	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	return serviceEnvVars(svcs, pod.Namespace, links), nil
}

// serviceEnvVars is upstream's getServiceEnvVarMap and
// envvars.FromServices: for the `kubernetes` Service of the default
// namespace always, and for every Service of the pod's namespace when
// enableServiceLinks is not false, <NAME>_SERVICE_HOST, _SERVICE_PORT,
// _SERVICE_PORT_<PORT NAME>, and the Docker-link <NAME>_PORT family.
// Headless Services (clusterIP None or empty) give none.
func serviceEnvVars(services []*v1.Service, namespace string, enableServiceLinks bool) map[string]string {
	chosen := map[string]*v1.Service{}
	for _, s := range services {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == v1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		switch {
		case s.Namespace == metav1.NamespaceDefault && s.Name == "kubernetes":
			if _, ok := chosen[s.Name]; !ok {
				chosen[s.Name] = s
			}
		case s.Namespace == namespace && enableServiceLinks:
			chosen[s.Name] = s
		}
	}
	out := map[string]string{}
	for _, s := range chosen {
		prefix := envVarName(s.Name)
		out[prefix+"_SERVICE_HOST"] = s.Spec.ClusterIP
		out[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				out[prefix+"_SERVICE_PORT_"+envVarName(p.Name)] = strconv.Itoa(int(p.Port))
			}
		}
		for i, p := range s.Spec.Ports {
			proto := strings.ToLower(string(v1.ProtocolTCP))
			if p.Protocol != "" {
				proto = strings.ToLower(string(p.Protocol))
			}
			url := proto + "://" + net.JoinHostPort(s.Spec.ClusterIP, strconv.Itoa(int(p.Port)))
			if i == 0 {
				out[prefix+"_PORT"] = url
			}
			pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			out[pp] = url
			out[pp+"_PROTO"] = proto
			out[pp+"_PORT"] = strconv.Itoa(int(p.Port))
			out[pp+"_ADDR"] = s.Spec.ClusterIP
		}
	}
	return out
}

// envVarName is upstream's makeEnvVariableName.
func envVarName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}
