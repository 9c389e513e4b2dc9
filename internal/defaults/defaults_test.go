package defaults

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// defaultCases pair a manifest as a user writes it with the object the
// upstream API server stores for it (before any admission plugin or
// registry strategy runs).
var defaultCases = []struct {
	name string
	in   string
	want string
}{
	{
		name: "namespace",
		in: `
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
`,
		want: `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {kubernetes.io/metadata.name: team-a}
status: {phase: Active}
`,
	},
	{
		name: "namespace name label cannot be overridden",
		in: `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {kubernetes.io/metadata.name: other, env: prod}
`,
		want: `
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels: {kubernetes.io/metadata.name: team-a, env: prod}
status: {phase: Active}
`,
	},
	{
		name: "namespace with only generateName",
		in: `
apiVersion: v1
kind: Namespace
metadata: {generateName: tmp-}
`,
		want: `
apiVersion: v1
kind: Namespace
metadata: {generateName: tmp-}
status: {phase: Active}
`,
	},
	{
		name: "node allocatable from capacity",
		in: `
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
`,
		want: `
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4", memory: 8Gi, pods: "110"}
  allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
`,
	},
	{
		name: "node keeps reported allocatable",
		in: `
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4"}
  allocatable: {cpu: 3500m}
`,
		want: `
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  capacity: {cpu: "4"}
  allocatable: {cpu: 3500m}
`,
	},
	{
		name: "minimal pod",
		in: `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: nginx
`,
		want: `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: web
    image: nginx
    imagePullPolicy: Always
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "pod with every defaulted nested field",
		in: `
apiVersion: v1
kind: Pod
metadata: {name: rich}
spec:
  hostNetwork: true
  restartPolicy: OnFailure
  dnsPolicy: Default
  terminationGracePeriodSeconds: 5
  enableServiceLinks: false
  initContainers:
  - name: init
    image: busybox:1.36
    resources:
      limits: {cpu: 100m}
  containers:
  - name: app
    image: registry:5000/app:1.2
    ports:
    - containerPort: 8080
    - containerPort: 9090
      protocol: UDP
      hostPort: 19090
    env:
    - name: PLAIN
      value: x
    - name: POD_NAME
      valueFrom:
        fieldRef: {fieldPath: metadata.name}
    - name: FROM_FILE
      valueFrom:
        fileKeyRef: {volumeName: cfg, path: env, key: A}
    resources:
      limits: {cpu: "1", memory: 128Mi}
      requests: {cpu: 500m}
    livenessProbe:
      httpGet: {port: 8080}
    readinessProbe:
      grpc: {port: 9000}
    startupProbe:
      exec: {command: ["true"]}
      periodSeconds: 5
    lifecycle:
      preStop:
        httpGet: {port: 8080, path: /quit}
  volumes:
  - name: scratch
  - name: cfg
    configMap: {name: cfg}
  - name: sec
    secret: {secretName: sec, defaultMode: 256}
  - name: host
    hostPath: {path: /var/log}
  - name: info
    downwardAPI:
      items:
      - path: labels
        fieldRef: {fieldPath: metadata.labels}
  - name: token
    projected:
      sources:
      - serviceAccountToken: {path: token}
      - downwardAPI:
          items:
          - path: ns
            fieldRef: {fieldPath: metadata.namespace}
  - name: eph
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
  - name: img
    image: {reference: "quay.io/x/y:latest"}
`,
		want: `
apiVersion: v1
kind: Pod
metadata: {name: rich}
spec:
  hostNetwork: true
  restartPolicy: OnFailure
  dnsPolicy: Default
  terminationGracePeriodSeconds: 5
  enableServiceLinks: false
  schedulerName: default-scheduler
  securityContext: {}
  initContainers:
  - name: init
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    resources:
      limits: {cpu: 100m}
      requests: {cpu: 100m}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  containers:
  - name: app
    image: registry:5000/app:1.2
    imagePullPolicy: IfNotPresent
    ports:
    - containerPort: 8080
      hostPort: 8080
      protocol: TCP
    - containerPort: 9090
      hostPort: 19090
      protocol: UDP
    env:
    - name: PLAIN
      value: x
    - name: POD_NAME
      valueFrom:
        fieldRef: {apiVersion: v1, fieldPath: metadata.name}
    - name: FROM_FILE
      valueFrom:
        fileKeyRef: {volumeName: cfg, path: env, key: A, optional: false}
    resources:
      limits: {cpu: "1", memory: 128Mi}
      requests: {cpu: 500m, memory: 128Mi}
    livenessProbe:
      httpGet: {port: 8080, path: /, scheme: HTTP}
      timeoutSeconds: 1
      periodSeconds: 10
      successThreshold: 1
      failureThreshold: 3
    readinessProbe:
      grpc: {port: 9000, service: ""}
      timeoutSeconds: 1
      periodSeconds: 10
      successThreshold: 1
      failureThreshold: 3
    startupProbe:
      exec: {command: ["true"]}
      timeoutSeconds: 1
      periodSeconds: 5
      successThreshold: 1
      failureThreshold: 3
    lifecycle:
      preStop:
        httpGet: {port: 8080, path: /quit, scheme: HTTP}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  volumes:
  - name: scratch
    emptyDir: {}
  - name: cfg
    configMap: {name: cfg, defaultMode: 420}
  - name: sec
    secret: {secretName: sec, defaultMode: 256}
  - name: host
    hostPath: {path: /var/log, type: ""}
  - name: info
    downwardAPI:
      defaultMode: 420
      items:
      - path: labels
        fieldRef: {apiVersion: v1, fieldPath: metadata.labels}
  - name: token
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
      - downwardAPI:
          items:
          - path: ns
            fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}
  - name: eph
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
          volumeMode: Filesystem
  - name: img
    image: {reference: "quay.io/x/y:latest", pullPolicy: Always}
`,
	},
	{
		name: "pod in-tree volume plugin defaults",
		in: `
apiVersion: v1
kind: Pod
metadata: {name: legacy}
spec:
  containers: [{name: c, image: "nginx:1"}]
  volumes:
  - name: rbd
    rbd: {monitors: [m1], image: img}
  - name: iscsi
    iscsi: {targetPortal: "1.2.3.4:3260", iqn: iqn.x, lun: 0}
  - name: azure
    azureDisk: {diskName: d, diskURI: u}
  - name: scaleio
    scaleIO: {gateway: g, system: s, secretRef: {name: x}}
`,
		want: `
apiVersion: v1
kind: Pod
metadata: {name: legacy}
spec:
  containers:
  - name: c
    image: "nginx:1"
    imagePullPolicy: IfNotPresent
    resources: {}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  volumes:
  - name: rbd
    rbd: {monitors: [m1], image: img, pool: rbd, user: admin, keyring: /etc/ceph/keyring}
  - name: iscsi
    iscsi: {targetPortal: "1.2.3.4:3260", iqn: iqn.x, lun: 0, iscsiInterface: default}
  - name: azure
    azureDisk: {diskName: d, diskURI: u, cachingMode: ReadWrite, fsType: ext4, readOnly: false, kind: Shared}
  - name: scaleio
    scaleIO: {gateway: g, system: s, secretRef: {name: x}, storageMode: ThinProvisioned, fsType: xfs}
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "pod resource quantities are rounded up to millis",
		in: `
apiVersion: v1
kind: Pod
metadata: {name: tiny}
spec:
  containers:
  - name: c
    image: "nginx:1"
    resources:
      requests: {cpu: "0.0001", memory: 1Mi}
  overhead: {cpu: 250u}
`,
		want: `
apiVersion: v1
kind: Pod
metadata: {name: tiny}
spec:
  containers:
  - name: c
    image: "nginx:1"
    imagePullPolicy: IfNotPresent
    resources:
      requests: {cpu: 1m, memory: 1Mi}
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
  overhead: {cpu: 1m}
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "pod template gets PodSpec defaults only",
		in: `
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    hostNetwork: true
    containers:
    - name: c
      image: nginx:latest
      ports: [{containerPort: 80}]
      resources: {limits: {cpu: "1"}}
`,
		want: `
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    hostNetwork: true
    containers:
    - name: c
      image: nginx:latest
      imagePullPolicy: Always
      ports: [{containerPort: 80, protocol: TCP}]
      resources: {limits: {cpu: "1"}}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    dnsPolicy: ClusterFirst
    restartPolicy: Always
    schedulerName: default-scheduler
    securityContext: {}
    terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "replication controller",
		in: `
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    metadata: {labels: {app: rc}}
    spec:
      containers: [{name: c, image: "nginx:1"}]
`,
		want: `
apiVersion: v1
kind: ReplicationController
metadata:
  name: rc
  labels: {app: rc}
spec:
  replicas: 1
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec:
      containers:
      - name: c
        image: "nginx:1"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "cluster IP service",
		in: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
  - port: 80
  - name: metrics
    port: 9090
    targetPort: 0
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  type: ClusterIP
  sessionAffinity: None
  internalTrafficPolicy: Cluster
  ports:
  - port: 80
    protocol: TCP
    targetPort: 80
  - name: metrics
    port: 9090
    protocol: TCP
    targetPort: 9090
`,
	},
	{
		name: "cluster IP service with external IPs",
		in: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  externalIPs: [203.0.113.7]
  ports: [{port: 80, targetPort: http}]
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  externalIPs: [203.0.113.7]
  type: ClusterIP
  sessionAffinity: None
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ports: [{port: 80, targetPort: http, protocol: TCP}]
`,
	},
	{
		name: "node port service",
		in: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
  ports: [{port: 80, protocol: UDP, nodePort: 30080}]
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  sessionAffinity: None
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ports: [{port: 80, protocol: UDP, nodePort: 30080, targetPort: 80}]
`,
	},
	{
		name: "load balancer service",
		in: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 443, targetPort: 8443}]
