package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidatePod(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"valid", func(*corev1.Pod) {}, nil},
		{"missing name", func(p *corev1.Pod) { p.Name = "" }, []string{required + "metadata.name"}},
		{"bad name", func(p *corev1.Pod) { p.Name = "Web" }, []string{invalid + "metadata.name"}},
		{"missing namespace", func(p *corev1.Pod) { p.Namespace = "" }, []string{required + "metadata.namespace"}},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, []string{required + "spec.containers"}},
		{"duplicate container name", func(p *corev1.Pod) {
			c := validContainer("app")
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{duplicate + "spec.containers[1].name"}},
		{"init container name collides", func(p *corev1.Pod) {
			c := validContainer("app")
			c.Ports, c.LivenessProbe = nil, nil
			p.Spec.InitContainers = []corev1.Container{c}
		}, []string{duplicate + "spec.initContainers[0].name"}},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App_1" }, []string{invalid + "spec.containers[0].name"}},
		{"missing container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, []string{required + "spec.containers[0].name"}},
		{"missing image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{required + "spec.containers[0].image"}},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, []string{invalid + "spec.containers[0].image"}},
		{"containerPort zero", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }, []string{required + "spec.containers[0].ports[0].containerPort"}},
		{"containerPort too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, []string{invalid + "spec.containers[0].ports[0].containerPort"}},
		{"hostPort too big", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = 70000 }, []string{invalid + "spec.containers[0].ports[0].hostPort"}},
		{"bad protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }, []string{notSupported + "spec.containers[0].ports[0].protocol"}},
		{"missing protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "" }, []string{required + "spec.containers[0].ports[0].protocol"}},
		{"duplicate port name", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP})
		}, []string{duplicate + "spec.containers[0].ports[1].name"}},
		{"bad port name", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "http_port" }, []string{invalid + "spec.containers[0].ports[0].name"}},
		{"host port conflict", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports[0].HostPort = 8080
			c := validContainer("side")
			c.Ports = []corev1.ContainerPort{{ContainerPort: 9090, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{duplicate + "spec.containers[1].ports[0].hostPort"}},
		{"env name with equals", func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "A=B" }, []string{invalid + "spec.containers[0].env[0].name"}},
		{"env relaxed name ok", func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "my.var-1" }, nil},
		{"env missing name", func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "" }, []string{required + "spec.containers[0].env[0].name"}},
		{"env value and valueFrom", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].Value = "x" }, []string{invalid + "spec.containers[0].env[1].valueFrom"}},
		{"env bad fieldPath", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].ValueFrom.FieldRef.FieldPath = "spec.bogus" }, []string{invalid + "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath"}},
		{"env unsupported fieldPath", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].ValueFrom.FieldRef.FieldPath = "status.phase" }, []string{notSupported + "spec.containers[0].env[1].valueFrom.fieldRef.fieldPath"}},
		{"env label subscript ok", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[1].ValueFrom.FieldRef.FieldPath = "metadata.labels['app']"
		}, nil},
		{"env secret key ref bad key", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[1].ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "bad key"}}
		}, []string{invalid + "spec.containers[0].env[1].valueFrom.secretKeyRef.key"}},
		{"envFrom no source", func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{Prefix: "X_"}} }, []string{invalid + "spec.containers[0].envFrom"}},
		{"duplicate volume", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		}, []string{duplicate + "spec.volumes[2].name"}},
		{"bad volume name", func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "Cfg" }, []string{invalid + "spec.volumes[1].name"}},
		{"volume without source", func(p *corev1.Pod) { p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{} }, []string{required + "spec.volumes[1]"}},
		{"volume with two sources", func(p *corev1.Pod) { p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"} },
			[]string{forbidden + "spec.volumes[0].hostPath", notFound + "spec.containers[0].volumeMounts[0].name"}},
		{"hostPath without path", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{}}
		}, []string{required + "spec.volumes[1].hostPath.path"}},
		{"configMap bad mode", func(p *corev1.Pod) { p.Spec.Volumes[1].ConfigMap.DefaultMode = ptr(int32(01000)) }, []string{invalid + "spec.volumes[1].configMap.defaultMode"}},
		{"secret without name", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}
		}, []string{required + "spec.volumes[1].secret.secretName"}},
		{"pvc without claim", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}
		}, []string{required + "spec.volumes[1].persistentVolumeClaim.claimName"}},
		{"mount of unknown volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }, []string{notFound + "spec.containers[0].volumeMounts[0].name"}},
		{"mount path missing", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].MountPath = "" }, []string{required + "spec.containers[0].volumeMounts[0].mountPath"}},
		{"duplicate mount path", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "cfg", MountPath: "/data"})
		}, []string{invalid + "spec.containers[0].volumeMounts[1].mountPath"}},
		{"requests exceed limits", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = q("1") }, []string{invalid + "spec.containers[0].resources.requests"}},
		{"negative request", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = q("-1") }, []string{invalid + "spec.containers[0].resources.requests[memory]"}},
		{"unknown resource", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["gpu"] = q("1") }, []string{invalid + "spec.containers[0].resources.limits[gpu]", invalid + "spec.containers[0].resources.limits[gpu]"}},
		{"extended resource ok", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["example.com/gpu"] = q("1")
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = q("1")
		}, nil},
		{"extended resource not integer", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["example.com/gpu"] = q("500m") }, []string{invalid + "spec.containers[0].resources.limits[example.com/gpu]"}},
		{"extended request without limit", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = q("1") }, []string{required + "spec.containers[0].resources.limits"}},
		{"bad restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, []string{notSupported + "spec.restartPolicy"}},
		{"missing restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "" }, []string{required + "spec.restartPolicy"}},
		{"bad dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, []string{notSupported + "spec.dnsPolicy"}},
		{"missing dnsPolicy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "" }, []string{required + "spec.dnsPolicy"}},
		{"dnsPolicy None without config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, []string{required + "spec.dnsConfig"}},
		{"dnsConfig bad nameserver", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1"}}
		}, []string{invalid + "spec.dnsConfig.nameservers[0]"}},
		{"bad imagePullPolicy", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" }, []string{notSupported + "spec.containers[0].imagePullPolicy"}},
		{"missing imagePullPolicy", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "" }, []string{required + "spec.containers[0].imagePullPolicy"}},
		{"bad terminationMessagePolicy", func(p *corev1.Pod) { p.Spec.Containers[0].TerminationMessagePolicy = "Stdout" }, []string{notSupported + "spec.containers[0].terminationMessagePolicy"}},
		{"missing terminationMessagePolicy", func(p *corev1.Pod) { p.Spec.Containers[0].TerminationMessagePolicy = "" }, []string{required + "spec.containers[0].terminationMessagePolicy"}},
		{"missing terminationGracePeriodSeconds", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }, []string{required + "spec.terminationGracePeriodSeconds"}},
		{"liveness successThreshold", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.SuccessThreshold = 2 }, []string{invalid + "spec.containers[0].livenessProbe.successThreshold"}},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.ProbeHandler = corev1.ProbeHandler{} }, []string{required + "spec.containers[0].livenessProbe"}},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}
		}, []string{forbidden + "spec.containers[0].livenessProbe.tcpSocket"}},
		{"probe negative period", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.PeriodSeconds = -1 }, []string{invalid + "spec.containers[0].livenessProbe.periodSeconds"}},
		{"probe bad port", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromInt32(0) }, []string{invalid + "spec.containers[0].livenessProbe.httpGet.port"}},
		{"readiness grace period", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
				SuccessThreshold: 1, TerminationGracePeriodSeconds: ptr(int64(5))}
		}, []string{invalid + "spec.containers[0].readinessProbe.terminationGracePeriodSeconds"}},
		{"init container with probe", func(p *corev1.Pod) {
			c := validContainer("init")
			c.Ports = nil
			p.Spec.InitContainers = []corev1.Container{c}
		}, []string{forbidden + "spec.initContainers[0].livenessProbe"}},
		{"sidecar init container with probe", func(p *corev1.Pod) {
			c := validContainer("init")
			c.Ports = nil
			c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers = []corev1.Container{c}
		}, nil},
		{"restartPolicy on regular container", func(p *corev1.Pod) {
			p.Spec.Containers[0].RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
		}, []string{forbidden + "spec.containers[0].restartPolicy"}},
		{"bad nodeSelector key", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key": "v"} }, []string{invalid + "spec.nodeSelector"}},
		{"bad toleration operator", func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = "Maybe" }, []string{notSupported + "spec.tolerations[0].operator"}},
		{"toleration empty key with Equal", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, Value: "x"}}
		}, []string{invalid + "spec.tolerations[0].operator"}},
		{"tolerationSeconds without NoExecute", func(p *corev1.Pod) { p.Spec.Tolerations[0].Effect = corev1.TaintEffectNoSchedule }, []string{invalid + "spec.tolerations[0].effect"}},
		{"bad toleration effect", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: "Sometimes"}}
		}, []string{notSupported + "spec.tolerations[0].effect"}},
		{"empty node selector terms", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}, []string{required + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"}},
		{"bad node selector operator", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Near"}}}}}}}
		}, []string{invalid + "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"}},
		{"pod affinity bad selector and empty topologyKey", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bad value"}}}}}}
		}, []string{
			invalid + "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].labelSelector.matchLabels",
			required + "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
			invalid + "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
			invalid + "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
		}},
		{"preferred weight out of range", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 101, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname"}}}}}
		}, []string{invalid + "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"}},
		{"topology spread bad maxSkew", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, []string{invalid + "spec.topologySpreadConstraints[0].maxSkew"}},
		{"activeDeadlineSeconds zero", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(0)) }, []string{invalid + "spec.activeDeadlineSeconds"}},
		{"hostNetwork port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 81
		}, []string{invalid + "spec.containers[0].ports[0].hostPort"}},
		{"bad hostname", func(p *corev1.Pod) { p.Spec.Hostname = "a.b" }, []string{invalid + "spec.hostname"}},
		{"bad serviceAccountName", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Bad" }, []string{invalid + "spec.serviceAccountName"}},
		{"bad nodeName", func(p *corev1.Pod) { p.Spec.NodeName = "Node_1" }, []string{invalid + "spec.nodeName"}},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}
		}, []string{forbidden + "spec.ephemeralContainers"}},
		{"nodeName with scheduling gates", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}}
		}, []string{forbidden + "spec.nodeName"}},
		{"mirror pod without node", func(p *corev1.Pod) { p.Annotations = map[string]string{mirrorPodAnnotationKey: "x"} }, []string{invalid + "metadata.annotations[kubernetes.io/config.mirror]"}},
		{"bad deletion cost", func(p *corev1.Pod) { p.Annotations = map[string]string{podDeletionCostAnnotationKey: "abc"} }, []string{invalid + "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]"}},
		{"bad sysctl", func(p *corev1.Pod) {
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "Kernel.Foo", Value: "1"}}
		}, []string{invalid + "spec.securityContext.sysctls[0].name"}},
		{"net sysctl with hostNetwork", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 80
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
		}, []string{invalid + "spec.securityContext.sysctls[0].name"}},
		{"bad runAsUser", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(-1))}
		}, []string{invalid + "spec.containers[0].securityContext.runAsUser"}},
		{"bad os", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: "plan9"} }, []string{notSupported + "spec.os"}},
		{"projected token without service account", func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3600))}}}}}})
		}, []string{forbidden + "spec.volumes[2].projected.sources[0].serviceAccountToken"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validPod()
			tc.mutate(p)
			expectErrors(t, ValidatePod(p), tc.want...)
		})
	}
}

