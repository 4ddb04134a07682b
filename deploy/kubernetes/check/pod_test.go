package check

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// idleRotator never runs: the HTTP check needs a worker, not rotations.
type idleRotator struct{}

func (idleRotator) Rotate(context.Context, jobs.Job, jobs.Request) []jobs.Outcome { return nil }

// servedStatus asks the worker's real HTTP handler, built from cfg, for
// path. The worker is not started, so /readyz answers 503.
func servedStatus(t *testing.T, cfg *config.Config, path string) int {
	t.Helper()
	wc := workerconfig.From(cfg)
	wc.Rotator = idleRotator{}
	w, err := worker.New(wc)
	if err != nil {
		t.Fatalf("building a worker from the deployed config: %v", err)
	}
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

// containerPort resolves a probe's or Service's port (a name or a number)
// to the container's port number.
func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("the container has no port named %q", p.StrVal)
	return 0
}

// TestProbesMatchWhatTheBinaryServes checks the probes, the Service, the
// ServiceMonitor and the NetworkPolicy against the deployed config's
// http.listen port and the paths the worker's handler answers.
func TestProbesMatchWhatTheBinaryServes(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	cfg := deployedConfig(t, m)
	_, portText, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		t.Fatalf("http.listen %q: %v", cfg.HTTP.Listen, err)
	}
	if host, _, _ := net.SplitHostPort(cfg.HTTP.Listen); host != "0.0.0.0" && host != "" && host != "::" {
		t.Errorf("http.listen %q: the kubelet and Prometheus cannot reach a loopback address", cfg.HTTP.Listen)
	}
	listen, _ := strconv.Atoi(portText)
	c := one[*appsv1.Deployment](t, m).Spec.Template.Spec.Containers[0]

	probes := []struct {
		name   string
		probe  *corev1.Probe
		status int // what the unstarted worker answers
	}{
		{"liveness", c.LivenessProbe, http.StatusOK},
		{"readiness", c.ReadinessProbe, http.StatusServiceUnavailable},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an httpGet probe", p.name)
			continue
		}
		if got := containerPort(t, c, p.probe.HTTPGet.Port); int(got) != listen {
			t.Errorf("%s probe: port %d, the worker listens on %d", p.name, got, listen)
		}
		if got := servedStatus(t, cfg, p.probe.HTTPGet.Path); got != p.status {
			t.Errorf("%s probe: the worker answers %s with %d, want %d", p.name, p.probe.HTTPGet.Path, got, p.status)
		}
	}
	if got := servedStatus(t, cfg, "/no-such-path"); got != http.StatusNotFound {
		t.Errorf("an unknown path answers %d: the check above would prove nothing", got)
	}

	svc := one[*corev1.Service](t, m)
	for _, sp := range svc.Spec.Ports {
		if got := containerPort(t, c, sp.TargetPort); int(got) != listen {
			t.Errorf("Service port %q targets %d, the worker listens on %d", sp.Name, got, listen)
		}
	}
	sm := one[*monitoringv1.ServiceMonitor](t, m)
	for _, ep := range sm.Spec.Endpoints {
		if !hasServicePort(svc, ep.Port) {
			t.Errorf("ServiceMonitor port %q is not a port of the Service", ep.Port)
		}
		if got := servedStatus(t, cfg, ep.Path); got != http.StatusOK {
			t.Errorf("ServiceMonitor path %q: the worker answers %d", ep.Path, got)
		}
	}

	np := one[*networkingv1.NetworkPolicy](t, m)
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || containerPort(t, c, *p.Port) != int32(listen) {
				t.Errorf("NetworkPolicy admits ingress on %v; only the metrics port %d should be open", p.Port, listen)
			}
		}
		if len(rule.Ports) == 0 {
			t.Error("NetworkPolicy has an ingress rule without ports: it admits every port")
		}
	}
}

func hasServicePort(svc *corev1.Service, name string) bool {
	for _, sp := range svc.Spec.Ports {
		if sp.Name == name {
			return true
		}
	}
	return false
}