status:
  loadBalancer:
    ingress:
    - ip: 198.51.100.1
    - hostname: lb.example.com
    - ip: 198.51.100.2
      ipMode: Proxy
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  sessionAffinity: None
  externalTrafficPolicy: Local
  internalTrafficPolicy: Cluster
  allocateLoadBalancerNodePorts: true
  ports: [{port: 443, targetPort: 8443, protocol: TCP}]
status:
  loadBalancer:
    ingress:
    - ip: 198.51.100.1
      ipMode: VIP
    - hostname: lb.example.com
    - ip: 198.51.100.2
      ipMode: Proxy
`,
	},
	{
		name: "external name service",
		in: `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  type: ExternalName
  externalName: db.example.com
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  type: ExternalName
  externalName: db.example.com
  sessionAffinity: None
`,
	},
	{
		name: "client IP affinity gets a timeout",
		in: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  sessionAffinity: ClientIP
  ports: [{port: 80}]
`,
		want: `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: ClusterIP
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 10800}}
  internalTrafficPolicy: Cluster
  ports: [{port: 80, protocol: TCP, targetPort: 80}]
`,
	},
	{
		name: "endpoints",
		in: `
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.0.0.1}]
  ports: [{port: 80}, {port: 53, protocol: UDP}]
`,
		want: `
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
- addresses: [{ip: 10.0.0.1}]
  ports: [{port: 80, protocol: TCP}, {port: 53, protocol: UDP}]
`,
	},
	{
		name: "config map gets an empty data map",
		in: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
`,
		want: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {}
`,
	},
	{
		name: "secret type Opaque",
		in: `
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {password: hunter2}
`,
		want: `
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {password: hunter2}
type: Opaque
`,
	},
	{
		name: "secret keeps its type",
		in: `
apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/tls
`,
		want: `
apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/tls
`,
	},
	{
		name: "service account has no defaults",
		in: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
`,
		want: `
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
`,
	},
	{
		name: "core event has no defaults",
		in: `
apiVersion: v1
kind: Event
metadata: {name: e}
involvedObject: {kind: Pod, name: p}
reason: Started
`,
		want: `
apiVersion: v1
kind: Event
metadata: {name: e}
involvedObject: {kind: Pod, name: p}
reason: Started
`,
	},
	{
		name: "resource quota rounds quantities",
		in: `
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec:
  hard: {requests.cpu: "0.0005", pods: "10"}
`,
		want: `
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec:
  hard: {requests.cpu: 1m, pods: "10"}
`,
	},
	{
		name: "limit range container defaults",
		in: `
apiVersion: v1
kind: LimitRange
metadata: {name: lr}
spec:
  limits:
  - type: Container
    max: {cpu: "2"}
    min: {memory: 64Mi, ephemeral-storage: 1Gi}
    default: {memory: 256Mi}
  - type: Pod
    max: {cpu: "4"}
`,
		want: `
apiVersion: v1
kind: LimitRange
metadata: {name: lr}
spec:
  limits:
  - type: Container
    max: {cpu: "2"}
    min: {memory: 64Mi, ephemeral-storage: 1Gi}
    default: {memory: 256Mi, cpu: "2"}
    defaultRequest: {memory: 256Mi, cpu: "2", ephemeral-storage: 1Gi}
  - type: Pod
    max: {cpu: "4"}
`,
	},
	{
		name: "persistent volume",
		in: `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /data}
