package nodeipam

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// MaxMaskDiff is the most bits a node CIDR may be longer than its cluster
// CIDR (upstream's limit: at most 65536 node CIDRs per range).
const MaxMaskDiff = 16

// ErrFull is AllocateNext's error when every node CIDR of the range is
// taken (upstream's message).
var ErrFull = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")

// CIDRSet is a bitmap of the node CIDRs (subnets of one mask size) of one
// cluster CIDR: bit i is set when the i-th node CIDR is in use. It is not
// safe for concurrent use.
type CIDRSet struct {
	cluster  netip.Prefix
	nodeBits int
	size     int // node CIDRs in the range
	used     []uint64
	count    int // bits set
	next     int // where AllocateNext looks first (round robin, as upstream)
}

// NewCIDRSet makes an empty set of the /nodeBits subnets of cluster.
func NewCIDRSet(cluster netip.Prefix, nodeBits int) (*CIDRSet, error) {
	if !cluster.IsValid() {
		return nil, errors.New("invalid cluster CIDR")
	}
	cluster = cluster.Masked()
	if nodeBits < cluster.Bits() || nodeBits > cluster.Addr().BitLen() {
		return nil, fmt.Errorf("node CIDR mask size %d must be between the cluster CIDR's %d and %d", nodeBits, cluster.Bits(), cluster.Addr().BitLen())
	}
	if nodeBits-cluster.Bits() > MaxMaskDiff {
		return nil, fmt.Errorf("node CIDR mask size %d is more than %d bits longer than the cluster CIDR %s", nodeBits, MaxMaskDiff, cluster)
	}
	size := 1 << (nodeBits - cluster.Bits())
	return &CIDRSet{cluster: cluster, nodeBits: nodeBits, size: size, used: make([]uint64, (size+63)/64)}, nil
}

// Cluster is the set's range.
func (s *CIDRSet) Cluster() netip.Prefix { return s.cluster }

// Free is the number of node CIDRs not in use.
func (s *CIDRSet) Free() int { return s.size - s.count }

// AllocateNext takes the first free node CIDR at or after the one after
// the last taken, wrapping around; ErrFull when none is free.
func (s *CIDRSet) AllocateNext() (netip.Prefix, error) {
	if s.count == s.size {
		return netip.Prefix{}, ErrFull
	}
	for n := range s.size {
		i := (s.next + n) % s.size
		if !s.isSet(i) {
			s.set(i, true)
			s.next = (i + 1) % s.size
			return s.subnet(i), nil
		}
	}
	return netip.Prefix{}, ErrFull
}

// Occupy marks every node CIDR that p overlaps as used: p may be a node
// CIDR, a larger range (a service CIDR) or a smaller one. It fails when p
// does not overlap the range.
func (s *CIDRSet) Occupy(p netip.Prefix) error {
	first, last, err := s.indexes(p)
	if err != nil {
		return err
	}
	for i := first; i <= last; i++ {
		s.set(i, true)
	}
	return nil
}

// Release marks every node CIDR that p overlaps as free.
func (s *CIDRSet) Release(p netip.Prefix) error {
	first, last, err := s.indexes(p)
	if err != nil {
		return err
	}
	for i := first; i <= last; i++ {
		s.set(i, false)
	}
	return nil
}

// indexes are the first and last node CIDRs p overlaps.
func (s *CIDRSet) indexes(p netip.Prefix) (int, int, error) {
	if !p.IsValid() || p.Addr().BitLen() != s.cluster.Addr().BitLen() || !p.Overlaps(s.cluster) {
		return 0, 0, fmt.Errorf("CIDR %s is not in the cluster CIDR %s", p, s.cluster)
	}
	if p.Bits() <= s.cluster.Bits() {
		return 0, s.size - 1, nil
	}
	first := s.index(p.Masked().Addr())
	if p.Bits() >= s.nodeBits {
		return first, first, nil
	}
	return first, first + 1<<(s.nodeBits-p.Bits()) - 1, nil
}

// index is the number of the node CIDR holding a (inside the range): the
// address's bits between the cluster mask and the node mask.
func (s *CIDRSet) index(a netip.Addr) int {
	b := a.AsSlice()
	i := 0
	for bit := s.cluster.Bits(); bit < s.nodeBits; bit++ {
		i = i<<1 | int(b[bit/8]>>(7-bit%8)&1)
	}
	return i
}

// subnet is the i-th node CIDR.
func (s *CIDRSet) subnet(i int) netip.Prefix {
	b := s.cluster.Addr().AsSlice()
	for bit := s.nodeBits - 1; bit >= s.cluster.Bits(); bit-- {
		if i&1 == 1 {
			b[bit/8] |= 1 << (7 - bit%8)
		}
		i >>= 1
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, s.nodeBits)
}

func (s *CIDRSet) isSet(i int) bool { return s.used[i/64]&(1<<(i%64)) != 0 }

func (s *CIDRSet) set(i int, on bool) {
	if s.isSet(i) == on {
		return
	}
	s.used[i/64] ^= 1 << (i % 64)
	if on {
		s.count++
	} else {
		s.count--
	}
}

