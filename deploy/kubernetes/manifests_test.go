package kubernetes

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"
)

// builds are the kustomizations an operator applies. Each is built as
// kubectl apply -k would build it.
var builds = []struct {
	dir string
	// example files stand in for files an operator writes and never
	// commits (secrets.env from secrets.env.example).
	example map[string]string
}{
	{dir: "base"},
	{dir: "overlays/example", example: map[string]string{"secrets.env": "secrets.env.example"}},
}

// externalSecret is the Secret the base names without generating it, and
// the keys it may have (docs/deploy-kubernetes.md, "Secrets"): an
// overlay generates it, or the operator creates it.
const externalSecret = "orc"

var externalSecretKeys = []string{"database-url", "amqp-url", "admin-email", "admin-password", "metrics-token", "oidc-client-secret"}

// kinds are the kinds the manifests may hold, each with the API type its
// documents decode into.
var kinds = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
	"networking.k8s.io/v1/NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"ray.io/v1/RayCluster":                   func() any { return &rayv1.RayCluster{} },
}

// generatedName is the hash suffix kustomize gives the names of the
// ConfigMaps and Secrets it generates. The checks find a generated one by
// its name without it, as the manifests name it.
var generatedName = regexp.MustCompile(`-[a-z0-9]{10}$`)

// manifest is one built kustomization, decoded.
type manifest struct {
	dir     string
	objects []any

	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	rayClusters []*rayv1.RayCluster
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	policies    []*networkingv1.NetworkPolicy
	ingresses   []*networkingv1.Ingress
	// ids are the kind/name of every resource, as built.
	ids []string
}

// sourceFS copies this folder into memory, with the example files in place
// of the ones an operator writes.
func sourceFS() (filesys.FileSystem, error) {
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join("/src", path), b)
	})
	if err != nil {
		return nil, err
	}
	for _, b := range builds {
		for name, from := range b.example {
			dst := filepath.Join("/src", b.dir, name)
			if mem.Exists(dst) {
				continue
			}
			data, err := mem.ReadFile(filepath.Join("/src", b.dir, from))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.dir, err)
			}
			if err := mem.WriteFile(dst, data); err != nil {
				return nil, err
			}
		}
	}
	return mem, nil
}

// build builds the kustomization in dir and decodes every resource
// strictly into its API type.
func build(mem filesys.FileSystem, dir string) (*manifest, error) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, filepath.Join("/src", dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	m := &manifest{dir: dir, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	var errs []string
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		id := r.GetKind() + "/" + r.GetName()
		obj, err := decode(doc)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		m.add(obj)
		m.ids = append(m.ids, id)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s:\n\t%s", dir, strings.Join(errs, "\n\t"))
	}
	return m, nil
}

// decode decodes one document into the API type of its kind, refusing
// unknown and duplicate fields.
func decode(doc []byte) (any, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return nil, err
	}
	newObj, ok := kinds[head.APIVersion+"/"+head.Kind]
	if !ok {
		return nil, fmt.Errorf("kind %s/%s is not one the manifests may hold (add its API type to kinds)", head.APIVersion, head.Kind)
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("strict decoding: %w", err)
	}
	return obj, nil
}

func (m *manifest) add(obj any) {
	m.objects = append(m.objects, obj)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		m.deployments = append(m.deployments, o)
	case *corev1.Service:
		m.services = append(m.services, o)
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = o
		m.configMaps[generatedName.ReplaceAllString(o.Name, "")] = o
	case *corev1.Secret:
		m.secrets[o.Name] = o
		m.secrets[generatedName.ReplaceAllString(o.Name, "")] = o
	case *rayv1.RayCluster:
		m.rayClusters = append(m.rayClusters, o)
	case *policyv1.PodDisruptionBudget:
		m.pdbs = append(m.pdbs, o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		m.hpas = append(m.hpas, o)
	case *networkingv1.NetworkPolicy:
		m.policies = append(m.policies, o)
	case *networkingv1.Ingress:
		m.ingresses = append(m.ingresses, o)
	}
}

// built caches the builds: each test reads them, none changes them.
var built struct {
	once sync.Once
	ms   []*manifest
	err  error
}

// buildAll builds every kustomization, failing the test on any error.
func buildAll(t *testing.T) []*manifest {
	t.Helper()
	built.once.Do(func() {
		mem, err := sourceFS()
		if err != nil {
			built.err = err
			return
		}
		for _, b := range builds {
			m, err := build(mem, b.dir)
			if err != nil {
				built.err = err
				return
			}
			built.ms = append(built.ms, m)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.ms
}

// TestManifestsDecode builds every kustomization and decodes each resource
// strictly into the Kubernetes and KubeRay API types.
func TestManifestsDecode(t *testing.T) {
	for _, m := range buildAll(t) {
		if len(m.objects) == 0 {
			t.Errorf("%s: built nothing", m.dir)
		}
		t.Logf("%s: %d resources: %s", m.dir, len(m.ids), strings.Join(m.ids, " "))
	}
}

// TestEveryFileIsBuilt checks that each manifest file here is part of a
// build, so that none escapes the checks (or lies unused).
func TestEveryFileIsBuilt(t *testing.T) {
	ids := map[string]bool{}
	for _, m := range buildAll(t) {
		for _, id := range m.ids {
			ids[id] = true
		}
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		switch filepath.Base(path) {
		case "kustomization.yaml", "kustomizeconfig.yaml":
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		docs, err := (&kio.ByteReader{Reader: bytes.NewReader(b), OmitReaderAnnotations: true}).Read()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, doc := range docs {
			id := doc.GetKind() + "/" + doc.GetName()
			if !ids[id] {
				t.Errorf("%s: %s is in no build (%v)", path, id, buildDirs())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func buildDirs() []string {
	var dirs []string
	for _, b := range builds {
		dirs = append(dirs, b.dir)
	}
	return dirs
}
