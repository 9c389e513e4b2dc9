package apiserver_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func cmNames(l *corev1.ConfigMapList) string {
	var names []string
	for _, cm := range l.Items {
		names = append(names, cm.Name)
	}
	return strings.Join(names, ",")
}

// TestIntegrationList covers selectors, paging and reads at a revision.
func TestIntegrationList(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	jc := jsonClient(t, s)

	t.Run("LabelSelector", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i, l := range []map[string]string{{"app": "a", "tier": "web"}, {"app": "a"}, {"app": "b", "tier": "db"}, nil} {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), l), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			for sel, want := range map[string]string{
				"app=a":              "cm0,cm1",
				"app!=a":             "cm2,cm3",
				"tier":               "cm0,cm2",
				"!tier":              "cm1,cm3",
				"app in (a,b),tier":  "cm0,cm2",
				"app notin (a)":      "cm2,cm3",
				"app=a,tier=web":     "cm0",
				"app=zzz":            "",
				"":                   "cm0,cm1,cm2,cm3",
				"tier in (web, db) ": "cm0,cm2",
			} {
				l, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					t.Fatalf("%q: %v", sel, err)
				}
				if got := cmNames(l); got != want {
					t.Errorf("labelSelector %q = %s, want %s", sel, got, want)
				}
			}
		}
		_, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{LabelSelector: "app=(a"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		// Across namespaces: the selector applies to the whole list.
		l, err := c.CoreV1().ConfigMaps("").List(bg(), metav1.ListOptions{LabelSelector: "app=b"})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, cm := range l.Items {
			if cm.Labels["app"] != "b" {
				t.Errorf("all-namespace list matched %s/%s %v", cm.Namespace, cm.Name, cm.Labels)
			}
			found = found || (cm.Namespace == ns && cm.Name == "cm2")
		}
		if !found {
			t.Errorf("all-namespace list missed %s/cm2", ns)
		}
	})

	t.Run("FieldSelector", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for _, p := range []*corev1.Pod{testPod("unscheduled"), testPod("on-n1"), testPod("on-n2")} {
			if p.Name != "unscheduled" {
				p.Spec.NodeName = "n" + p.Name[len(p.Name)-1:]
			}
			if _, err := c.CoreV1().Pods(ns).Create(bg(), p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		running, _ := c.CoreV1().Pods(ns).Get(bg(), "on-n1", metav1.GetOptions{})
		running.Status.Phase = corev1.PodRunning
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(bg(), running, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		podNames := func(sel string) string {
			t.Helper()
			l, err := jc.CoreV1().Pods(ns).List(bg(), metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				t.Fatalf("%q: %v", sel, err)
			}
			var names []string
			for _, p := range l.Items {
				names = append(names, p.Name)
			}
			return strings.Join(names, ",")
		}
		for sel, want := range map[string]string{
			"metadata.name=on-n1":                         "on-n1",
			"metadata.name!=on-n1":                        "on-n2,unscheduled",
			"spec.nodeName=n2":                            "on-n2",
			"spec.nodeName=":                              "unscheduled",
			"spec.nodeName!=":                             "on-n1,on-n2",
			"status.phase=Running":                        "on-n1",
			"status.phase=Pending,spec.nodeName!=":        "on-n2",
			"metadata.namespace=" + ns:                    "on-n1,on-n2,unscheduled",
			"metadata.namespace=other":                    "",
			"spec.restartPolicy=Always,status.phase!=Foo": "on-n1,on-n2,unscheduled",
		} {
			if got := podNames(sel); got != want {
				t.Errorf("pods fieldSelector %q = %s, want %s", sel, got, want)
			}
		}
		// Events by involved object.
		for i, obj := range []string{"on-n1", "on-n2", "on-n1"} {
			ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ev%d", i)},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: obj},
				Reason:         "Test", Message: "m", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "test"},
				FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1}
			if _, err := c.CoreV1().Events(ns).Create(bg(), ev, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := c.CoreV1().Events(ns).List(bg(), metav1.ListOptions{FieldSelector: "involvedObject.name=on-n1,involvedObject.kind=Pod"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs.Items) != 2 || evs.Items[0].Name != "ev0" || evs.Items[1].Name != "ev2" {
			t.Errorf("events by involvedObject.name: %d items", len(evs.Items))
		}
		// Secrets by type.
		for name, typ := range map[string]corev1.SecretType{"opaque": corev1.SecretTypeOpaque, "tls": corev1.SecretTypeTLS} {
			sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: typ, Data: map[string][]byte{"a": []byte("b")}}
			if typ == corev1.SecretTypeTLS {
				sec.Data = map[string][]byte{corev1.TLSCertKey: []byte("c"), corev1.TLSPrivateKeyKey: []byte("k")}
			}
			if _, err := c.CoreV1().Secrets(ns).Create(bg(), sec, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		secs, err := c.CoreV1().Secrets(ns).List(bg(), metav1.ListOptions{FieldSelector: "type=" + string(corev1.SecretTypeTLS)})
		if err != nil {
			t.Fatal(err)
		}
		if len(secs.Items) != 1 || secs.Items[0].Name != "tls" {
			t.Errorf("secrets by type: %+v", secs.Items)
		}
		// Namespaces by phase.
		nss, err := c.CoreV1().Namespaces().List(bg(), metav1.ListOptions{FieldSelector: "status.phase=Active,metadata.name=" + ns})
		if err != nil {
			t.Fatal(err)
		}
		if len(nss.Items) != 1 {
			t.Errorf("namespaces by phase: %d", len(nss.Items))
		}
		// Unsupported fields: 400, with upstream's messages.
		_, err = c.CoreV1().Pods(ns).List(bg(), metav1.ListOptions{FieldSelector: "spec.foo=bar"})
		st := wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		if st.Message != "field label not supported: spec.foo" {
			t.Errorf("pods message = %q", st.Message)
		}
		_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{FieldSelector: "data.k=v"})
		st = wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		if want := `"data.k" is not a known field selector: only "metadata.name", "metadata.namespace"`; st.Message != want {
			t.Errorf("configmaps message = %q\nwant                 %q", st.Message, want)
		}
		// The same holds for a watch.
		_, err = c.CoreV1().Pods(ns).Watch(bg(), metav1.ListOptions{FieldSelector: "spec.foo=bar"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		// Malformed selector.
		_, err = c.CoreV1().Pods(ns).List(bg(), metav1.ListOptions{FieldSelector: "spec.nodeName"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
	})

	t.Run("Paging", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 7; i++ {
			l := map[string]string{"odd": strconv.FormatBool(i%2 == 1)}
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), l), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			first, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			if cmNames(first) != "cm0,cm1,cm2" || first.Continue == "" || first.RemainingItemCount == nil || *first.RemainingItemCount != 4 {
				t.Fatalf("first page = %s continue=%q remaining=%v", cmNames(first), first.Continue, first.RemainingItemCount)
			}
			// Changes after the first page do not show on later pages.
			extra := testConfigMap(fmt.Sprintf("cm3a-%p", client), nil)
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), extra, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cm5, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "cm5", metav1.GetOptions{})
			cm5.Data["k"] = "changed"
			if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm5, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			var all []corev1.ConfigMap
			all = append(all, first.Items...)
			next := first.Continue
			pages := 1
			for next != "" {
				page, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 3, Continue: next})
				if err != nil {
					t.Fatal(err)
				}
				if page.ResourceVersion != first.ResourceVersion {
					t.Errorf("page %d read at %s, first at %s", pages+1, page.ResourceVersion, first.ResourceVersion)
				}
				all = append(all, page.Items...)
				next = page.Continue
				pages++
				if next != "" && (page.RemainingItemCount == nil || *page.RemainingItemCount != int64(7-3*pages)) {
					t.Errorf("page %d remaining = %v", pages, page.RemainingItemCount)
				}
				if next == "" && page.RemainingItemCount != nil {
					t.Errorf("last page remaining = %v, want unset", *page.RemainingItemCount)
				}
			}
			if pages != 3 || len(all) != 7 {
				t.Errorf("paged list: %d pages, %d items", pages, len(all))
			}
			for _, cm := range all {
				if strings.HasPrefix(cm.Name, "cm3a") {
					t.Errorf("a later create showed in the paged list: %s", cm.Name)
				}
				if cm.Name == "cm5" && cm.Data["k"] != "v" {
					t.Errorf("a later update showed in the paged list")
				}
			}
			if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), extra.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			cm5.Data["k"] = "v"
			cm5.ResourceVersion = ""
			if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm5, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// With a selector the page still holds at most limit items and no
		// remaining count; pages together hold all matches.
		var odd []string
		next := ""
		for {
			page, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, Continue: next, LabelSelector: "odd=true"})
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > 2 {
				t.Errorf("page of %d items with limit 2", len(page.Items))
			}
			if page.RemainingItemCount != nil {
				t.Errorf("selector page has remainingItemCount %d", *page.RemainingItemCount)
			}
			for _, cm := range page.Items {
				odd = append(odd, cm.Name)
			}
			if next = page.Continue; next == "" {
				break
			}
		}
		if strings.Join(odd, ",") != "cm1,cm3,cm5" {
			t.Errorf("selector paging = %v", odd)
		}
		// limit larger than the list: no continue.
		l, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if l.Continue != "" || l.RemainingItemCount != nil || len(l.Items) != 7 {
			t.Errorf("big limit: %d items continue=%q", len(l.Items), l.Continue)
		}
		// Exactly limit items: no continue either.
		l, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if l.Continue != "" || len(l.Items) != 7 {
			t.Errorf("limit = len: %d items continue=%q", len(l.Items), l.Continue)
		}
		// A garbage continue token is 400.
		_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, Continue: "garbage"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		// continue with a resourceVersion is upstream's 400.
		p1, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, Continue: p1.Continue, ResourceVersion: p1.ResourceVersion})
		st := wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		if st.Message != "specifying resource version is not allowed when using continue" {
			t.Errorf("message = %q", st.Message)
		}
		// resourceVersion=0 with continue is tolerated.
		if _, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, Continue: p1.Continue, ResourceVersion: "0"}); err != nil {
			t.Errorf("continue with resourceVersion=0: %v", err)
		}
	})

	t.Run("PagingAcrossNamespaces", func(t *testing.T) {
		t.Parallel()
		for i := 0; i < 3; i++ {
			ns := newNamespace(t, c)
			for j := 0; j < 2; j++ {
				if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("x%d", j), nil), metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Other subtests write meanwhile: every page reads the first
		// page's revision, and together they are the list at it.
		first, err := jc.CoreV1().ConfigMaps("").List(bg(), metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		var paged []string
		page := first
		for {
			for _, cm := range page.Items {
				paged = append(paged, cm.Namespace+"/"+cm.Name)
			}
			if page.Continue == "" {
				break
			}
			if page, err = c.CoreV1().ConfigMaps("").List(bg(), metav1.ListOptions{Limit: 2, Continue: page.Continue}); err != nil {
				t.Fatal(err)
			}
			if page.ResourceVersion != first.ResourceVersion {
				t.Fatalf("page at %s, first at %s", page.ResourceVersion, first.ResourceVersion)
			}
		}
		whole, err := c.CoreV1().ConfigMaps("").List(bg(), metav1.ListOptions{ResourceVersion: first.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, cm := range whole.Items {
			all = append(all, cm.Namespace+"/"+cm.Name)
		}
		if strings.Join(paged, ",") != strings.Join(all, ",") {
			t.Errorf("paged %d items, whole list %d:\n%v\n%v", len(paged), len(all), paged, all)
		}
		if !sort.StringsAreSorted(all) {
			t.Errorf("all-namespace list not in namespace/name order")
		}
	})

	t.Run("ResourceVersionExact", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 3; i++ {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		before, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "cm0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		cm1 := &before.Items[1]
		cm1.Data["k"] = "new"
		if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm1, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			old, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersion: before.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
			if err != nil {
				t.Fatal(err)
			}
			if cmNames(old) != "cm0,cm1,cm2" || old.Items[1].Data["k"] != "v" || old.ResourceVersion != before.ResourceVersion {
				t.Errorf("exact read = %s rv %s data %v", cmNames(old), old.ResourceVersion, old.Items[1].Data)
			}
			// Paging an old revision.
			p1, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, ResourceVersion: before.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
			if err != nil {
				t.Fatal(err)
			}
			p2, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 2, Continue: p1.Continue})
			if err != nil {
				t.Fatal(err)
			}
			if cmNames(p1)+";"+cmNames(p2) != "cm0,cm1;cm2" {
				t.Errorf("paged exact read = %s;%s", cmNames(p1), cmNames(p2))
			}
			now, err := client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				t.Fatal(err)
			}
			if cmNames(now) != "cm1,cm2" {
				t.Errorf("resourceVersion=0 list = %s", cmNames(now))
			}
			now, err = client.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersion: before.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
			if err != nil {
				t.Fatal(err)
			}
			if cmNames(now) != "cm1,cm2" {
				t.Errorf("NotOlderThan list = %s", cmNames(now))
			}
			// A get at resourceVersion=0 is served.
			if _, err := client.CoreV1().ConfigMaps(ns).Get(bg(), "cm1", metav1.GetOptions{ResourceVersion: "0"}); err != nil {
				t.Errorf("get rv=0: %v", err)
			}
		}
		// resourceVersionMatch without resourceVersion: 422 on ListOptions.
		_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersion: "abc"})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
	})

	t.Run("ListMetaAndKinds", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("a", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := rawDo(t, s.Config, "GET", "/api/v1/namespaces/"+ns+"/configmaps", "", nil)
		body := string(r.body)
		if r.code != 200 || !strings.HasPrefix(body, `{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":`) {
			t.Errorf("raw list: %d %s", r.code, body)
		}
		if !strings.Contains(body, `"kind":"ConfigMap"`) && !strings.Contains(body, `"name":"a"`) {
			t.Errorf("raw list items: %s", body)
		}
		// Empty list: items is [] not null? upstream sends "items":[].
		ns2 := newNamespace(t, c)
		r = rawDo(t, s.Config, "GET", "/api/v1/namespaces/"+ns2+"/configmaps", "", nil)
		if !strings.Contains(string(r.body), `"items":[]`) {
			t.Errorf("empty list: %s", r.body)
		}
		// Namespaced list across namespaces is sorted by namespace then name.
		l, err := c.CoreV1().Namespaces().List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !sort.SliceIsSorted(l.Items, func(i, j int) bool { return l.Items[i].Name < l.Items[j].Name }) {
			t.Errorf("namespaces not in name order")
		}
	})
}
