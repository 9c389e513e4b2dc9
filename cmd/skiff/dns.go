package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/dns"
)

// serverDNS is the cluster DNS inside `skiff server` and `skiff up`: it
// listens on the advertise address and keeps kube-system/kube-dns (the
// --cluster-dns address) pointing there.
type serverDNS struct {
	cfg *controlplane.Config
	s   atomic.Pointer[dns.Server]
}

func newServerDNS(cfg *controlplane.Config) *serverDNS { return &serverDNS{cfg: cfg} }

func (c *serverDNS) Name() string { return dns.Component }

func (c *serverDNS) Ready() bool {
	s := c.s.Load()
	return s != nil && s.Ready()
}

func (c *serverDNS) Healthz(ctx context.Context) error {
	s := c.s.Load()
	if s == nil {
		return errors.New("not started")
	}
	return s.Healthz(ctx)
}

func (c *serverDNS) Run(ctx context.Context) error {
	// RBAC is not served yet: system:masters for now.
	path, err := controlplane.ComponentKubeconfig(c.cfg, "coredns", "system:serviceaccount:kube-system:coredns", []string{"system:masters"})
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rest.AddUserAgent(rc, dns.Component))
	if err != nil {
		return err
	}
	adv := c.cfg.AdvertiseAddress
	if adv == nil {
		adv = apiserver.DefaultAdvertiseAddress()
	}
	advIP, ok := netip.AddrFromSlice(adv.To4())
	if !ok {
		return fmt.Errorf("cluster DNS: the advertise address %s is not IPv4 (set --advertise-address, or --cluster-dns-port 0)", adv)
	}
	cfg := dns.Config{
		Client: client, Domain: c.cfg.ClusterDomain,
		Listen: net.JoinHostPort(advIP.String(), strconv.Itoa(c.cfg.ClusterDNSPort)),
		Logger: c.cfg.Logger,
	}
	// A loopback address cannot stand behind a Service (pods could not
	// reach it): then the server answers only where it listens.
	if !advIP.IsLoopback() {
		cfg.ServiceIP, _ = netip.AddrFromSlice(c.cfg.ClusterDNS.To4())
		cfg.AdvertiseIP = advIP
	}
	s, err := dns.New(cfg)
	if err != nil {
		return err
	}
	c.s.Store(s)
	return s.Run(ctx)
}
