package check

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestMetricsPortOnlyFromMonitoring: the status page has no authentication,
// so every ingress rule names who may connect (the monitoring namespace by
// default); a rule without `from` would admit every namespace.
func TestMetricsPortOnlyFromMonitoring(t *testing.T) {
	t.Parallel()
	np := one[*networkingv1.NetworkPolicy](t, loadManifests(t))
	if len(np.Spec.Ingress) == 0 {
		t.Fatal("no ingress rule: Prometheus could not scrape the worker")
	}
	for i, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("ingress rule %d has no from: it admits every namespace to the unauthenticated status page", i)
		}
		for _, peer := range rule.From {
			if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
				t.Errorf("ingress rule %d admits %+v: want the monitoring namespace by default", i, peer)
			}
		}
	}
}

// TestEgressDualStackAndNodeLocalDNS: HTTPS to Entra and Graph is open over
// IPv6 too, and DNS is not pinned to the kube-dns pods, which NodeLocal
// DNSCache bypasses.
func TestEgressDualStackAndNodeLocalDNS(t *testing.T) {
	t.Parallel()
	np := one[*networkingv1.NetworkPolicy](t, loadManifests(t))
	var v4, v6, dnsAnywhere bool
	for _, rule := range np.Spec.Egress {
		ports := map[string]bool{}
		for _, p := range rule.Ports {
			ports[p.Port.String()] = true
		}
		if ports["53"] && len(rule.To) == 0 {
			dnsAnywhere = true
		}
		if !ports["443"] {
			continue
		}
		for _, peer := range rule.To {
			if peer.IPBlock == nil {
				continue
			}
			switch peer.IPBlock.CIDR {
			case "0.0.0.0/0":
				v4 = true
			case "::/0":
				v6 = true
			}
		}
	}
	if !v4 || !v6 {
		t.Errorf("HTTPS egress: IPv4 %v, IPv6 %v; want both (dual-stack and IPv6-only clusters)", v4, v6)
	}
	if !dnsAnywhere {
		t.Error("the DNS rule names its peers: with NodeLocal DNSCache the answers come from a node-local address, not the kube-dns pods")
	}
}

// TestGOMEMLIMITLeavesHeadroom: GOMEMLIMIT at the memory limit itself lets
// the pod be killed before the GC works hard; about 90 % leaves room for
// what the GC does not govern.
func TestGOMEMLIMITLeavesHeadroom(t *testing.T) {
	t.Parallel()
	d := one[*appsv1.Deployment](t, loadManifests(t))
	for _, c := range d.Spec.Template.Spec.Containers {
		limit := c.Resources.Limits.Memory().Value()
		var got string
		for _, e := range c.Env {
			if e.Name == "GOMEMLIMIT" {
				if e.ValueFrom != nil {
					t.Fatalf("container %s: GOMEMLIMIT comes from %+v, which can only be the whole limit", c.Name, e.ValueFrom)
				}
				got = e.Value
			}
		}
		if got == "" {
			t.Fatalf("container %s sets no GOMEMLIMIT", c.Name)
		}
		bytes, err := goMemLimit(got)
		if err != nil {
			t.Fatalf("container %s: GOMEMLIMIT %q: %v", c.Name, got, err)
		}
		share := float64(bytes) / float64(limit)
		if share < 0.85 || share > 0.95 {
			t.Errorf("container %s: GOMEMLIMIT %s is %.0f %% of the %d-byte limit; want about 90 %%", c.Name, got, share*100, limit)
		}
	}
}

// goMemLimit parses GOMEMLIMIT as the Go runtime does: an integer with an
// optional B, KiB, MiB, GiB or TiB suffix.
func goMemLimit(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}
