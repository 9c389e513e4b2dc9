package pki

import (
	"net"
	"os"
	"strings"
)

// DefaultClusterDomain is used by DefaultServingHosts when clusterDomain is
// empty.
const DefaultClusterDomain = "cluster.local"

// DefaultServingHosts returns the names and addresses an API server serving
// certificate should cover, without duplicates, in this order: 127.0.0.1,
// ::1, localhost, the host name (os.Hostname, lower-cased), every non-loopback,
// non-link-local IP of the host's interfaces, serviceIP (the first IP of the
// service CIDR; skipped when nil), kubernetes, kubernetes.default,
// kubernetes.default.svc and kubernetes.default.svc.<clusterDomain>.
//
// An empty clusterDomain means DefaultClusterDomain; a trailing dot is
// dropped. Failures to read the host name or interfaces only omit those
// entries: the result is always usable. Link-local addresses are left out
// because they are only reachable together with an interface zone, which a
// certificate cannot carry.
func DefaultServingHosts(serviceIP net.IP, clusterDomain string) []string {
	return defaultServingHosts(serviceIP, clusterDomain, os.Hostname, net.InterfaceAddrs)
}

// defaultServingHosts is DefaultServingHosts with injectable host lookups.
func defaultServingHosts(serviceIP net.IP, clusterDomain string, hostname func() (string, error), interfaceAddrs func() ([]net.Addr, error)) []string {
	var hosts []string
	seen := map[string]bool{}
	add := func(h string) {
		if h == "" || seen[h] {
			return
		}
		seen[h] = true
		hosts = append(hosts, h)
	}

	add("127.0.0.1")
	add("::1")
	add("localhost")
	if name, err := hostname(); err == nil {
		add(strings.ToLower(strings.TrimSuffix(name, ".")))
	}
	if addrs, err := interfaceAddrs(); err == nil {
		for _, a := range addrs {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			default:
				continue
			}
			if ip == nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() {
				continue
			}
			add(ip.String())
		}
	}
	if serviceIP != nil {
		add(serviceIP.String())
	}

	domain := strings.TrimSuffix(clusterDomain, ".")
	if domain == "" {
		domain = DefaultClusterDomain
	}
	add("kubernetes")
	add("kubernetes.default")
	add("kubernetes.default.svc")
	add("kubernetes.default.svc." + domain)
	return hosts
}
