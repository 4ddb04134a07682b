package check

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifestDir holds the manifests under test.
const manifestDir = ".."

// kustomization is the part of kustomize's Kustomization that the manifests
// use. kustomize's own types would pull in a large module for two fields;
// strict decoding into this struct still refuses any other field, so a key
// added to kustomization.yaml must be added here too.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Resources       []string         `json:"resources"`
	Images          []kustomizeImage `json:"images,omitempty"`
}

// kustomizeImage is one entry of a Kustomization's images.
type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// kinds gives, per apiVersion and kind, the real API type a manifest must
// decode into.
var kinds = map[string]func() any{
	"v1/ConfigMap":                                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                                     func() any { return &corev1.Secret{} },
	"v1/Service":                                    func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                             func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":                 func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return &networkingv1.NetworkPolicy{} },
	"monitoring.coreos.com/v1/ServiceMonitor":       func() any { return &monitoringv1.ServiceMonitor{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
}

// decodeStrict decodes one manifest into the type its apiVersion and kind
// name, refusing unknown and duplicate fields.
func decodeStrict(data []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(data, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		return nil, &unknownKindError{tm.APIVersion, tm.Kind}
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

type unknownKindError struct{ apiVersion, kind string }

func (e *unknownKindError) Error() string {
	return "no API type known for apiVersion " + e.apiVersion + " kind " + e.kind + ": add it to kinds"
}

// manifests is every file of manifestDir, decoded.
type manifests struct {
	files map[string]any // by file name
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(manifestDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("listing manifests in %s: %d found, %v", manifestDir, len(paths), err)
	}
	m := manifests{files: map[string]any{}}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		if bytes.Contains(data, []byte("\n---")) {
			t.Errorf("%s: one object per file, please", p)
		}
		obj, err := decodeStrict(data)
		if err != nil {
			t.Errorf("decoding %s: %v", p, err)
			continue
		}
		m.files[filepath.Base(p)] = obj
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// one returns the only manifest of type T.
func one[T any](t *testing.T, m manifests) T {
	t.Helper()
	var found []T
	for _, obj := range m.files {
		if o, ok := obj.(T); ok {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T manifest, found %d", zero, len(found))
	}
	return found[0]
}

func TestManifestsDecodeStrictly(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	for _, want := range []string{"deployment.yaml", "configmap.yaml", "networkpolicy.yaml", "service.yaml", "servicemonitor.yaml", "kustomization.yaml"} {
		if _, ok := m.files[want]; !ok {
			t.Errorf("%s is missing", want)
		}
	}
}

// TestStrictDecodingRefusesUnknownFields guards the check itself: a typo in
// a field name must fail, not be dropped.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"typo in a nested field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: 1\n  template:\n    spec:\n      terminationGracePeriod: 60\n",
		"duplicate field":        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
		"unknown kind":           "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"wrong type":             "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: three}\n",
	}
	for name, doc := range bad {
		if _, err := decodeStrict([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// TestKustomizationAppliesEveryManifest keeps kustomization.yaml's list in
// step with the directory: every manifest but the Secret (which holds real
// values and is created by hand) is applied, and nothing listed is missing.
func TestKustomizationAppliesEveryManifest(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	k := one[*kustomization](t, m)
	var want []string
	for f := range m.files {
		if f != "kustomization.yaml" && f != "secret.example.yaml" {
			want = append(want, f)
		}
	}
	got := slices.Clone(k.Resources)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %q, want %q", got, want)
	}
	d := one[*appsv1.Deployment](t, m)
	image := d.Spec.Template.Spec.Containers[0].Image
	mapped := slices.ContainsFunc(k.Images, func(i kustomizeImage) bool {
		return i.Name == image && i.NewName != "" && (i.NewTag != "" || i.Digest != "")
	})
	if !mapped {
		t.Errorf("the Deployment's image %q has no images entry with newName and a tag or digest in kustomization.yaml", image)
	}
}

// TestConfigMapMatchesExample: the ConfigMap carries deploy/config.example.yaml
// verbatim (its header says so), so that validating one validates the other.
func TestConfigMapMatchesExample(t *testing.T) {
	t.Parallel()
	cm := one[*corev1.ConfigMap](t, loadManifests(t))
	example, err := os.ReadFile(filepath.Join(manifestDir, "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["config.yaml"]; got != string(example) {
		t.Errorf("configmap.yaml's config.yaml differs from deploy/config.example.yaml; regenerate it (command in its header)\n%s", firstDifference(got, string(example)))
	}
}

// firstDifference names the first line where a and b differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  configmap: " + x + "\n  example:   " + y
		}
	}
	return ""
}