// Allocator is the range allocator: one CIDRSet per cluster CIDR (one per
// IP family) and what each node holds. A node holds one CIDR per range,
// in the order of the ranges, as upstream's spec.podCIDRs. Not safe for
// concurrent use.
type Allocator struct {
	sets []*CIDRSet
	held map[string][]netip.Prefix
}

// NewAllocator makes an allocator of the given ranges; maskSizes[i] is the
// node CIDR mask size of clusterCIDRs[i].
func NewAllocator(clusterCIDRs []netip.Prefix, maskSizes []int) (*Allocator, error) {
	if len(clusterCIDRs) == 0 || len(clusterCIDRs) != len(maskSizes) {
		return nil, errors.New("one node CIDR mask size per cluster CIDR is required")
	}
	a := &Allocator{held: map[string][]netip.Prefix{}}
	for i, c := range clusterCIDRs {
		s, err := NewCIDRSet(c, maskSizes[i])
		if err != nil {
			return nil, err
		}
		a.sets = append(a.sets, s)
	}
	return a, nil
}

// Holds is what node holds, nil if nothing.
func (a *Allocator) Holds(node string) []netip.Prefix { return slices.Clone(a.held[node]) }

// Occupy records that node uses cidrs (its spec.podCIDRs, set by whoever
// registered it): they are never handed to another node. A node that
// held others releases them. It fails for a CIDR outside its range, or
// more CIDRs than ranges; the ones that fit are kept.
func (a *Allocator) Occupy(node string, cidrs []netip.Prefix) error {
	if slices.Equal(a.held[node], cidrs) {
		return nil
	}
	a.Release(node)
	var errs []error
	var kept []netip.Prefix
	for i, c := range cidrs {
		if i >= len(a.sets) {
			errs = append(errs, fmt.Errorf("node %s has CIDR %s at index %d, but only %d cluster CIDRs are configured", node, c, i, len(a.sets)))
			continue
		}
		if err := a.sets[i].Occupy(c); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", node, err))
			continue
		}
		kept = append(kept, c)
	}
	if len(kept) > 0 {
		a.held[node] = kept
	}
	return errors.Join(errs...)
}

// Allocate returns node's CIDRs, one per range: those it already holds
// (allocated earlier and not yet seen on the node), else fresh ones. It
// fails with ErrFull, taking nothing, when a range is full.
func (a *Allocator) Allocate(node string) ([]netip.Prefix, error) {
	if h := a.held[node]; len(h) == len(a.sets) {
		return slices.Clone(h), nil
	}
	a.Release(node)
	out := make([]netip.Prefix, 0, len(a.sets))
	for i, s := range a.sets {
		p, err := s.AllocateNext()
		if err != nil {
			for j, q := range out {
				_ = a.sets[j].Release(q)
			}
			return nil, fmt.Errorf("cluster CIDR %s: %w", a.sets[i].Cluster(), err)
		}
		out = append(out, p)
	}
	a.held[node] = out
	return slices.Clone(out), nil
}

// Release frees what node holds. A CIDR another node still holds (two
// nodes registered with overlapping CIDRs) stays used.
func (a *Allocator) Release(node string) {
	h, ok := a.held[node]
	if !ok {
		return
	}
	delete(a.held, node)
	for i, p := range h {
		_ = a.sets[i].Release(p)
		for _, other := range a.held {
			if i < len(other) && other[i].Overlaps(p) {
				_ = a.sets[i].Occupy(other[i])
			}
		}
	}
}

// MaskSizes resolves the node CIDR mask size of each cluster CIDR from
// upstream's flags: --node-cidr-mask-size (single for a single-stack
// cluster) or --node-cidr-mask-size-ipv4 / -ipv6 (dual-stack); 0 is unset.
// Defaults: 24 for IPv4, 64 for IPv6.
func MaskSizes(clusterCIDRs []netip.Prefix, single, v4, v6 int) ([]int, error) {
	switch len(clusterCIDRs) {
	case 0:
		return nil, errors.New("--cluster-cidr is required to allocate node CIDRs")
	case 1:
		if v4 != 0 || v6 != 0 {
			return nil, errors.New("usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed with non dual-stack clusters")
		}
		if single != 0 {
			return []int{single}, nil
		}
		return []int{defaultMask(clusterCIDRs[0], 0, 0)}, nil
	case 2:
		if single != 0 {
			return nil, errors.New("usage of --node-cidr-mask-size is not allowed with dual-stack clusters")
		}
		if clusterCIDRs[0].Addr().Is4() == clusterCIDRs[1].Addr().Is4() {
			return nil, errors.New("--cluster-cidr: a dual-stack cluster needs one IPv4 and one IPv6 CIDR")
		}
		return []int{defaultMask(clusterCIDRs[0], v4, v6), defaultMask(clusterCIDRs[1], v4, v6)}, nil
	default:
		return nil, errors.New("--cluster-cidr: at most two CIDRs (one per IP family)")
	}
}

func defaultMask(p netip.Prefix, v4, v6 int) int {
	switch {
	case p.Addr().Is4() && v4 != 0:
		return v4
	case p.Addr().Is4():
		return 24
	case v6 != 0:
		return v6
	default:
		return 64
	}
}
