package e2e

import (
	"strings"
	"testing"
)

// appManifest is a namespace, a configmap, a secret, a deployment and a
// service, as one multi-document file. color and image vary between
// applies.
func appManifest(ns, color, image string) string {
	r := strings.NewReplacer("NS", ns, "COLOR", color, "IMAGE", image)
	return r.Replace(`apiVersion: v1
kind: Namespace
metadata:
  name: NS
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: NS
data:
  color: COLOR
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: NS
type: Opaque
data:
  password: aHVudGVyMg==
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: NS
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: IMAGE
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: NS
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
`)
}

// appCreatedLines is what kubectl apply prints for appManifest the first
// time.
func appCreatedLines(ns string) []string {
	return []string{
		"namespace/" + ns + " created",
		"configmap/web-config created",
		"secret/web-secret created",
		"deployment.apps/web created",
		"service/web created",
	}
}

// appReappliedLines is what a later apply prints: the configmap and the
// deployment say configured or unchanged, the rest unchanged.
func appReappliedLines(ns, configmap, deployment string) []string {
	return []string{
		"namespace/" + ns + " unchanged",
		"configmap/web-config " + configmap,
		"secret/web-secret unchanged",
		"deployment.apps/web " + deployment,
		"service/web unchanged",
	}
}

// applyApp applies appManifest into a new namespace, checks that every
// object was created, and returns the manifest's path.
func applyApp(t *testing.T, k kubectl, ns string) string {
	t.Helper()
	f := writeFile(t, "app.yaml", appManifest(ns, "blue", "nginx:1.27"))
	wantLines(t, k.ok(t, "apply", "-f", f), appCreatedLines(ns)...)
	return f
}

// nodeManifest is a Node with a role label and no status.
const nodeManifest = `apiVersion: v1
kind: Node
metadata:
  name: NAME
  labels:
    node-role.kubernetes.io/control-plane: ""
    kubernetes.io/hostname: NAME
`