`,
		want: `
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /data, type: ""}
  persistentVolumeReclaimPolicy: Retain
  volumeMode: Filesystem
status: {phase: Pending}
`,
	},
	{
		name: "persistent volume claim",
		in: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`,
		want: `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: pvc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
  volumeMode: Filesystem
status: {phase: Pending}
`,
	},
	{
		name: "deployment",
		in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources: {limits: {cpu: "1"}}
`,
		want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 25%, maxSurge: 25%}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        imagePullPolicy: IfNotPresent
        resources: {limits: {cpu: "1"}}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "deployment recreate strategy gets no rolling parameters",
		in: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1", imagePullPolicy: Never}]
`,
		want: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "nginx:1"
        imagePullPolicy: Never
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "replica set",
		in: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}]
`,
		want: `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "daemon set",
		in: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "agent:2"}]
`,
		want: `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  revisionHistoryLimit: 10
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {maxUnavailable: 1, maxSurge: 0}
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: "agent:2"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "stateful set",
		in: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`,
		want: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  podManagementPolicy: OrderedReady
  revisionHistoryLimit: 10
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}
  updateStrategy:
    type: RollingUpdate
    rollingUpdate: {partition: 0, maxUnavailable: 1}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: "postgres:16"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
      volumeMode: Filesystem
    status: {phase: Pending}
`,
	},
	{
		name: "stateful set with explicit strategy types",
		in: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  updateStrategy: {type: RollingUpdate}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
`,
		want: `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  podManagementPolicy: OrderedReady
  revisionHistoryLimit: 10
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Retain}
  updateStrategy: {type: RollingUpdate}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: "postgres:16"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "job",
		in: `
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    metadata: {labels: {app: pi}}
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: "perl:5.34", command: [perl]}]
`,
		want: `
apiVersion: batch/v1
kind: Job
metadata:
  name: pi
  labels: {app: pi}
spec:
  parallelism: 1
  completions: 1
  backoffLimit: 6
  completionMode: NonIndexed
  suspend: false
  podReplacementPolicy: TerminatingOrFailed
  manualSelector: false
  template:
    metadata: {labels: {app: pi}}
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: "perl:5.34"
        command: [perl]
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		// Upstream defaults the template's restartPolicy to Always like any
		// PodSpec's; validation then rejects the Job.
		name: "job without restart policy, parallelism only, failure policy",
		in: `