// TestNetworkPolicyEgress: the worker reaches DNS, NATS, Vault and, on 443,
// Entra and Graph, and the policy governs both directions.
func TestNetworkPolicyEgress(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	np := one[*networkingv1.NetworkPolicy](t, m)
	d := one[*appsv1.Deployment](t, m)
	for k, v := range np.Spec.PodSelector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("NetworkPolicy selects %s=%s, which the pods do not carry", k, v)
		}
	}
	types := map[networkingv1.PolicyType]bool{}
	for _, pt := range np.Spec.PolicyTypes {
		types[pt] = true
	}
	if !types[networkingv1.PolicyTypeIngress] || !types[networkingv1.PolicyTypeEgress] {
		t.Errorf("policyTypes %v: want Ingress and Egress", np.Spec.PolicyTypes)
	}
	open := map[string]bool{}
	for _, rule := range np.Spec.Egress {
		for _, p := range rule.Ports {
			proto := string(corev1.ProtocolTCP)
			if p.Protocol != nil {
				proto = string(*p.Protocol)
			}
			open[proto+"/"+p.Port.String()] = true
		}
	}
	cfg := deployedConfig(t, m)
	want := []string{"UDP/53", "TCP/443", "TCP/" + urlPort(t, cfg.Vault.Address, "8200")}
	if cfg.NATS.URL != "" {
		want = append(want, "TCP/"+urlPort(t, cfg.NATS.URL, "4222"))
	}
	for _, w := range want {
		if !open[w] {
			t.Errorf("NetworkPolicy egress does not open %s (open: %v)", w, open)
		}
	}
}

// urlPort is the port of a URL, or def when it names none.
func urlPort(t *testing.T, u, def string) string {
	t.Helper()
	hostport := u[strings.Index(u, "://")+3:]
	hostport, _, _ = strings.Cut(hostport, "/")
	hostport, _, _ = strings.Cut(hostport, ",")
	if _, port, err := net.SplitHostPort(hostport); err == nil {
		return port
	}
	return def
}

// TestPodHardening: non-root (the image's user), read-only root, no
// privilege, no capabilities, the runtime's seccomp profile, no API token.
func TestPodHardening(t *testing.T) {
	t.Parallel()
	d := one[*appsv1.Deployment](t, loadManifests(t))
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != imageUser(t) {
		t.Errorf("pod securityContext.runAsUser is not the image's user %d", imageUser(t))
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken is not false: the worker never calls the API server")
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Fatalf("container %s has no securityContext", c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("container %s is privileged", c.Name)
		case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
			t.Errorf("container %s: capabilities are not {drop: [ALL]}", c.Name)
		}
		if c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s has no memory limit", c.Name)
		}
	}
}

// imageUser is the numeric user of the Containerfile's USER line.
func imageUser(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifestDir, "..", "..", "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the Containerfile has no numeric USER")
	}
	u, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return u
}

// workerStopBound is the longest a worker takes to stop after SIGTERM:
// `certrotator run` gives Stop config.ShutdownTimeoutDefault plus 5s, and
// Stop then spends up to 5s on the HTTP server and 10s flushing NATS
// (worker.shutdown).
const workerStopBound = config.ShutdownTimeoutDefault + 15*time.Second

// TestGracePeriodOutlastsTheWorkersShutdown: the kubelet must not SIGKILL
// a worker that is still finishing its rotations.
func TestGracePeriodOutlastsTheWorkersShutdown(t *testing.T) {
	t.Parallel()
	d := one[*appsv1.Deployment](t, loadManifests(t))
	g := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatalf("no terminationGracePeriodSeconds: Kubernetes' 30s default is shorter than the worker's %s", workerStopBound)
	}
	if time.Duration(*g)*time.Second <= workerStopBound {
		t.Errorf("terminationGracePeriodSeconds %d: want more than the worker's %s", *g, workerStopBound)
	}
}
