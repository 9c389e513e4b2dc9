package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKubectl runs kubectl's everyday commands against one shared server.
// Each subtest works in its own namespace.
func TestKubectl(t *testing.T) {
	c := sharedCluster(t)
	k := newKubectl(c)

	t.Run("Version", func(t *testing.T) {
		out := k.ok(t, "version")
		wantMatch(t, out, `^Client Version: v1\.`, "^Server Version: "+regexp.QuoteMeta(serverVersion)+"$")
		type info struct {
			Major, Minor, GitVersion, Platform, Compiler, GoVersion string
			EmulationMajor, EmulationMinor                          string
			MinCompatibilityMajor, MinCompatibilityMinor            string
		}
		var v struct {
			ServerVersion info `json:"serverVersion"`
		}
		if err := json.Unmarshal([]byte(k.ok(t, "version", "-o", "json")), &v); err != nil {
			t.Fatal(err)
		}
		sv := v.ServerVersion
		if sv.GitVersion != serverVersion || sv.Major != "1" || sv.Minor != "37" || sv.Compiler != "gc" ||
			sv.Platform != runtime.GOOS+"/"+runtime.GOARCH || !strings.HasPrefix(sv.GoVersion, "go1.") {
			t.Errorf("serverVersion = %+v", sv)
		}
		// This kubectl predates the emulation fields; /version has them.
		if err := json.Unmarshal([]byte(k.ok(t, "get", "--raw", "/version")), &sv); err != nil {
			t.Fatal(err)
		}
		if sv.EmulationMajor != "1" || sv.EmulationMinor != "37" || sv.MinCompatibilityMajor != "1" || sv.MinCompatibilityMinor != "36" {
			t.Errorf("/version = %+v", sv)
		}
	})

	t.Run("ClusterInfo", func(t *testing.T) {
		out := k.ok(t, "cluster-info")
		wantContains(t, out,
			fmt.Sprintf("Kubernetes control plane is running at https://127.0.0.1:%d\n", c.apiPort),
			"To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
	})

	t.Run("Apply", func(t *testing.T) {
		ns := "e2e-apply"
		f := applyApp(t, k, ns)
		// The same file again changes nothing.
		wantLines(t, k.ok(t, "apply", "-f", f), appReappliedLines(ns, "unchanged", "unchanged")...)
		gen := k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath={.metadata.generation}")
		if gen != "1" {
			t.Errorf("generation after an unchanged apply = %s, want 1", gen)
		}
		// A changed configmap and image.
		f2 := writeFile(t, "app2.yaml", appManifest(ns, "red", "nginx:1.28"))
		wantLines(t, k.ok(t, "apply", "-f", f2), appReappliedLines(ns, "configured", "configured")...)
		got := k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath={.metadata.generation} {.spec.template.spec.containers[0].image}")
		if got != "2 nginx:1.28" {
			t.Errorf("generation and image after apply = %q, want \"2 nginx:1.28\"", got)
		}
		if got := k.ok(t, "get", "-n", ns, "cm", "web-config", "-o", "jsonpath={.data.color}"); got != "red" {
			t.Errorf("color = %q, want red", got)
		}
		wantLines(t, k.ok(t, "apply", "-f", f2), appReappliedLines(ns, "unchanged", "unchanged")...)
		// Dropping a field from the file removes it from the object.
		f3 := writeFile(t, "app3.yaml", strings.Replace(appManifest(ns, "red", "nginx:1.28"), "  replicas: 2\n", "", 1))
		wantLines(t, k.ok(t, "apply", "-f", f3), appReappliedLines(ns, "unchanged", "configured")...)
	})

	t.Run("SecretStringData", func(t *testing.T) {
		ns := "e2e-secret"
		k.ok(t, "create", "namespace", ns)
		f := writeFile(t, "secret.yaml", `apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: `+ns+`
stringData:
  password: hunter2
`)
		wantLines(t, k.ok(t, "apply", "-f", f), "secret/token created")
		// stringData is merged into data and never stored.
		got := k.ok(t, "get", "-n", ns, "secret", "token", "-o", "jsonpath={.data.password}|{.stringData}|{.type}")
		if want := base64.StdEncoding.EncodeToString([]byte("hunter2")) + "||Opaque"; got != want {
			t.Errorf("data|stringData|type = %q, want %q", got, want)
		}
		wantMatch(t, k.ok(t, "describe", "-n", ns, "secret", "token"), `^password:\s+7 bytes$`, `^Type:\s+Opaque$`)
		// Upstream reports configured on every apply of stringData
		// (kubernetes/kubernetes#87736): the live object never has it.
		wantLines(t, k.ok(t, "apply", "-f", f), "secret/token configured")
	})

	t.Run("GetOutputs", func(t *testing.T) {
		ns := "e2e-get"
		applyApp(t, k, ns)
		wantLines(t, k.ok(t, "run", "-n", ns, "p1", "--image=nginx:1.27"), "pod/p1 created")
		// The Deployment controller gives web a ReplicaSet and 2 pods
		// (Pending: this server has no nodes).
		waitRolloutStarted(t, k, ns, "web", 2)

		out := k.ok(t, "get", "-n", ns, "pods", "-o", "wide")
		wantHeader(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
		if r := row(t, out, "p1"); !equalStrings(append(r[:4:4], r[5:]...), []string{"p1", "0/1", "Pending", "0", "<none>", "<none>", "<none>", "<none>"}) {
			t.Errorf("pod row = %q", r)
		}
		wantHeader(t, k.ok(t, "get", "-n", ns, "pods"), "NAME", "READY", "STATUS", "RESTARTS", "AGE")

		out = k.ok(t, "get", "-n", ns, "deployments", "-o", "wide")
		wantHeader(t, out, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR")
		if r := row(t, out, "web"); !equalStrings(append(r[:4:4], r[5:]...), []string{"web", "0/2", "2", "0", "nginx", "nginx:1.27", "app=web"}) {
			t.Errorf("deployment row = %q", r)
		}
		wantHeader(t, k.ok(t, "get", "-n", ns, "deploy"), "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")

		out = k.ok(t, "get", "-n", ns, "services", "-o", "wide")
		wantHeader(t, out, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR")
		r := row(t, out, "web")
		if len(r) != 7 || r[1] != "ClusterIP" || r[3] != "<none>" || r[4] != "80/TCP" || r[6] != "app=web" {
			t.Errorf("service row = %q", r)
		}
		if _, cidr, _ := net.ParseCIDR("10.43.0.0/16"); len(r) < 3 || !cidr.Contains(net.ParseIP(r[2])) {
			t.Errorf("cluster IP %q is not in 10.43.0.0/16", r)
		}

		node := "e2e-node-a"
		nf := writeFile(t, "node.yaml", strings.ReplaceAll(nodeManifest, "NAME", node))
		wantLines(t, k.ok(t, "apply", "-f", nf), "node/"+node+" created")
		out = k.ok(t, "get", "nodes", "-o", "wide")
		wantHeader(t, out, "NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME")
		// A node no kubelet reports for: no Ready condition, no version.
		wantMatch(t, out, "^"+node+`\s+Unknown\s+control-plane\s+\S+\s+<none>\s+<none>\s+<unknown>\s+<unknown>\s+<unknown>$`)
		wantHeader(t, k.ok(t, "get", "no"), "NAME", "STATUS", "ROLES", "AGE", "VERSION")
		wantMatch(t, k.ok(t, "delete", "node", node), deleted("node", node))

		// -o yaml and -o json are the object as stored, with defaults.
		var dep map[string]any
		if err := yaml.Unmarshal([]byte(k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "yaml")), &dep); err != nil {
			t.Fatal(err)
		}
		if dep["kind"] != "Deployment" || dep["apiVersion"] != "apps/v1" {
			t.Errorf("yaml kind/apiVersion = %v/%v", dep["kind"], dep["apiVersion"])
		}
		md := dep["metadata"].(map[string]any)
		if _, ok := md["annotations"].(map[string]any)["kubectl.kubernetes.io/last-applied-configuration"]; !ok {
			t.Errorf("no last-applied-configuration annotation: %v", md)
		}
		for _, f := range []string{"uid", "resourceVersion", "creationTimestamp"} {
			if md[f] == nil {
				t.Errorf("metadata.%s missing", f)
			}
		}
		spec := dep["spec"].(map[string]any)
		if spec["revisionHistoryLimit"] != float64(10) || spec["progressDeadlineSeconds"] != float64(600) {
			t.Errorf("deployment defaults missing: %v", spec)
		}

		var pod struct {
			Kind string
			Spec struct {
				Containers []struct {
					ImagePullPolicy          string
					TerminationMessagePolicy string
				}
				RestartPolicy, DNSPolicy, SchedulerName, ServiceAccountName string
			}
			Status struct {
				Phase, QOSClass string
			}
		}
		if err := json.Unmarshal([]byte(k.ok(t, "get", "-n", ns, "pod", "p1", "-o", "json")), &pod); err != nil {
			t.Fatal(err)
		}
		if pod.Kind != "Pod" || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].ImagePullPolicy != "IfNotPresent" ||
			pod.Spec.RestartPolicy != "Always" || pod.Spec.DNSPolicy != "ClusterFirst" || pod.Spec.SchedulerName != "default-scheduler" ||
			pod.Spec.ServiceAccountName != "default" || pod.Status.Phase != "Pending" || pod.Status.QOSClass != "BestEffort" {
			t.Errorf("pod as json = %+v", pod)
		}
		var list struct {
			Kind       string
			APIVersion string
			Items      []struct{ Kind string }
		}
		if err := json.Unmarshal([]byte(k.ok(t, "get", "-n", ns, "deploy,svc", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		if list.Kind != "List" || list.APIVersion != "v1" || len(list.Items) != 2 || list.Items[0].Kind != "Deployment" || list.Items[1].Kind != "Service" {
			t.Errorf("list as json = %+v", list)
		}

		got := k.ok(t, "get", "-n", ns, "deploy", "-o", `jsonpath={range .items[*]}{.metadata.name}={.spec.replicas}{"\n"}{end}`)
		wantLines(t, got, "web=2")
		got = k.ok(t, "get", "-n", ns, "svc", "web", "-o", "jsonpath={.spec.ports[0].port}/{.spec.ports[0].protocol} {.spec.type}")
		if got != "80/TCP ClusterIP" {
			t.Errorf("jsonpath = %q", got)
		}
		var named []string
		for _, l := range lines(k.ok(t, "get", "-n", ns, "deploy,svc,cm,secret,pod", "-o", "name")) {
			if regexp.MustCompile(`^pod/web-\w+-\w+$`).MatchString(l) {
				l = "pod/web-HASH-ID"
			}
			named = append(named, l)
		}
		wantLines(t, strings.Join(named, "\n"),
			"deployment.apps/web", "service/web", "configmap/web-config", "secret/web-secret", "pod/p1", "pod/web-HASH-ID", "pod/web-HASH-ID")
		out = k.ok(t, "get", "-n", ns, "deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image")
		wantLines(t, out, "NAME   REPLICAS   IMAGE", "web    2          nginx:1.27")

		// get all: the "all" category, in discovery order.
		out = k.ok(t, "get", "all", "-n", ns)
		wantMatch(t, out, `^pod/p1\s+0/1\s+Pending\s+0\s+\S+$`, `^service/web\s+ClusterIP\s`, `^deployment\.apps/web\s+0/2\s+2\s+0\s`, `^replicaset\.apps/web-\w+\s+2\s+2\s+0\s`)
		if i, j, k := strings.Index(out, "pod/p1"), strings.Index(out, "service/web"), strings.Index(out, "deployment.apps/web"); !(i < j && j < k) {
			t.Errorf("get all order is not pods, services, deployments:\n%s", out)
		}
		if strings.Contains(out, "configmap/") || strings.Contains(out, "secret/") {
			t.Errorf("get all lists configmaps or secrets:\n%s", out)
		}
		// An empty namespace.
		k.ok(t, "create", "namespace", "e2e-empty")
		_, errOut, err := k.run(t, "get", "pods", "-n", "e2e-empty")
		if err != nil || errOut != "No resources found in e2e-empty namespace.\n" {
			t.Errorf("get in an empty namespace: %v, stderr %q", err, errOut)
		}
		errOut = k.fails(t, "get", "-n", ns, "deploy", "nope")
		wantLines(t, errOut, `Error from server (NotFound): deployments.apps "nope" not found`)
	})

	t.Run("Selectors", func(t *testing.T) {
		ns := "e2e-select"
		k.ok(t, "create", "namespace", ns)
		for i := 1; i <= 5; i++ {
			wantLines(t, k.ok(t, "create", "configmap", "-n", ns, fmt.Sprintf("c%d", i), fmt.Sprintf("--from-literal=n=%d", i)), fmt.Sprintf("configmap/c%d created", i))
		}
		wantLines(t, k.ok(t, "label", "-n", ns, "cm", "c1", "c2", "c3", "grp=x"), "configmap/c1 labeled", "configmap/c2 labeled", "configmap/c3 labeled")
		wantLines(t, k.ok(t, "label", "-n", ns, "cm", "c4", "grp=y"), "configmap/c4 labeled")

		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-l", "grp=x", "-o", "name"), "configmap/c1", "configmap/c2", "configmap/c3")
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-l", "grp in (y)", "-o", "name"), "configmap/c4")
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-l", "grp,grp!=x", "-o", "name"), "configmap/c4")
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-l", "!grp", "-o", "name"), "configmap/c5")
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "--field-selector", "metadata.name=c3", "-o", "name"), "configmap/c3")
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-l", "grp=x", "--field-selector", "metadata.name!=c2", "-o", "name"), "configmap/c1", "configmap/c3")
		out := k.ok(t, "get", "cm", "-A", "--field-selector", "metadata.namespace="+ns+",metadata.name=c5")
		wantHeader(t, out, "NAMESPACE", "NAME", "DATA", "AGE")
		wantMatch(t, out, "^"+ns+`\s+c5\s+1\s+\S+$`)
		out = k.ok(t, "get", "-n", ns, "cm", "-l", "grp=x", "-L", "grp")
		wantHeader(t, out, "NAME", "DATA", "AGE", "GRP")
		wantMatch(t, out, `^c2\s+1\s+\S+\s+x$`)
		_, errOut, err := k.run(t, "get", "-n", ns, "cm", "-l", "grp=zzz")
		if err != nil || errOut != "No resources found in "+ns+" namespace.\n" {
			t.Errorf("empty selection: %v, stderr %q", err, errOut)
		}
		errOut = k.fails(t, "get", "-n", ns, "cm", "--field-selector", "data.n=1")
		// Kinds without their own field labels answer with apimachinery's
		// default conversion; pods with their own.
		wantLines(t, errOut, `Error from server (BadRequest): Unable to find "/v1, Resource=configmaps" that match label selector "", field selector "data.n=1": "data.n" is not a known field selector: only "metadata.name", "metadata.namespace"`)
		errOut = k.fails(t, "get", "-n", ns, "pods", "--field-selector", "spec.bogus=1")
		wantLines(t, errOut, `Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.bogus=1": field label not supported: spec.bogus`)
		// Pods have their own selectable fields.
		k.ok(t, "run", "-n", ns, "runner", "--image=busybox")
		wantLines(t, k.ok(t, "get", "-n", ns, "pods", "--field-selector", "status.phase=Pending,spec.nodeName=", "-o", "name"), "pod/runner")
		_, errOut, _ = k.run(t, "get", "-n", ns, "pods", "--field-selector", "status.phase=Running")
		wantLines(t, errOut, "No resources found in "+ns+" namespace.")

		// --chunk-size pages through the list with continue tokens.
		out, errOut, err = k.run(t, "get", "-n", ns, "cm", "--chunk-size=1", "-v=6")
		if err != nil {
			t.Fatalf("get --chunk-size=1: %v\n%s", err, errOut)
		}
		if ls := lines(out); len(ls) == 0 || ls[0] != "NAME   DATA   AGE" {
			t.Errorf("chunked list header:\n%s", out)
		}
		names := []string{}
		for _, r := range mustRows(t, out) {
			names = append(names, r[0])
		}
		if !equalStrings(names, []string{"c1", "c2", "c3", "c4", "c5"}) {
			t.Errorf("chunked list = %q", names)
		}
		if n := strings.Count(errOut, "&limit=1 200 OK") + strings.Count(errOut, "?limit=1 200 OK"); n < 5 {
			t.Errorf("%d requests with limit=1, want at least 5:\n%s", n, errOut)
		}
		if n := strings.Count(errOut, "continue="); n < 4 {
			t.Errorf("%d requests with a continue token, want at least 4:\n%s", n, errOut)
		}
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "--chunk-size=2", "-o", "name"), "configmap/c1", "configmap/c2", "configmap/c3", "configmap/c4", "configmap/c5")
	})

	t.Run("Watch", func(t *testing.T) {
		ns := "e2e-watch"
		k.ok(t, "create", "namespace", ns)
		k.ok(t, "create", "configmap", "-n", ns, "before")
		w := k.start(t, "get", "-n", ns, "configmaps", "-w")
		w.waitFor(t, `^before\s+0\s+\S+$`)
		k.ok(t, "create", "configmap", "-n", ns, "during", "--from-literal=a=b")
		w.waitFor(t, `^during\s+1\s+\S+$`)
		w.kill()
		if !strings.HasPrefix(w.stdout(), "NAME     DATA   AGE\n") {
			t.Errorf("watch output does not start with the header:\n%s", w.stdout())
		}

		w = k.start(t, "get", "-n", ns, "configmaps", "-w", "--output-watch-events")
		w.waitFor(t, `^ADDED\s+during\s+1\s+\S+$`)
		k.ok(t, "label", "-n", ns, "cm", "during", "x=y")
		w.waitFor(t, `^MODIFIED\s+during\s+1\s+\S+$`)
		k.ok(t, "delete", "-n", ns, "cm", "during")
		w.waitFor(t, `^DELETED\s+during\s+1\s+\S+$`)
		w.kill()
		wantMatch(t, w.stdout(), `^EVENT\s+NAME\s+DATA\s+AGE$`)

		// --watch-only with a label selector: an object that starts
		// matching arrives as ADDED.
		w = k.start(t, "get", "-n", ns, "configmaps", "--watch-only", "--output-watch-events", "-l", "pick=me", "-v=6")
		w.waitForStderr(t, `watch=true`)
		k.ok(t, "create", "configmap", "-n", ns, "late")
		k.ok(t, "label", "-n", ns, "cm", "late", "pick=me")
		w.waitFor(t, `^ADDED\s+late\s+0\s+\S+$`)
		w.kill()
	})

	t.Run("Describe", func(t *testing.T) {
		ns := "e2e-describe"
		applyApp(t, k, ns)
		waitRolloutStarted(t, k, ns, "web", 2)
		out := k.ok(t, "describe", "-n", ns, "deployment", "web")
		wantMatch(t, out,
			`^Name:\s+web$`,
			`^Namespace:\s+`+ns+`$`,
			`^CreationTimestamp:\s+\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$`,
			`^Labels:\s+app=web$`,
			`^Annotations:\s+deployment\.kubernetes\.io/revision: 1$`,
			`^Selector:\s+app=web$`,
			`^Replicas:\s+2 desired \| 2 updated \| 2 total \| 0 available \| 2 unavailable$`,
			`^StrategyType:\s+RollingUpdate$`,
			`^MinReadySeconds:\s+0$`,
			`^RollingUpdateStrategy:\s+25% max unavailable, 25% max surge$`,
			`^Pod Template:$`,
			`^   nginx:$`,
			`^    Image:\s+nginx:1\.27$`,
			`^    Port:\s+80/TCP$`,
			`^  Available\s+False\s+MinimumReplicasUnavailable$`,
			`^OldReplicaSets:\s+<none>$`,
			`^NewReplicaSet:\s+web-\w+ \(2/2 replicas created\)$`,
			`^  Normal  ScalingReplicaSet  \S+\s+deployment-controller  Scaled up replica set web-\w+ from 0 to 2$`)
		out = k.ok(t, "describe", "-n", ns, "service", "web")
		wantMatch(t, out,
			`^Name:\s+web$`,
			`^Selector:\s+app=web$`,
			`^Type:\s+ClusterIP$`,
			`^IP Family Policy:\s+SingleStack$`,
			`^IP Families:\s+IPv4$`,
			`^IP:\s+10\.43\.\d+\.\d+$`,
			`^Port:\s+<unset>\s+80/TCP$`,
			`^TargetPort:\s+80/TCP$`,
			`^Session Affinity:\s+None$`,
			`^Events:\s+<none>$`)
		out = k.ok(t, "describe", "-n", ns, "configmap", "web-config")
		wantMatch(t, out, `^Name:\s+web-config$`, `^Namespace:\s+`+ns+`$`)
		wantContains(t, out, "\nData\n====\ncolor:\n----\nblue\n", "\nBinaryData\n====\n")
		out = k.ok(t, "describe", "namespace", ns)
		wantMatch(t, out, `^Name:\s+`+ns+`$`, `^Labels:\s+kubernetes\.io/metadata\.name=`+ns+`$`, `^Status:\s+Active$`,
			`^No resource quota\.$`, `^No LimitRange resource\.$`)
		out = k.ok(t, "describe", "-n", ns, "secret", "web-secret")
		wantMatch(t, out, `^Type:\s+Opaque$`, `^password:\s+7 bytes$`)
		// describe by prefix, over a kind.
		wantMatch(t, k.ok(t, "describe", "-n", ns, "svc"), `^Name:\s+web$`)
		wantLines(t, k.fails(t, "describe", "-n", ns, "deployment", "nope"), `Error from server (NotFound): deployments.apps "nope" not found`)
	})

	t.Run("LabelAnnotatePatchScale", func(t *testing.T) {
		ns := "e2e-mutate"
		applyApp(t, k, ns)
		get := func(jsonpath string) string {
			return k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath="+jsonpath)
		}
		wantLines(t, k.ok(t, "label", "-n", ns, "deploy", "web", "tier=frontend"), "deployment.apps/web labeled")
		wantLines(t, k.fails(t, "label", "-n", ns, "deploy", "web", "tier=backend"),
			"error: 'tier' already has a value (frontend), and --overwrite is false")
		wantLines(t, k.ok(t, "label", "-n", ns, "deploy", "web", "tier=backend", "--overwrite"), "deployment.apps/web labeled")
		if got := get("{.metadata.labels.tier}"); got != "backend" {
			t.Errorf("tier = %q", got)
		}
		wantLines(t, k.ok(t, "label", "-n", ns, "deploy", "web", "tier-"), "deployment.apps/web unlabeled")
		wantLines(t, k.ok(t, "label", "-n", ns, "deploy", "web", "app=web", "--overwrite"), "deployment.apps/web not labeled")

		wantLines(t, k.ok(t, "annotate", "-n", ns, "deploy", "web", "note=one"), "deployment.apps/web annotated")
		wantLines(t, k.fails(t, "annotate", "-n", ns, "deploy", "web", "note=two"),
			"error: --overwrite is false but found the following declared annotation(s): 'note' already has a value (one)")
		wantLines(t, k.ok(t, "annotate", "-n", ns, "deploy", "web", "note=two", "--overwrite"), "deployment.apps/web annotated")
		if got := get("{.metadata.annotations.note}"); got != "two" {
			t.Errorf("note = %q", got)
		}
		wantLines(t, k.ok(t, "annotate", "-n", ns, "deploy", "web", "note-"), "deployment.apps/web annotated")

		wantLines(t, k.ok(t, "patch", "-n", ns, "deploy", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":3}]`), "deployment.apps/web patched")
		wantLines(t, k.ok(t, "patch", "-n", ns, "deploy", "web", "--type=merge", "-p", `{"metadata":{"labels":{"patched":"merge"}}}`), "deployment.apps/web patched")
		wantLines(t, k.ok(t, "patch", "-n", ns, "deploy", "web", "--type=strategic", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}`), "deployment.apps/web patched")
		wantLines(t, k.ok(t, "patch", "-n", ns, "deploy", "web", "-p",
			`{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`), "deployment.apps/web patched")
		wantLines(t, k.ok(t, "patch", "-n", ns, "deploy", "web", "--type=merge", "-p", `{"spec":{"replicas":3}}`), "deployment.apps/web patched (no change)")
		// Strategic merge adds the sidecar by name; merge and json replace.
		if got := get("{.spec.replicas} {.metadata.labels.patched} {.spec.template.spec.containers[*].name} {.spec.template.spec.containers[*].image} {.metadata.generation}"); got != "3 merge sidecar nginx busybox:1.36 nginx:1.28 4" {
			t.Errorf("after patches = %q", got)
		}
		k.fails(t, "patch", "-n", ns, "deploy", "web", "--type=json", "-p", `[{"op":"test","path":"/spec/replicas","value":9}]`)
		errOut := k.fails(t, "patch", "-n", ns, "deploy", "web", "--type=merge", "-p", `{"spec":{"replicas":-1}}`)
		wantContains(t, errOut, `The Deployment "web" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0`)

		wantLines(t, k.ok(t, "scale", "-n", ns, "deploy", "web", "--replicas=5"), "deployment.apps/web scaled")
		if got := get("{.spec.replicas}"); got != "5" {
			t.Errorf("replicas after scale = %q", got)
		}
		wantMatch(t, k.ok(t, "get", "-n", ns, "deploy", "web"), `^web\s+0/5\s+\d+\s+0\s+\S+$`)
		wantLines(t, k.fails(t, "scale", "-n", ns, "deploy", "web", "--current-replicas=2", "--replicas=1"),
			"error: Expected replicas to be 2, was 5")
		wantLines(t, k.ok(t, "scale", "-n", ns, "deploy", "web", "--current-replicas=5", "--replicas=1"), "deployment.apps/web scaled")
	})

	t.Run("DeleteAndWait", func(t *testing.T) {
		ns := "e2e-delete"
		applyApp(t, k, ns)
		wantMatch(t, k.ok(t, "delete", "-n", ns, "deployment", "web"), deleted("deployment.apps", "web"))
		wantLines(t, k.fails(t, "delete", "-n", ns, "deployment", "web"), `Error from server (NotFound): deployments.apps "web" not found`)
		wantLines(t, k.ok(t, "delete", "-n", ns, "deployment", "web", "--ignore-not-found"))

		// A plain object: wait returns once it is deleted.
		k.ok(t, "create", "configmap", "-n", ns, "plain")
		w := k.startWait(t, "-n", ns, "--for=delete", "configmap/plain", "--timeout=30s")
		wantMatch(t, k.ok(t, "delete", "-n", ns, "configmap", "plain"), deleted("configmap", "plain"))
		if err := w.wait(t); err != nil {
			t.Errorf("wait --for=delete: %v\n%s", err, w.stderr())
		}
		wantLines(t, w.stdout(), "configmap/plain condition met")

		// An object with a finalizer stays, marked for deletion, until
		// the finalizer goes.
		k.ok(t, "create", "configmap", "-n", ns, "held")
		wantLines(t, k.ok(t, "patch", "-n", ns, "configmap", "held", "--type=merge", "-p", `{"metadata":{"finalizers":["e2e.skiff.sh/hold"]}}`), "configmap/held patched")
		wantMatch(t, k.ok(t, "delete", "-n", ns, "configmap", "held", "--wait=false"), deleted("configmap", "held"))
		if got := k.ok(t, "get", "-n", ns, "configmap", "held", "-o", "jsonpath={.metadata.finalizers[0]} {.metadata.deletionGracePeriodSeconds}"); got != "e2e.skiff.sh/hold 0" {
			t.Errorf("finalizers and grace = %q", got)
		}
		if got := k.ok(t, "get", "-n", ns, "configmap", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"); got == "" {
			t.Errorf("no deletionTimestamp on an object being deleted")
		}
		wantLines(t, k.fails(t, "wait", "-n", ns, "--for=delete", "configmap/held", "--timeout=1s"),
			"error: timed out waiting for the condition on configmaps/held")
		w = k.startWait(t, "-n", ns, "--for=delete", "configmap/held", "--timeout=30s")
		wantLines(t, k.ok(t, "patch", "-n", ns, "configmap", "held", "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`), "configmap/held patched")
		if err := w.wait(t); err != nil {
			t.Errorf("wait --for=delete: %v\n%s", err, w.stderr())
		}
		wantLines(t, w.stdout(), "configmap/held condition met")
		wantLines(t, k.fails(t, "get", "-n", ns, "configmap", "held"), `Error from server (NotFound): configmaps "held" not found`)

		// delete -l and --all.
		for _, n := range []string{"a", "b", "c"} {
			k.ok(t, "create", "configmap", "-n", ns, "sel-"+n)
		}
		k.ok(t, "label", "-n", ns, "cm", "sel-a", "sel-b", "doomed=yes")
		out := k.ok(t, "delete", "-n", ns, "cm", "-l", "doomed=yes")
		if ls := lines(out); len(ls) != 2 {
			t.Errorf("delete -l printed %q", ls)
		}
		wantMatch(t, out, deleted("configmap", "sel-a"), deleted("configmap", "sel-b"))
		wantLines(t, k.ok(t, "get", "-n", ns, "cm", "-o", "name"), "configmap/sel-c", "configmap/web-config")
		k.ok(t, "delete", "-n", ns, "cm", "--all")
		_, errOut, _ := k.run(t, "get", "-n", ns, "cm")
		wantLines(t, errOut, "No resources found in "+ns+" namespace.")
	})

	t.Run("Explain", func(t *testing.T) {
		out := k.ok(t, "explain", "pod.spec.containers")
		wantMatch(t, out, `^KIND:\s+Pod$`, `^VERSION:\s+v1$`, `^FIELD: containers <\[\]Container>$`, `^DESCRIPTION:$`, `^FIELDS:$`,
			`^    List of containers belonging to the pod\.`,
			"^  image\t<string>$", "^  name\t<string> -required-$", "^  ports\t<\\[\\]ContainerPort>$", "^  resources\t<ResourceRequirements>$")
		out = k.ok(t, "explain", "deployment.spec")
		wantMatch(t, out, `^GROUP:\s+apps$`, `^KIND:\s+Deployment$`, `^VERSION:\s+v1$`, `^FIELD: spec <DeploymentSpec>$`, `^DESCRIPTION:$`, `^FIELDS:$`,
			"^  replicas\t<integer>$", "^  selector\t<LabelSelector> -required-$", "^  template\t<PodTemplateSpec> -required-$",
			"^  strategy\t<DeploymentStrategy>$")
		out = k.ok(t, "explain", "svc")
		wantMatch(t, out, `^KIND:\s+Service$`, "^  spec\t<ServiceSpec>$", "^  status\t<ServiceStatus>$")
		// Upstream also prints ENUM: and "Possible enum values" here, from
		// +enum markers Skiff's schemas do not carry yet.
		wantMatch(t, k.ok(t, "explain", "deploy.spec.strategy.type"), `^FIELD: type <string>$`, `^    Type of deployment\. Can be "Recreate" or "RollingUpdate"\.`)
		wantMatch(t, k.ok(t, "explain", "pods.spec", "--recursive"), "^  ephemeralContainers\t<\\[\\]EphemeralContainer>$", "^    nodeAffinity\t<NodeAffinity>$")
		wantLines(t, k.fails(t, "explain", "pod.spec.nope"), `error: field "nope" does not exist`)
		wantLines(t, k.fails(t, "explain", "widgets"), `the server doesn't have a resource type "widgets"`)
	})

	t.Run("APIResources", func(t *testing.T) {
		out := k.ok(t, "api-resources")
		wantHeader(t, out, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
		for _, want := range []string{
			"pods po v1 true Pod",
			"services svc v1 true Service",
			"namespaces ns v1 false Namespace",
			"nodes no v1 false Node",
			"configmaps cm v1 true ConfigMap",
			"events ev v1 true Event",
			"serviceaccounts sa v1 true ServiceAccount",
			"endpoints ep v1 true Endpoints",
			"secrets v1 true Secret",
			"limitranges limits v1 true LimitRange",
			"resourcequotas quota v1 true ResourceQuota",
			"deployments deploy apps/v1 true Deployment",
			"replicasets rs apps/v1 true ReplicaSet",
			"daemonsets ds apps/v1 true DaemonSet",
			"statefulsets sts apps/v1 true StatefulSet",
			"controllerrevisions apps/v1 true ControllerRevision",
			"jobs batch/v1 true Job",
			"cronjobs cj batch/v1 true CronJob",
			"horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler",
			"leases coordination.k8s.io/v1 true Lease",
			"endpointslices discovery.k8s.io/v1 true EndpointSlice",
			"events ev events.k8s.io/v1 true Event",
			"priorityclasses pc scheduling.k8s.io/v1 false PriorityClass",
			"networkpolicies netpol networking.k8s.io/v1 true NetworkPolicy",
			"nodes metrics.k8s.io/v1beta1 false NodeMetrics",
			"pods metrics.k8s.io/v1beta1 true PodMetrics",
		} {
			if !regexp.MustCompile(`(?m)^` + strings.ReplaceAll(regexp.QuoteMeta(want), " ", `\s+`) + `$`).MatchString(out) {
				t.Errorf("api-resources has no row %q", want)
			}
		}
		for _, scoped := range []string{"true", "false"} {
			out := k.ok(t, "api-resources", "--namespaced="+scoped)
			_, rows := table(t, out)
			if len(rows) == 0 {
				t.Errorf("--namespaced=%s lists nothing", scoped)
			}
			for _, r := range rows {
				if r[len(r)-2] != scoped {
					t.Errorf("--namespaced=%s lists %q", scoped, r)
				}
			}
		}
		wantMatch(t, k.ok(t, "api-resources", "--namespaced=false"), `^namespaces\s+ns\s+v1\s+false\s+Namespace$`, `^nodes\s+no\s+v1\s+false\s+Node$`)
		out = k.ok(t, "api-resources", "-o", "wide")
		wantHeader(t, out, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES")
		wantMatch(t, out,
			`^pods\s+po\s+v1\s+true\s+Pod\s+create,delete,deletecollection,get,list,patch,update,watch\s+all$`,
			`^namespaces\s+ns\s+v1\s+false\s+Namespace\s+create,delete,get,list,patch,update,watch\s*$`,
			`^deployments\s+deploy\s+apps/v1\s+true\s+Deployment\s+create,delete,deletecollection,get,list,patch,update,watch\s+all$`,
			`^configmaps\s+cm\s+v1\s+true\s+ConfigMap\s+create,delete,deletecollection,get,list,patch,update,watch\s*$`)
		out = k.ok(t, "api-resources", "-o", "name", "--api-group=apps")
		wantLines(t, out, "controllerrevisions.apps", "daemonsets.apps", "deployments.apps", "replicasets.apps", "statefulsets.apps")
		// HorizontalPodAutoscalers are served in two versions, v2 preferred,
		// as upstream.
		wantLines(t, k.ok(t, "api-versions"), strings.Fields(`apps/v1 autoscaling/v1 autoscaling/v2 batch/v1 coordination.k8s.io/v1
			discovery.k8s.io/v1 events.k8s.io/v1 metrics.k8s.io/v1beta1 networking.k8s.io/v1 scheduling.k8s.io/v1 v1`)...)
	})

	t.Run("InvalidManifests", func(t *testing.T) {
		ns := "e2e-invalid"
		k.ok(t, "create", "namespace", ns)
		for _, tc := range []struct {
			name, manifest string
			// want are lines of stderr (%s is the file).
			want []string
		}{
			{"unknown-field", `apiVersion: v1
kind: ConfigMap
metadata:
  name: unknown
data:
  a: b
bogus: field
`, []string{`Error from server (BadRequest): error when creating "%s": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"`}},
			{"nested-unknown-field", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nested
spec:
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
      - name: c
        image: nginx
        imagee: typo
`, []string{`Error from server (BadRequest): error when creating "%s": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagee"`}},
			{"missing-image", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: noimage
spec:
  selector:
    matchLabels: {app: x}
  template:
    metadata:
      labels: {app: x}
    spec:
      containers:
      - name: c
`, []string{`The Deployment "noimage" is invalid: spec.template.spec.containers[0].image: Required value`}},
			{"bad-name", `apiVersion: v1
kind: ConfigMap
metadata:
  name: Bad_Name
`, []string{`The ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}},
			{"unserved-kind", `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: ` + ns + `
`, []string{`error: resource mapping not found for name: "w" namespace: "` + ns + `" from "%s": no matches for kind "Widget" in version "example.com/v1"`, "ensure CRDs are installed first"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := writeFile(t, tc.name+".yaml", tc.manifest)
				var want []string
				for _, w := range tc.want {
					if strings.Contains(w, "%s") {
						w = fmt.Sprintf(w, f)
					}
					want = append(want, w)
				}
				wantLines(t, k.fails(t, "apply", "-n", ns, "-f", f), want...)
				wantLines(t, k.fails(t, "create", "-n", ns, "-f", f), want...)
				// Nothing was created.
				out, errOut, err := k.run(t, "get", "-n", ns, "configmaps,deployments", "-o", "name")
				if err != nil || out != "" {
					t.Errorf("objects after a failed apply: %v %q %q", err, out, errOut)
				}
			})
		}
		// A bad document does not stop the good ones; kubectl exits 1.
		f := writeFile(t, "mixed.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: good
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: Bad_Name
`)
		out, errOut, err := k.run(t, "apply", "-n", ns, "-f", f)
		if err == nil {
			t.Errorf("apply of a partly bad file succeeded")
		}
		wantLines(t, out, "configmap/good created")
		wantContains(t, errOut, `The ConfigMap "Bad_Name" is invalid`)
		// Client-side dry runs and server-side dry runs create nothing.
		wantLines(t, k.ok(t, "create", "configmap", "-n", ns, "dry", "--dry-run=server"), "configmap/dry created (server dry run)")
		wantLines(t, k.fails(t, "get", "-n", ns, "configmap", "dry"), `Error from server (NotFound): configmaps "dry" not found`)
	})

	t.Run("CreateRunDelete", func(t *testing.T) {
		ns := "e2e-create"
		wantLines(t, k.ok(t, "create", "namespace", ns), "namespace/"+ns+" created")
		wantLines(t, k.fails(t, "create", "namespace", ns), `Error from server (AlreadyExists): namespaces "`+ns+`" already exists`)
		wantLines(t, k.ok(t, "create", "configmap", "-n", ns, "app-config", "--from-literal=a=1", "--from-literal=b=two"), "configmap/app-config created")
		if got := k.ok(t, "get", "-n", ns, "cm", "app-config", "-o", "jsonpath={.data.a},{.data.b}"); got != "1,two" {
			t.Errorf("configmap data = %q", got)
		}
		wantLines(t, k.fails(t, "create", "configmap", "-n", ns, "app-config"), `error: failed to create configmap: configmaps "app-config" already exists`)
		wantLines(t, k.ok(t, "create", "secret", "generic", "-n", ns, "creds", "--from-literal=user=admin", "--from-literal=pass=s3cret"), "secret/creds created")
		out := k.ok(t, "get", "-n", ns, "secret", "creds")
		wantHeader(t, out, "NAME", "TYPE", "DATA", "AGE")
		wantMatch(t, out, `^creds\s+Opaque\s+2\s+\S+$`)
		wantMatch(t, k.ok(t, "describe", "-n", ns, "secret", "creds"), `^user:\s+5 bytes$`, `^pass:\s+6 bytes$`)
		if got := k.ok(t, "get", "-n", ns, "secret", "creds", "-o", "jsonpath={.data.user}"); got != base64.StdEncoding.EncodeToString([]byte("admin")) {
			t.Errorf("secret data = %q", got)
		}

		// No scheduler yet: the pod is created and stays Pending.
		wantLines(t, k.ok(t, "run", "-n", ns, "nginx", "--image=nginx:1.27", "--labels=app=nginx,tier=web"), "pod/nginx created")
		out = k.ok(t, "get", "-n", ns, "pods")
		wantMatch(t, out, `^nginx\s+0/1\s+Pending\s+0\s+\S+$`)
		wantLines(t, k.ok(t, "get", "-n", ns, "pods", "-l", "tier=web", "-o", "name"), "pod/nginx")
		out = k.ok(t, "describe", "-n", ns, "pod", "nginx")
		wantMatch(t, out, `^Name:\s+nginx$`, `^Status:\s+Pending$`, `^Node:\s+<none>$`, `^Service Account:\s+default$`,
			`^QoS Class:\s+BestEffort$`, `^    Image:\s+nginx:1\.27$`,
			`^Tolerations:\s+node\.kubernetes\.io/not-ready:NoExecute op=Exists for 300s$`)
		out, errOut, err := k.run(t, "delete", "-n", ns, "pod", "nginx", "--grace-period=0", "--force")
		if err != nil {
			t.Fatalf("delete --force: %v\n%s", err, errOut)
		}
		wantMatch(t, out, "^"+regexp.QuoteMeta(`pod "nginx" force deleted`)+`( from \S+ namespace)?$`)
		wantContains(t, errOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
		_, errOut, _ = k.run(t, "get", "-n", ns, "pods")
		wantLines(t, errOut, "No resources found in "+ns+" namespace.")

		// A pod on no node goes at once on a graceful delete, as upstream.
		k.ok(t, "run", "-n", ns, "quick", "--image=nginx:1.27")
		wantMatch(t, k.ok(t, "delete", "-n", ns, "pod", "quick", "--timeout=20s"), deleted("pod", "quick"))
		wantLines(t, k.fails(t, "get", "-n", ns, "pod", "quick"), `Error from server (NotFound): pods "quick" not found`)

		// create deployment and expose it.
		wantLines(t, k.ok(t, "create", "deployment", "-n", ns, "api", "--image=nginx:1.27", "--replicas=2", "--port=8080"), "deployment.apps/api created")
		wantLines(t, k.ok(t, "expose", "-n", ns, "deployment", "api", "--port=80", "--target-port=8080"), "service/api exposed")
		wantMatch(t, k.ok(t, "get", "-n", ns, "svc", "api", "-o", "wide"), `^api\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80/TCP\s+\S+\s+app=api$`)
	})
}

func mustRows(t *testing.T, out string) [][]string {
	t.Helper()
	_, rows := table(t, out)
	return rows
}