apiVersion: batch/v1
kind: Job
metadata:
  name: work
  labels: {team: a}
spec:
  parallelism: 3
  backoffLimitPerIndex: 1
  completionMode: Indexed
  completions: 6
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget}]
  template:
    metadata: {labels: {app: work}}
    spec:
      containers: [{name: w, image: "busybox:1"}]
`,
		want: `
apiVersion: batch/v1
kind: Job
metadata:
  name: work
  labels: {team: a}
spec:
  parallelism: 3
  completions: 6
  backoffLimit: 2147483647
  backoffLimitPerIndex: 1
  completionMode: Indexed
  suspend: false
  podReplacementPolicy: Failed
  manualSelector: false
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget, status: "True"}]
  template:
    metadata: {labels: {app: work}}
    spec:
      restartPolicy: Always
      containers:
      - name: w
        image: "busybox:1"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "job with completions only",
		in: `
apiVersion: batch/v1
kind: Job
metadata: {name: w}
spec:
  completions: 4
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{name: w, image: "busybox:1"}]
`,
		want: `
apiVersion: batch/v1
kind: Job
metadata: {name: w}
spec:
  parallelism: 1
  completions: 4
  backoffLimit: 6
  completionMode: NonIndexed
  suspend: false
  podReplacementPolicy: TerminatingOrFailed
  manualSelector: false
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: w
        image: "busybox:1"
        imagePullPolicy: IfNotPresent
        resources: {}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "cron job defaults its job template's pod template only",
		in: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: "busybox:1"}]
`,
		want: `
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Allow
  suspend: false
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: c
            image: "busybox:1"
            imagePullPolicy: IfNotPresent
            resources: {}
            terminationMessagePath: /dev/termination-log
            terminationMessagePolicy: File
          dnsPolicy: ClusterFirst
          schedulerName: default-scheduler
          securityContext: {}
          terminationGracePeriodSeconds: 30
`,
	},
	{
		name: "horizontal pod autoscaler",
		in: `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
`,
		want: `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target: {type: Utilization, averageUtilization: 80}
`,
	},
	{
		name: "horizontal pod autoscaler behavior",
		in: `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 100Mi}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
`,
		want: `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: memory
      target: {type: AverageValue, averageValue: 100Mi}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      selectPolicy: Max
      policies:
      - {type: Pods, value: 4, periodSeconds: 15}
      - {type: Percent, value: 100, periodSeconds: 15}
    scaleDown:
      stabilizationWindowSeconds: 60
      selectPolicy: Max
      policies:
      - {type: Percent, value: 100, periodSeconds: 15}
`,
	},
	{
		name: "priority class",
		in: `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
`,
		want: `
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
preemptionPolicy: PreemptLowerPriority
`,
	},
	{
		name: "network policy: protocol TCP, policyTypes from the rules",
		in: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80}, {port: 53, protocol: UDP}]
  egress:
  - ports: [{port: 443}]