func TestValidatePodNotSupportedDetail(t *testing.T) {
	p := validPod()
	p.Spec.RestartPolicy = "Sometimes"
	errs := ValidatePod(p)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `supported values: "Always", "OnFailure", "Never"`) {
		t.Fatalf("unexpected errors: %v", errs)
	}
}

func TestValidatePodTemplateSpec(t *testing.T) {
	fld := field.NewPath("spec", "template")
	tests := []struct {
		name   string
		mutate func(p *corev1.PodTemplateSpec)
		want   []string
	}{
		{"valid", func(*corev1.PodTemplateSpec) {}, nil},
		{"no name needed", func(p *corev1.PodTemplateSpec) { p.Name = "" }, nil},
		{"bad label", func(p *corev1.PodTemplateSpec) { p.Labels = map[string]string{"app": "bad value"} }, []string{invalid + "spec.template.metadata.labels"}},
		{"bad annotation", func(p *corev1.PodTemplateSpec) { p.Annotations = map[string]string{"/x": "y"} }, []string{invalid + "spec.template.metadata.annotations"}},
		{"bad container", func(p *corev1.PodTemplateSpec) { p.Spec.Containers[0].Image = "" }, []string{required + "spec.template.spec.containers[0].image"}},
		{"hostPort zero tolerated with hostNetwork", func(p *corev1.PodTemplateSpec) { p.Spec.HostNetwork = true }, nil},
		{"ephemeral containers", func(p *corev1.PodTemplateSpec) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}}}
		}, []string{forbidden + "spec.template.spec.ephemeralContainers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: validPodSpec()}
			tc.mutate(p)
			expectErrors(t, ValidatePodTemplateSpec(p, fld), tc.want...)
		})
	}
	expectErrors(t, ValidatePodTemplateSpec(nil, fld), required+"spec.template")
}

