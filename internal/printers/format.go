package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// column returns a priority-0 column definition.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wide returns c with Priority 1: kubectl shows it only with -o wide.
func wide(c metav1.TableColumnDefinition) metav1.TableColumnDefinition {
	c.Priority = 1
	return c
}

// nameColumn is the NAME column every printer starts with.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{
		Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"],
	}
}

// ageColumn is the AGE column: how long ago the object was created.
func ageColumn() metav1.TableColumnDefinition {
	return column("Age", "string", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"])
}

// containersColumn and imagesColumn list a pod template's containers.
func containersColumn() metav1.TableColumnDefinition {
	return column("Containers", "string", "Names of each container in the template.")
}

func imagesColumn() metav1.TableColumnDefinition {
	return column("Images", "string", "Images referenced by each container in the template.")
}

// since is how long before now t was, as duration.HumanDuration writes it
// ("5m", "3d4h"), or "<unknown>" for the zero time.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// sinceMicro is since for a MicroTime.
func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells joins the names and the images of containers with commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	i := make([]string, len(containers))
	for k, c := range containers {
		n[k], i[k] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// boolPtr writes *b as "True" or "False", and nil as "<unset>".
func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return "<unset>"
	case *b:
		return "True"
	}
	return "False"
}

// quantity writes q in its canonical form, "<nil>" for nil, without caching
// the form in q (Quantity.String does) so that q is left untouched.
func quantity(q *resource.Quantity) string {
	if q == nil {
		return "<nil>"
	}
	c := q.DeepCopy()
	return c.String()
}

// firstOfMany joins at most limit items with sep, followed by " + N more..."
// when there are N more than limit. It returns empty when there are none.
func firstOfMany(items []string, limit int, sep string) string {
	if len(items) > limit {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:limit], sep), len(items)-limit)
	}
	return strings.Join(items, sep)
}

// int32Value returns *p, or 0 for nil: what a pointer field becomes when
// upstream converts it to its internal, non-pointer form.
func int32Value(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