`,
		want: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: default}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80, protocol: TCP}, {port: 53, protocol: UDP}]
  egress:
  - ports: [{port: 443, protocol: TCP}]
  policyTypes: [Ingress, Egress]
`,
	},
	{
		name: "network policy: policyTypes Ingress without egress rules, given ones kept",
		in: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
items:
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: default}
  spec: {podSelector: {}}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b, namespace: default}
  spec: {podSelector: {}, policyTypes: [Egress]}
`,
		want: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicyList
items:
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: a, namespace: default}
  spec: {podSelector: {}, policyTypes: [Ingress]}
- apiVersion: networking.k8s.io/v1
  kind: NetworkPolicy
  metadata: {name: b, namespace: default}
  spec: {podSelector: {}, policyTypes: [Egress]}
`,
	},
	{
		name: "lease has no defaults",
		in: `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: l}
spec: {holderIdentity: me}
`,
		want: `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: l}
spec: {holderIdentity: me}
`,
	},
	{
		name: "endpoint slice",
		in: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
ports: [{port: 80}, {name: dns, port: 53, protocol: UDP}]
`,
		want: `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc}
addressType: IPv4
endpoints: [{addresses: [10.0.0.1]}]
ports: [{port: 80, name: "", protocol: TCP}, {name: dns, port: 53, protocol: UDP}]
`,
	},
	{
		name: "events.k8s.io event has no defaults",
		in: `
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e}
reason: Started
`,
		want: `
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e}
reason: Started
`,
	},
	{
		name: "typed list is defaulted item by item",
		in: `
