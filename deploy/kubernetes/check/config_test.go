package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/certrotator/certrotator/config"
)

// credentialsDirectory is the variable the config's *_file paths start with.
const credentialsDirectory = "CREDENTIALS_DIRECTORY"

// standIn returns the environment the Deployment gives the worker, with
// stand-ins for what only a cluster has: secretKeyRef values become
// placeholders, and CREDENTIALS_DIRECTORY a temporary directory holding one
// file per key of the example Secret. It fails when CREDENTIALS_DIRECTORY
// is not where the Secret is mounted.
func standIn(t *testing.T, m manifests) map[string]string {
	t.Helper()
	d := one[*appsv1.Deployment](t, m)
	secret := one[*corev1.Secret](t, m)
	c := d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			if _, ok := secret.StringData[e.ValueFrom.SecretKeyRef.Key]; !ok {
				t.Errorf("env %s reads Secret key %q, which secret.example.yaml lacks", e.Name, e.ValueFrom.SecretKeyRef.Key)
			}
			env[e.Name] = "stand-in-" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if mount := mountOf(t, d, secretVolume(t, d, secret.Name)); env[credentialsDirectory] != mount {
		t.Errorf("%s is %q but the Secret is mounted at %q", credentialsDirectory, env[credentialsDirectory], mount)
	}
	dir := t.TempDir()
	for key := range secret.StringData {
		if err := os.WriteFile(filepath.Join(dir, key), []byte("stand-in\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env[credentialsDirectory] = dir
	return env
}

// secretVolume names the pod volume that holds the Secret.
func secretVolume(t *testing.T, d *appsv1.Deployment, secret string) string {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret {
			return v.Name
		}
	}
	t.Fatalf("no volume mounts the Secret %q", secret)
	return ""
}

// mountOf is where the container mounts the volume.
func mountOf(t *testing.T, d *appsv1.Deployment, volume string) string {
	t.Helper()
	for _, vm := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if vm.Name == volume {
			return vm.MountPath
		}
	}
	t.Fatalf("the container does not mount volume %q", volume)
	return ""
}

// deployedConfig parses the ConfigMap's config.yaml as the pod would see
// it, with its secrets stood in.
func deployedConfig(t *testing.T, m manifests) *config.Config {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, m)
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatal("configmap.yaml has no config.yaml")
	}
	env := standIn(t, m)
	cfg, err := config.Parse([]byte(data), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the ConfigMap's config does not validate with its secrets stood in: %v", err)
	}
	return cfg
}

func TestConfigMapValidates(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	cfg := deployedConfig(t, m)
	if len(cfg.Jobs) == 0 || len(cfg.Tenants) == 0 {
		t.Errorf("the deployed config has %d jobs and %d tenants", len(cfg.Jobs), len(cfg.Tenants))
	}
	// The config is read from the ConfigMap's mount.
	d := one[*appsv1.Deployment](t, m)
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	cm := one[*corev1.ConfigMap](t, m)
	var cmVolume string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
			cmVolume = v.Name
		}
	}
	if cmVolume == "" {
		t.Fatalf("no volume mounts the ConfigMap %q", cm.Name)
	}
	if want := "-c " + mountOf(t, d, cmVolume) + "/config.yaml"; !strings.Contains(args, want) {
		t.Errorf("container args %q do not contain %q", args, want)
	}
}

// TestStandInCatchesAMissingSecret guards the stand-in: a config that needs
// a file the Secret does not provide must fail.
func TestStandInCatchesAMissingSecret(t *testing.T) {
	t.Parallel()
	m := loadManifests(t)
	env := standIn(t, m)
	doc := "tenants:\n  x:\n    tenant_id: 00000000-0000-0000-0000-000000000000\n    client_id: 11111111-1111-1111-1111-111111111111\n    client_secret_file: ${CREDENTIALS_DIRECTORY}/not-in-the-secret\n"
	if _, err := config.Parse([]byte(doc), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Error("a client_secret_file the Secret lacks validated")
	}
}
