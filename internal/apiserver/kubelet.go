package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// defaultKubeletAddressTypes is the order in which a node's addresses are
// tried, as kubeadm and k3s configure upstream's
// --kubelet-preferred-address-types.
var defaultKubeletAddressTypes = []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName}

// kubeletClient reaches kubelets over HTTPS with the server's kubelet
// client certificate. As upstream without --kubelet-certificate-authority,
// it does not verify the kubelet's serving certificate.
type kubeletClient struct {
	tls       *tls.Config
	transport *http.Transport
	// plain reaches other ports of nodes and pods, without the client
	// certificate.
	plain        *http.Transport
	addressTypes []corev1.NodeAddressType
	defaultPort  int
}

func newKubeletClient(cfg *Config) (*kubeletClient, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // upstream's default without a kubelet CA
	if cfg.KubeletClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.KubeletClientCertFile, cfg.KubeletClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("apiserver: kubelet client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return &kubeletClient{
		tls: t,
		// No Proxy: kubelets are reached directly, whatever the environment
		// says; and HTTP/1.1 (a custom TLS config turns HTTP/2 off), which
		// upgrades need.
		transport:    &http.Transport{TLSClientConfig: t, MaxIdleConnsPerHost: 4},
		plain:        &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}, //nolint:gosec // as upstream's proxy transport
		addressTypes: cfg.KubeletPreferredAddressTypes,
		defaultPort:  cfg.KubeletPort,
	}, nil
}

// noPreferredAddress is upstream's NoMatchError.
type noPreferredAddress struct{ addresses []corev1.NodeAddress }

func (e *noPreferredAddress) Error() string {
	return fmt.Sprintf("no preferred addresses found; known addresses: %v", e.addresses)
}

// kubeletHostPort picks the node's kubelet address: the first address of
// the first preferred type, and the port the kubelet reports (defaultPort
// when it reports none).
func kubeletHostPort(node *corev1.Node, types []corev1.NodeAddressType, defaultPort int) (string, error) {
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port <= 0 {
		port = defaultPort
	}
	for _, t := range types {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return net.JoinHostPort(a.Address, strconv.Itoa(port)), nil
			}
		}
		// As upstream, the hostname label stands in for a missing Hostname address.
		if t == corev1.NodeHostName {
			if h := node.Labels[corev1.LabelHostname]; h != "" {
				return net.JoinHostPort(h, strconv.Itoa(port)), nil
			}
		}
	}
	return "", &noPreferredAddress{addresses: node.Status.Addresses}
}

// kubeletURL is the URL of path on the kubelet of nodeName.
func (s *Server) kubeletURL(ctx context.Context, nodeName, path string, query url.Values) (*url.URL, error) {
	obj, _, err := s.getObject(ctx, s.resources.lookup("", "v1", "nodes"), "", nodeName)
	if err != nil {
		return nil, err
	}
	hostPort, err := kubeletHostPort(obj.(*corev1.Node), s.kubelets.addressTypes, s.kubelets.defaultPort)
	if err != nil {
		return nil, unknownError(err)
	}
	return &url.URL{Scheme: "https", Host: hostPort, Path: path, RawQuery: query.Encode()}, nil
}

// unknownError is how upstream answers an error that is not an API
// status (a kubelet that cannot be dialed, say): 500 with the error's text
// and no reason.
func unknownError(err error) error {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		return err
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}}
}