apiVersion: v1
kind: PodList
items:
- metadata: {name: a}
  spec:
    containers: [{name: c, image: "nginx:1"}]
`,
		want: `
apiVersion: v1
kind: PodList
items:
- metadata: {name: a}
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
`,
	},
}

func TestDefault(t *testing.T) {
	for _, tc := range defaultCases {
		t.Run(tc.name, func(t *testing.T) {
			got := decode(t, tc.in)
			want := decode(t, tc.want)
			Default(got)
			if d := diff(want, got); d != "" {
				t.Errorf("Default mismatch (-want +got):\n%s\ngot:\n%s", d, toYAML(got))
			}
		})
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	for _, tc := range defaultCases {
		t.Run(tc.name, func(t *testing.T) {
			once := decode(t, tc.in)
			Default(once)
			twice := once.DeepCopyObject()
			Default(twice)
			if d := diff(once, twice); d != "" {
				t.Errorf("second Default changed the object (-once +twice):\n%s", d)
			}
		})
	}
}

func TestDefaultLeavesOtherInputsAlone(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
	}{
		{name: "nil interface", obj: nil},
		{name: "nil pod", obj: (*corev1.Pod)(nil)},
		{name: "nil deployment", obj: (*appsv1.Deployment)(nil)},
		{name: "nil pod list", obj: (*corev1.PodList)(nil)},
		{name: "unserved type", obj: &metav1.Status{Message: "x"}},
		{name: "unserved list type", obj: &metav1.List{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before runtime.Object
			if tc.obj != nil && !isNil(tc.obj) {
				before = tc.obj.DeepCopyObject()
			}
			Default(tc.obj)
			DefaultList(tc.obj)
			if before != nil {
				if d := diff(before, tc.obj); d != "" {
					t.Errorf("object changed (-before +after):\n%s", d)
				}
			}
		})
	}
	// A nil typed list must not stop later lists of its type from being
	// recognised as lists.
	list := decode(t, `
apiVersion: apps/v1
kind: DeploymentList
items:
- metadata: {name: d}
  spec:
    selector: {matchLabels: {a: b}}
    template: {spec: {containers: [{name: c, image: "x:1"}]}}
