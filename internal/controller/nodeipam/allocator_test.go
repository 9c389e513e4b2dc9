package nodeipam

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestNewCIDRSet(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		mask    int
		free    int
		err     string
	}{
		{"10.42.0.0/16", 24, 256, ""},
		{"10.42.0.0/24", 24, 1, ""},
		{"10.42.0.0/16", 16, 1, ""},
		{"10.42.0.0/8", 24, 65536, ""},
		{"10.0.0.0/7", 24, 0, "more than 16 bits"},
		{"10.42.0.0/24", 16, 0, "must be between"},
		{"10.42.0.0/24", 33, 0, "must be between"},
		{"fd00:42::/48", 64, 65536, ""},
		{"fd00:42::/56", 64, 256, ""},
		{"10.42.7.0/16", 24, 256, ""}, // host bits are masked off
	} {
		s, err := NewCIDRSet(netip.MustParsePrefix(tc.cluster), tc.mask)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s /%d: err %v, want %q", tc.cluster, tc.mask, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s /%d: %v", tc.cluster, tc.mask, err)
			continue
		}
		if s.Free() != tc.free {
			t.Errorf("%s /%d: %d free, want %d", tc.cluster, tc.mask, s.Free(), tc.free)
		}
	}
}

func TestCIDRSetAllocateNext(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cluster  string
		mask     int
		occupied []string
		released []string // after the occupations
		want     []string // successive AllocateNext results; "full" for ErrFull
	}{
		{name: "in order", cluster: "10.42.0.0/16", mask: 24,
			want: []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"}},
		{name: "skips occupied", cluster: "10.42.0.0/16", mask: 24, occupied: []string{"10.42.0.0/24", "10.42.2.0/24"},
			want: []string{"10.42.1.0/24", "10.42.3.0/24"}},
		{name: "a larger range occupies every subnet in it", cluster: "10.42.0.0/16", mask: 24, occupied: []string{"10.42.0.0/23"},
			want: []string{"10.42.2.0/24"}},
		{name: "a smaller range occupies its subnet", cluster: "10.42.0.0/16", mask: 24, occupied: []string{"10.42.0.128/25"},
			want: []string{"10.42.1.0/24"}},
		{name: "full", cluster: "10.42.0.0/23", mask: 24,
			want: []string{"10.42.0.0/24", "10.42.1.0/24", "full"}},
		{name: "a range covering the cluster fills it", cluster: "10.42.0.0/16", mask: 24, occupied: []string{"10.0.0.0/8"},
			want: []string{"full"}},
		{name: "released is taken again after a wrap", cluster: "10.42.0.0/23", mask: 24,
			occupied: []string{"10.42.0.0/24", "10.42.1.0/24"}, released: []string{"10.42.0.0/24"},
			want: []string{"10.42.0.0/24", "full"}},
		{name: "/32 nodes", cluster: "10.42.0.0/30", mask: 32,
			want: []string{"10.42.0.0/32", "10.42.0.1/32", "10.42.0.2/32", "10.42.0.3/32", "full"}},
		{name: "IPv6", cluster: "fd00:42::/56", mask: 64, occupied: []string{"fd00:42::/64"},
			want: []string{"fd00:42:0:1::/64", "fd00:42:0:2::/64"}},
		{name: "IPv6 high bits", cluster: "fd00:42::/48", mask: 64, occupied: []string{"fd00:42::/49"},
			want: []string{"fd00:42:0:8000::/64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewCIDRSet(netip.MustParsePrefix(tc.cluster), tc.mask)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range prefixes(tc.occupied...) {
				if err := s.Occupy(p); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range prefixes(tc.released...) {
				if err := s.Release(p); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for range tc.want {
				p, err := s.AllocateNext()
				switch {
				case errors.Is(err, ErrFull):
					got = append(got, "full")
				case err != nil:
					t.Fatal(err)
				default:
					got = append(got, p.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCIDRSetRoundRobin(t *testing.T) {
	s, _ := NewCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	a, _ := s.AllocateNext()
	if err := s.Release(a); err != nil {
		t.Fatal(err)
	}
	// As upstream: a released CIDR is not handed out again at once.
	if b, _ := s.AllocateNext(); b == a {
		t.Errorf("got %s again right after releasing it", b)
	}
}

func TestCIDRSetOutside(t *testing.T) {
	s, _ := NewCIDRSet(netip.MustParsePrefix("10.42.0.0/16"), 24)
	for _, p := range []string{"10.43.0.0/24", "192.168.0.0/16", "fd00::/64"} {
		if err := s.Occupy(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("Occupy(%s) succeeded", p)
		}
		if err := s.Release(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("Release(%s) succeeded", p)
		}
	}
	if s.Free() != 256 {
		t.Errorf("%d free, want 256", s.Free())
	}
}

func TestAllocator(t *testing.T) {
	type step struct {
		op    string // occupy, allocate, release
		node  string
		cidrs []string // occupy: the node's; allocate: the wanted result, or "full"
		err   bool     // occupy fails
	}
	for _, tc := range []struct {
		name     string
		clusters []string
		masks    []int
		steps    []step
	}{
		{name: "distinct CIDRs, reused after release", clusters: []string{"10.42.0.0/22"}, masks: []int{24}, steps: []step{
			{op: "occupy", node: "up", cidrs: []string{"10.42.0.0/24"}},
			{op: "allocate", node: "a", cidrs: []string{"10.42.1.0/24"}},
			{op: "allocate", node: "b", cidrs: []string{"10.42.2.0/24"}},
			{op: "allocate", node: "a", cidrs: []string{"10.42.1.0/24"}}, // held: the same again
			{op: "allocate", node: "c", cidrs: []string{"10.42.3.0/24"}},
			{op: "allocate", node: "d", cidrs: []string{"full"}},
			{op: "release", node: "b"},
			{op: "allocate", node: "d", cidrs: []string{"10.42.2.0/24"}},
		}},
		{name: "occupy replaces what a node held", clusters: []string{"10.42.0.0/23"}, masks: []int{24}, steps: []step{
			{op: "allocate", node: "a", cidrs: []string{"10.42.0.0/24"}},
			{op: "occupy", node: "a", cidrs: []string{"10.42.1.0/24"}},
			{op: "allocate", node: "b", cidrs: []string{"10.42.0.0/24"}},
			{op: "allocate", node: "c", cidrs: []string{"full"}},
		}},
		{name: "overlapping nodes: releasing one keeps the other's", clusters: []string{"10.42.0.0/23"}, masks: []int{24}, steps: []step{
			{op: "occupy", node: "a", cidrs: []string{"10.42.0.0/24"}},
			{op: "occupy", node: "b", cidrs: []string{"10.42.0.0/24"}},
			{op: "release", node: "a"},
			{op: "allocate", node: "c", cidrs: []string{"10.42.1.0/24"}},
			{op: "allocate", node: "d", cidrs: []string{"full"}},
		}},
		{name: "outside the range", clusters: []string{"10.42.0.0/16"}, masks: []int{24}, steps: []step{
			{op: "occupy", node: "a", cidrs: []string{"10.244.0.0/24"}, err: true},
			{op: "allocate", node: "b", cidrs: []string{"10.42.0.0/24"}},
		}},
		{name: "dual-stack", clusters: []string{"10.42.0.0/24", "fd00:42::/63"}, masks: []int{25, 64}, steps: []step{
			{op: "allocate", node: "a", cidrs: []string{"10.42.0.0/25", "fd00:42::/64"}},
			{op: "occupy", node: "b", cidrs: []string{"10.42.0.128/25"}},
			// The IPv4 range is full: the IPv6 CIDR is not taken either.
			{op: "allocate", node: "c", cidrs: []string{"full"}},
			{op: "release", node: "a"},
			{op: "allocate", node: "c", cidrs: []string{"10.42.0.0/25", "fd00:42:0:1::/64"}},
		}},
		{name: "more CIDRs than ranges", clusters: []string{"10.42.0.0/16"}, masks: []int{24}, steps: []step{
			{op: "occupy", node: "a", cidrs: []string{"10.42.0.0/24", "fd00::/64"}, err: true},
			{op: "allocate", node: "b", cidrs: []string{"10.42.1.0/24"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAllocator(prefixes(tc.clusters...), tc.masks)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				switch s.op {
				case "occupy":
					if err := a.Occupy(s.node, prefixes(s.cidrs...)); (err != nil) != s.err {
						t.Fatalf("step %d: occupy %s: err %v, want error %v", i, s.node, err, s.err)
					}
				case "release":
					a.Release(s.node)
				case "allocate":
					got, err := a.Allocate(s.node)
					var gs []string
					if errors.Is(err, ErrFull) {
						gs = []string{"full"}
					} else if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					for _, p := range got {
						gs = append(gs, p.String())
					}
					if !slices.Equal(gs, s.cidrs) {
						t.Fatalf("step %d: allocate %s: got %v, want %v", i, s.node, gs, s.cidrs)
					}
				}
			}
		})
	}
}

func TestMaskSizes(t *testing.T) {
	for _, tc := range []struct {
		clusters           []string
		single, ipv4, ipv6 int
		want               []int
		err                string
	}{
		{clusters: []string{"10.42.0.0/16"}, want: []int{24}},
		{clusters: []string{"10.42.0.0/16"}, single: 26, want: []int{26}},
		{clusters: []string{"fd00::/48"}, want: []int{64}},
		{clusters: []string{"10.42.0.0/16"}, ipv4: 25, err: "non dual-stack"},
		{clusters: []string{"10.42.0.0/16", "fd00::/48"}, want: []int{24, 64}},
		{clusters: []string{"fd00::/48", "10.42.0.0/16"}, ipv4: 25, ipv6: 60, want: []int{60, 25}},
		{clusters: []string{"10.42.0.0/16", "fd00::/48"}, single: 24, err: "dual-stack"},
		{clusters: []string{"10.42.0.0/16", "10.43.0.0/16"}, err: "one IPv4 and one IPv6"},
		{clusters: nil, err: "required"},
	} {
		got, err := MaskSizes(prefixes(tc.clusters...), tc.single, tc.ipv4, tc.ipv6)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %q", tc.clusters, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: got %v, %v; want %v", tc.clusters, got, err, tc.want)
		}
	}
}
