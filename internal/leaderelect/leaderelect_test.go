package leaderelect

import (
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Config{Enabled: true}
	if err := c.Default("kube-controller-manager"); err != nil {
		t.Fatal(err)
	}
	if c.LeaseDuration != 15*time.Second || c.RenewDeadline != 10*time.Second || c.RetryPeriod != 2*time.Second ||
		c.Namespace != "kube-system" || c.Name != "kube-controller-manager" || c.Identity == "" {
		t.Errorf("defaults = %+v", c)
	}
	named := Config{Name: "mine"}
	if err := named.Default("kube-scheduler"); err != nil || named.Name != "mine" {
		t.Errorf("a set name must stay: %q %v", named.Name, err)
	}
	bad := Config{Enabled: true, LeaseDuration: time.Second, RenewDeadline: 2 * time.Second}
	if err := bad.Default("x"); err == nil {
		t.Error("leaseDuration <= renewDeadline must be refused")
	}
	if err := (&Config{}).Default(""); err == nil {
		t.Error("a Lease needs a name")
	}
}