`).(*appsv1.DeploymentList)
	Default((*appsv1.DeploymentList)(nil))
	Default(list)
	if r := list.Items[0].Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("deployment in list not defaulted after a nil list: replicas %v", r)
	}
}

func TestDefaultListOfRawItems(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	list := &metav1.List{Items: []runtime.RawExtension{{Object: pod}}}
	DefaultList(list)
	if pod.Spec.RestartPolicy != corev1.RestartPolicyAlways || pod.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("item not defaulted:\n%s", toYAML(pod))
	}
}

func TestImagePullPolicy(t *testing.T) {
	const digest = "sha256:2d4b5e1c8f9a0b3c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.25", corev1.PullIfNotPresent},
		{"registry:5000/nginx", corev1.PullAlways},
		{"registry:5000/nginx:1.2", corev1.PullIfNotPresent},
		{"registry:5000/nginx:latest", corev1.PullAlways},
		{"nginx@" + digest, corev1.PullIfNotPresent},
		{"nginx:latest@" + digest, corev1.PullAlways},
		{"nginx:1.25@" + digest, corev1.PullIfNotPresent},
		{"registry:5000/team/nginx@" + digest, corev1.PullIfNotPresent},
		{"docker.io/library/nginx", corev1.PullAlways},
		{"index.docker.io/nginx", corev1.PullAlways},
		{"localhost/app", corev1.PullAlways},
		{"localhost:5000/app:v2", corev1.PullIfNotPresent},
		{"[::1]:5000/app", corev1.PullAlways},
		{"[::1]:5000/app:Latest", corev1.PullIfNotPresent},
		{"quay.io/org/sub/app", corev1.PullAlways},
		{"gcr.io/my_project/app-name__x.y", corev1.PullAlways},
		// References the API server cannot parse read as having no tag.
		{"", corev1.PullIfNotPresent},
		{"Nginx", corev1.PullIfNotPresent},
		{"nginx:", corev1.PullIfNotPresent},
		{"nginx:-bad", corev1.PullIfNotPresent},
		{"nginx@sha256:abc", corev1.PullIfNotPresent},
		{"nginx@md5:0123456789abcdef0123456789abcdef", corev1.PullIfNotPresent},
		{"nginx@" + digest + "@" + digest, corev1.PullIfNotPresent},
		{"foo/-bar", corev1.PullIfNotPresent},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullIfNotPresent},
		{"my registry/app", corev1.PullIfNotPresent},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{
				Containers:     []corev1.Container{{Name: "c", Image: tc.image}},
				InitContainers: []corev1.Container{{Name: "i", Image: tc.image}},
				EphemeralContainers: []corev1.EphemeralContainer{{
					EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e", Image: tc.image},
				}},
				Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
					Image: &corev1.ImageVolumeSource{Reference: tc.image},
				}}},
			}}
			Default(pod)
			got := []corev1.PullPolicy{
				pod.Spec.Containers[0].ImagePullPolicy,
				pod.Spec.InitContainers[0].ImagePullPolicy,
				pod.Spec.EphemeralContainers[0].ImagePullPolicy,
				pod.Spec.Volumes[0].Image.PullPolicy,
			}
			for i, p := range got {
				if p != tc.want {
					t.Errorf("policy %d of [container init ephemeral volume] = %q, want %q", i, p, tc.want)
				}
			}
		})
	}
}

func TestPodLevelResourceDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "requests default to aggregate container requests, else limits",
			in: `
spec:
  resources:
    limits: {cpu: "4", memory: 4Gi}
  initContainers:
  - name: sidecar
    restartPolicy: Always
    resources: {requests: {cpu: 500m}}
  - name: init
    resources: {requests: {cpu: "2"}}
  containers:
  - name: a
    resources: {requests: {cpu: "1"}}
  - name: b
    resources: {requests: {cpu: 250m}}
`,
			want: `
resources:
  limits: {cpu: "4", memory: 4Gi}
  requests: {cpu: 2500m, memory: 4Gi}
`,
		},
		{
			name: "limits only in containers: requests follow the copied container requests",
			in: `
spec:
  resources:
    limits: {memory: 1Gi}
  containers:
  - name: a
    resources: {limits: {cpu: "1", memory: 512Mi}}
`,
			want: `
resources:
  limits: {memory: 1Gi}
  requests: {cpu: "1", memory: 512Mi}
`,
		},
		{
			name: "hugepages limits default from containers",
			in: `
spec:
  resources:
    requests: {cpu: "1"}
  containers:
  - name: a
    resources: {limits: {hugepages-2Mi: 10Mi}}
  - name: b
    resources: {limits: {hugepages-2Mi: 6Mi, hugepages-1Gi: 1Gi}}
`,
			want: `
resources:
  requests: {cpu: "1", hugepages-2Mi: 16Mi, hugepages-1Gi: 1Gi}
  limits: {hugepages-2Mi: 16Mi, hugepages-1Gi: 1Gi}
`,
		},
		{
			name: "no pod-level resources, nothing added",
			in: `
spec:
  containers:
  - name: a
    resources: {requests: {cpu: "1"}}
`,
			want: `{}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pod corev1.Pod
			decodeInto(t, tc.in, &pod)
			var want struct {
				Resources *corev1.ResourceRequirements `json:"resources"`
			}
			decodeInto(t, tc.want, &want)
			Default(&pod)
			if d := diff(want.Resources, pod.Spec.Resources); d != "" {
				t.Errorf("pod-level resources mismatch (-want +got):\n%s", d)
			}
		})
	}
}