func TestValidatePodUpdate(t *testing.T) {
	old := validPod()
	old.ObjectMeta = withRV(old.ObjectMeta)
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"unchanged", func(*corev1.Pod) {}, nil},
		{"image change", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }, nil},
		{"labels change", func(p *corev1.Pod) { p.Labels["tier"] = "front" }, nil},
		{"add toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}, nil},
		{"change tolerationSeconds", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr(int64(10)) }, nil},
		{"remove toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, []string{forbidden + "spec.tolerations"}},
		{"set activeDeadlineSeconds", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(60)) }, nil},
		{"change command", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh"} }, []string{forbidden + "spec"}},
		{"change restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }, []string{forbidden + "spec"}},
		{"add container", func(p *corev1.Pod) {
			c := validContainer("side")
			c.Ports = nil
			p.Spec.Containers = append(p.Spec.Containers, c)
		}, []string{forbidden + "spec.containers"}},
		{"clear image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{required + "spec.containers[0].image", required + "spec.containers[0].image"}},
		{"rename", func(p *corev1.Pod) { p.Name = "other" }, []string{invalid + "metadata.name"}},
		{"no resourceVersion", func(p *corev1.Pod) { p.ResourceVersion = "" }, []string{invalid + "metadata.resourceVersion"}},
		{"add mirror annotation", func(p *corev1.Pod) {
			p.Annotations = map[string]string{mirrorPodAnnotationKey: "x"}
			p.Spec.NodeName = "n"
		}, []string{forbidden + "metadata.annotations[kubernetes.io/config.mirror]", forbidden + "spec"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrors(t, ValidatePodUpdate(p, old), tc.want...)
		})
	}

	t.Run("forbidden message", func(t *testing.T) {
		p := old.DeepCopy()
		p.Spec.Containers[0].Command = []string{"sh"}
		errs := ValidatePodUpdate(p, old)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`") {
			t.Fatalf("unexpected errors: %v", errs)
		}
	})

	t.Run("activeDeadlineSeconds may only decrease", func(t *testing.T) {
		o := old.DeepCopy()
		o.Spec.ActiveDeadlineSeconds = ptr(int64(30))
		p := o.DeepCopy()
		p.Spec.ActiveDeadlineSeconds = ptr(int64(60))
		expectErrors(t, ValidatePodUpdate(p, o), invalid+"spec.activeDeadlineSeconds")
		p.Spec.ActiveDeadlineSeconds = ptr(int64(10))
		expectErrors(t, ValidatePodUpdate(p, o))
		p.Spec.ActiveDeadlineSeconds = nil
		expectErrors(t, ValidatePodUpdate(p, o), invalid+"spec.activeDeadlineSeconds")
	})

	t.Run("negative grace period to 1", func(t *testing.T) {
		o := old.DeepCopy()
		o.Spec.TerminationGracePeriodSeconds = ptr(int64(-1))
		p := o.DeepCopy()
		p.Spec.TerminationGracePeriodSeconds = ptr(int64(1))
		expectErrors(t, ValidatePodUpdate(p, o))
	})

	t.Run("gated pod", func(t *testing.T) {
		o := old.DeepCopy()
		o.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/a"}, {Name: "example.com/b"}}
		p := o.DeepCopy()
		p.Spec.SchedulingGates = p.Spec.SchedulingGates[:1]
		p.Spec.NodeSelector["zone"] = "a"
		expectErrors(t, ValidatePodUpdate(p, o))
		p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/c"})
		expectErrors(t, ValidatePodUpdate(p, o), forbidden+"spec.schedulingGates[1].name")
		p = o.DeepCopy()
		p.Spec.NodeSelector = nil
		expectErrors(t, ValidatePodUpdate(p, o), invalid+"spec.nodeSelector")
	})
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := validPod()
	old.ObjectMeta = withRV(old.ObjectMeta)
	old.Spec.NodeName = "node-1"
	old.Spec.RestartPolicy = corev1.RestartPolicyNever
	old.Status = corev1.PodStatus{
		Phase:    corev1.PodRunning,
		QOSClass: corev1.PodQOSBurstable,
		ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}},
	}
	tests := []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"unchanged", func(*corev1.Pod) {}, nil},
		{"set IPs", func(p *corev1.Pod) {
			p.Status.PodIP = "10.0.0.5"
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.5"}, {IP: "fd00::5"}}
			p.Status.HostIP = "192.168.1.2"
			p.Status.HostIPs = []corev1.HostIP{{IP: "192.168.1.2"}}
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: "example.com/ready", Status: corev1.ConditionTrue}}
		}, nil},
		{"bad pod IP", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0"}} }, []string{invalid + "status.podIPs[0]"}},
		{"two IPv4 pod IPs", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.5"}, {IP: "10.0.0.6"}} }, []string{invalid + "status.podIPs"}},
		{"duplicate pod IPs", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.5"}, {IP: "10.0.0.5"}} }, []string{invalid + "status.podIPs", duplicate + "status.podIPs[1]"}},
		{"hostIP mismatch", func(p *corev1.Pod) {
			p.Status.HostIP = "192.168.1.2"
			p.Status.HostIPs = []corev1.HostIP{{IP: "192.168.1.3"}}
		}, []string{invalid + "status.hostIPs[0].ip"}},
		{"nodeName change", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, []string{forbidden + "status.nodeName"}},
		{"qos change", func(p *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed }, []string{invalid + "status.qosClass"}},
		{"bad condition type", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: "bad type", Status: corev1.ConditionTrue}}
		}, []string{invalid + "status.conditions[0].type"}},
		{"restart terminated container", func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}, []string{forbidden + "status.containerStatuses[0].state"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := old.DeepCopy()
			tc.mutate(p)
			expectErrors(t, ValidatePodStatusUpdate(p, old), tc.want...)
		})
	}
}

func TestValidatePodBinding(t *testing.T) {
	tests := []struct {
		name string
		b    corev1.Binding
		want []string
	}{
		{"valid", corev1.Binding{Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, nil},
		{"empty kind", corev1.Binding{Target: corev1.ObjectReference{Name: "node-1"}}, nil},
		{"wrong kind", corev1.Binding{Target: corev1.ObjectReference{Kind: "Pod", Name: "x"}}, []string{notSupported + "target.kind"}},
		{"no name", corev1.Binding{Target: corev1.ObjectReference{Kind: "Node"}}, []string{required + "target.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidatePodBinding(&tc.b), tc.want...)
		})
	}
}
