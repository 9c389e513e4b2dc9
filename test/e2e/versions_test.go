package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKubectlSkew runs a core subset with the oldest and newest kubectl
// releases on this machine, against the shared server.
func TestKubectlSkew(t *testing.T) {
	requireE2E(t)
	for _, v := range []string{"1.27", "1.33"} {
		t.Run(v, func(t *testing.T) {
			bin := filepath.Join(olderKubectls, "kubectl."+v)
			if _, err := os.Stat(bin); err != nil {
				t.Skipf("%s is not installed", bin)
			}
			c := sharedCluster(t)
			k := kubectl{bin: bin, c: c}
			ns := "e2e-skew-" + strings.ReplaceAll(v, ".", "")

			f := applyApp(t, k, ns)
			wantLines(t, k.ok(t, "apply", "-f", f), appReappliedLines(ns, "unchanged", "unchanged")...)
			f2 := writeFile(t, "app2.yaml", appManifest(ns, "red", "nginx:1.28"))
			wantLines(t, k.ok(t, "apply", "-f", f2), appReappliedLines(ns, "configured", "configured")...)

			wantLines(t, k.ok(t, "run", "-n", ns, "p1", "--image=nginx:1.27"), "pod/p1 created")
			out := k.ok(t, "get", "-n", ns, "pods", "-o", "wide")
			wantHeader(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES")
			wantMatch(t, out, `^p1\s+0/1\s+Pending\s+0\s+\S+\s+<none>\s+<none>\s+<none>\s+<none>$`)
			out = k.ok(t, "get", "-n", ns, "deploy", "-o", "wide")
			wantHeader(t, out, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR")
			// Mid-rollout (no nodes: nothing becomes available), so the
			// updated count depends on timing.
			wantMatch(t, out, `^web\s+0/2\s+\d+\s+0\s+\S+\s+nginx\s+nginx:1\.28\s+app=web$`)
			out = k.ok(t, "get", "-n", ns, "svc", "-o", "wide")
			wantHeader(t, out, "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR")
			wantMatch(t, out, `^web\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80/TCP\s+\S+\s+app=web$`)
			wantMatch(t, k.ok(t, "get", "all", "-n", ns), `^pod/p1\s`, `^service/web\s`, `^deployment\.apps/web\s`)

			wantMatch(t, k.ok(t, "describe", "-n", ns, "deploy", "web"),
				`^Name:\s+web$`, `^Replicas:\s+2 desired \| \d+ updated \| \d+ total \| 0 available \| \d+ unavailable$`, `^    Image:\s+nginx:1\.28$`)
			wantMatch(t, k.ok(t, "describe", "-n", ns, "svc", "web"), `^Type:\s+ClusterIP$`, `^Port:\s+<unset>\s+80/TCP$`)
			wantMatch(t, k.ok(t, "describe", "-n", ns, "cm", "web-config"), `^color:$`, `^red$`)

			wantMatch(t, k.ok(t, "explain", "pod.spec.containers"),
				`^KIND:\s+Pod$`, `^FIELD: containers <\[\]Container>$`, `^DESCRIPTION:$`, `^FIELDS:$`, "^  image\t<string>$")
			wantMatch(t, k.ok(t, "explain", "deployment.spec"), `^GROUP:\s+apps$`, `^FIELD: spec <DeploymentSpec>$`, "^  template\t<PodTemplateSpec> -required-$")

			out = k.ok(t, "api-resources")
			wantHeader(t, out, "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")
			wantMatch(t, out, `^pods\s+po\s+v1\s+true\s+Pod$`, `^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$`,
				`^namespaces\s+ns\s+v1\s+false\s+Namespace$`, `^services\s+svc\s+v1\s+true\s+Service$`)

			wantMatch(t, k.ok(t, "delete", "-n", ns, "pod", "p1", "--grace-period=0", "--force"), `^pod "p1" force deleted`)
			// The file names the namespace first, so the namespace
			// controller may empty it before kubectl deletes the rest:
			// what is already gone is no error.
			out = k.ok(t, "delete", "-f", f2, "--wait=false", "--ignore-not-found")
			wantMatch(t, out, deleted("namespace", ns))
			_, errOut, _ := k.run(t, "get", "-n", ns, "deploy,svc,cm,secret")
			wantLines(t, errOut, "No resources found in "+ns+" namespace.")
			waitFor(t, 30*time.Second, func() (bool, string) {
				out, errOut, _ := k.run(t, "get", "ns", ns)
				return strings.Contains(errOut, `namespaces "`+ns+`" not found`), out + errOut
			})
		})
	}
}
