#!/usr/bin/env bash
# Installs what building and testing Skiff needs on a Debian machine, and
# only what is missing. Run as root (make up / make test do).
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }

if ! have go && [ ! -x /usr/local/go/bin/go ]; then
  echo "Go is required (1.26 or newer, at /usr/local/go or on PATH)." >&2
  exit 1
fi
# Debian's etcd-server: the external-etcd tests run it as a separate cluster.
have etcd || need+=(etcd-server)
# iproute2 and iptables: the pod network (CNI bridge and its NAT rules)
# and, later, the proxy.
have ip || need+=(iproute2)
have iptables || need+=(iptables)
# nftables: kube-proxy's default mode programs the kernel with nft.
have nft || need+=(nftables)
# The real node: the containerd Skiff supervises, runc under it, and the
# CNI plugins it runs (bridge, host-local, portmap, loopback).
have containerd || need+=(containerd)
have runc || [ -x /usr/sbin/runc ] || need+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || need+=(containernetworking-plugins)
# busybox-static: the tests build their container images from it.
[ -x /usr/bin/busybox ] || need+=(busybox-static)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Packages must not start their services here (etcd would take :2379).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! have kubectl; then
  echo "note: kubectl is not installed; the end-to-end tests that drive it will be skipped" >&2
fi
