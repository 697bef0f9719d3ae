package kubernetes

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The names the checks look for, as the manifests and
// docs/deploy-kubernetes.md give them.
const (
	gatewayPort      = 5900
	orcConfig        = "orc-config"
	nodeEnvInit      = "node-env"
	dindSidecar      = "dind"
	rayHeadContainer = "ray-head"
	rayWorkerName    = "ray-worker"
)

// pod is a pod template of a workload, with the labels its pods carry.
type pod struct {
	owner  string
	labels map[string]string
	spec   *corev1.PodSpec
}

// pods returns every pod template: the Deployments' and the RayClusters'
// groups, with the labels KubeRay adds to the latter.
func (m *manifest) pods() []pod {
	var ps []pod
	for _, d := range m.deployments {
		ps = append(ps, pod{"Deployment/" + d.Name, d.Spec.Template.Labels, &d.Spec.Template.Spec})
	}
	for _, rc := range m.rayClusters {
		ps = append(ps, pod{"RayCluster/" + rc.Name + "/head", rayLabels(rc, rc.Spec.HeadGroupSpec.Template.Labels, "head"), &rc.Spec.HeadGroupSpec.Template.Spec})
		for i := range rc.Spec.WorkerGroupSpecs {
			g := &rc.Spec.WorkerGroupSpecs[i]
			ps = append(ps, pod{"RayCluster/" + rc.Name + "/" + g.GroupName, rayLabels(rc, g.Template.Labels, "worker"), &g.Template.Spec})
		}
	}
	return ps
}

// rayLabels are the labels of a RayCluster's pods: the template's and
// KubeRay's.
func rayLabels(rc *rayv1.RayCluster, tmpl map[string]string, nodeType string) map[string]string {
	l := map[string]string{"ray.io/cluster": rc.Name, "ray.io/node-type": nodeType}
	for k, v := range tmpl {
		l[k] = v
	}
	return l
}

// selects returns the pods a label selector selects.
func (m *manifest) selects(t *testing.T, sel *metav1.LabelSelector) []pod {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("%s: selector %v: %v", m.dir, sel, err)
		return nil
	}
	var out []pod
	for _, p := range m.pods() {
		if s.Matches(labels.Set(p.labels)) {
			out = append(out, p)
		}
	}
	return out
}

// orcContainers are the containers that run orc: the gateway's and the
// scheduler's.
func (m *manifest) orcContainers() map[string]*corev1.Container {
	cs := map[string]*corev1.Container{}
	for _, d := range m.deployments {
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			if len(c.Args) > 0 {
				cs[c.Args[0]] = c
			}
		}
	}
	return cs
}

// configValue is a value of orc-config as a container sees it.
func (m *manifest) configValue(key string) (string, bool) {
	cm, ok := m.configMaps[orcConfig]
	if !ok {
		return "", false
	}
	v, ok := cm.Data[key]
	return v, ok
}

func forEach(t *testing.T, fn func(t *testing.T, m *manifest)) {
	for _, m := range buildAll(t) {
		t.Run(m.dir, func(t *testing.T) { fn(t, m) })
	}
}

// TestSelectors: each Service, PodDisruptionBudget, NetworkPolicy and
// Deployment selects the pods it is meant for, and each Service's and
// Ingress's port exists.
func TestSelectors(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		for _, d := range m.deployments {
			s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
			if err != nil || !s.Matches(labels.Set(d.Spec.Template.Labels)) {
				t.Errorf("Deployment %s: selector %v does not select its own pods (%v)", d.Name, d.Spec.Selector, d.Spec.Template.Labels)
			}
		}
		for _, svc := range m.services {
			ps := m.selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector})
			if len(svc.Spec.Selector) == 0 || len(ps) != 1 {
				t.Errorf("Service %s: selector %v selects %d workloads, want 1", svc.Name, svc.Spec.Selector, len(ps))
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if containerPort(ps[0].spec, sp.TargetPort.String()) == 0 {
					t.Errorf("Service %s: target port %s is no port of %s", svc.Name, sp.TargetPort.String(), ps[0].owner)
				}
			}
		}
		for _, pdb := range m.pdbs {
			if ps := m.selects(t, pdb.Spec.Selector); len(ps) == 0 {
				t.Errorf("PodDisruptionBudget %s selects no pods", pdb.Name)
			}
		}
		for _, np := range m.policies {
			if ps := m.selects(t, &np.Spec.PodSelector); len(ps) == 0 {
				t.Errorf("NetworkPolicy %s selects no pods", np.Name)
			}
			for _, rule := range np.Spec.Ingress {
				for _, peer := range rule.From {
					if peer.PodSelector != nil && peer.NamespaceSelector == nil && len(m.selects(t, peer.PodSelector)) == 0 {
						t.Errorf("NetworkPolicy %s admits pods %v, and there are none", np.Name, peer.PodSelector)
					}
				}
			}
		}
		for _, hpa := range m.hpas {
			ref := hpa.Spec.ScaleTargetRef
			i := slices.IndexFunc(m.deployments, func(d *appsv1.Deployment) bool { return d.Name == ref.Name })
			if ref.Kind != "Deployment" || i < 0 {
				t.Errorf("HorizontalPodAutoscaler %s scales %s/%s, which is not here", hpa.Name, ref.Kind, ref.Name)
			} else if m.deployments[i].Spec.Replicas != nil {
				t.Errorf("Deployment %s sets replicas, which HorizontalPodAutoscaler %s owns: every apply would reset them", ref.Name, hpa.Name)
			}
		}
		for _, ing := range m.ingresses {
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					b := p.Backend.Service
					i := slices.IndexFunc(m.services, func(s *corev1.Service) bool { return s.Name == b.Name })
					if i < 0 || !slices.ContainsFunc(m.services[i].Spec.Ports, func(sp corev1.ServicePort) bool {
						return sp.Name == b.Port.Name && b.Port.Name != "" || sp.Port == b.Port.Number && b.Port.Number != 0
					}) {
						t.Errorf("Ingress %s: backend %s port %v is no Service's", ing.Name, b.Name, b.Port)
					}
				}
			}
		}
	})
}

// containerPort returns the number of a container port of the pod given
// by name or number, or 0.
func containerPort(spec *corev1.PodSpec, port string) int32 {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port || strconv.Itoa(int(p.ContainerPort)) == port {
				return p.ContainerPort
			}
		}
	}
	return 0
}

// TestGatewayProbes: readiness on /readyz, liveness on /healthz, on the
// port the gateway listens on.
func TestGatewayProbes(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		c := m.orcContainers()["gateway"]
		if c == nil {
			t.Fatal("no gateway container")
		}
		addr := ":" + strconv.Itoa(gatewayPort)
		if v, ok := m.configValue("ORC_ADDR"); ok {
			addr = v
		}
		spec := &corev1.PodSpec{Containers: []corev1.Container{*c}}
		for _, tc := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{
			{"readiness", c.ReadinessProbe, "/readyz"},
			{"liveness", c.LivenessProbe, "/healthz"},
			{"startup", c.StartupProbe, "/healthz"},
		} {
			if tc.probe == nil || tc.probe.HTTPGet == nil {
				t.Errorf("gateway: no HTTP %s probe", tc.name)
				continue
			}
			if tc.probe.HTTPGet.Path != tc.path {
				t.Errorf("gateway: %s probe on %s, want %s", tc.name, tc.probe.HTTPGet.Path, tc.path)
			}
			if port := containerPort(spec, tc.probe.HTTPGet.Port.String()); port == 0 || !strings.HasSuffix(addr, ":"+strconv.Itoa(int(port))) {
				t.Errorf("gateway: %s probe on port %s (%d), the gateway listens on %s", tc.name, tc.probe.HTTPGet.Port.String(), port, addr)
			}
		}
	})
}

// TestSecretAndConfigReferences: every Secret and ConfigMap key a pod
// reads exists: in a Secret or ConfigMap of the build, or, for the base,
// among the documented keys of the Secret an operator provides.
func TestSecretAndConfigReferences(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		for _, p := range m.pods() {
			for _, c := range allContainers(p.spec) {
				where := p.owner + "/" + c.Name
				for _, e := range c.Env {
					if e.ValueFrom == nil {
						continue
					}
					if r := e.ValueFrom.SecretKeyRef; r != nil {
						m.checkSecretKey(t, where+" "+e.Name, r.Name, r.Key, r.Optional != nil && *r.Optional)
					}
					if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
						cm, ok := m.configMaps[r.Name]
						if _, has := cm.Data[r.Key]; !ok || !has {
							t.Errorf("%s %s: ConfigMap %s has no key %s", where, e.Name, r.Name, r.Key)
						}
					}
				}
				for _, ef := range c.EnvFrom {
					if ef.ConfigMapRef != nil && m.configMaps[ef.ConfigMapRef.Name] == nil {
						t.Errorf("%s: no ConfigMap %s", where, ef.ConfigMapRef.Name)
					}
					if ef.SecretRef != nil {
						t.Errorf("%s: takes all of Secret %s: name the keys it needs", where, ef.SecretRef.Name)
					}
				}
			}
			for _, v := range p.spec.Volumes {
				if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
					t.Errorf("%s: volume %s: no ConfigMap %s", p.owner, v.Name, v.ConfigMap.Name)
				}
				if v.Secret != nil {
					m.checkSecretKey(t, p.owner+" volume "+v.Name, v.Secret.SecretName, "", false)
				}
			}
		}
	})
}

func (m *manifest) checkSecretKey(t *testing.T, where, name, key string, optional bool) {
	t.Helper()
	if s, ok := m.secrets[name]; ok {
		_, inData := s.Data[key]
		_, inString := s.StringData[key]
		if key != "" && !inData && !inString && !optional {
			t.Errorf("%s: Secret %s has no key %s", where, name, key)
		}
		return
	}
	if name != externalSecret {
		t.Errorf("%s: no Secret %s here, and it is not the documented %s", where, name, externalSecret)
		return
	}
	if key != "" && !slices.Contains(externalSecretKeys, key) {
		t.Errorf("%s: key %s is not one of Secret %s's documented keys %v", where, key, name, externalSecretKeys)
	}
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var cs []*corev1.Container
	for i := range spec.InitContainers {
		cs = append(cs, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		cs = append(cs, &spec.Containers[i])
	}
	return cs
}

// TestOrcSettings: every ORC_* variable the manifests set is one orc reads
// (a flag of that name, or a variable named in cmd/orc), so that a
// misspelt one does not go unnoticed.
func TestOrcSettings(t *testing.T) {
	known := orcSettings(t)
	forEach(t, func(t *testing.T, m *manifest) {
		for key := range m.configMaps[orcConfig].Data {
			if !known[key] {
				t.Errorf("ConfigMap %s: orc reads no %s", orcConfig, key)
			}
		}
		for _, p := range m.pods() {
			for _, c := range allContainers(p.spec) {
				names := []string{}
				for _, e := range c.Env {
					names = append(names, e.Name)
				}
				if c.Name == nodeEnvInit {
					for _, a := range c.Args {
						names = append(names, strings.TrimSuffix(a, "?"))
					}
				}
				for _, n := range names {
					if strings.HasPrefix(n, "ORC_") && !strings.HasPrefix(n, "ORC_DIND_") && !known[n] {
						t.Errorf("%s/%s: orc reads no %s", p.owner, c.Name, n)
					}
				}
			}
		}
	})
}

// orcSettings returns the ORC_* variables orc reads: each flag of
// cmd/orc (--database-url is ORC_DATABASE_URL) and each "ORC_..." string
// there.
func orcSettings(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../cmd/orc/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("cmd/orc: %v", err)
	}
	known := map[string]bool{}
	flags := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); err == nil && n.Kind == token.STRING && strings.HasPrefix(s, "ORC_") {
					known[s] = true
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				arg := -1
				switch sel.Sel.Name {
				case "StringVar", "BoolVar", "IntVar", "Int64Var", "DurationVar", "Float64Var", "Var", "TextVar":
					arg = 1
				case "String", "Bool", "Int", "Int64", "Duration", "Float64", "Func", "BoolFunc":
					arg = 0
				}
				if arg < 0 || len(n.Args) <= arg {
					return true
				}
				if lit, ok := n.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, _ := strconv.Unquote(lit.Value)
					known["ORC_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))] = true
					flags++
				}
			}
			return true
		})
	}
	if flags < 40 || !known["ORC_DATABASE_URL"] || !known["ORC_ENV_FILE"] {
		t.Fatalf("found %d flags in cmd/orc, and not the ones every process has: has the flag code moved?", flags)
	}
	return known
}

// TestImages: the gateway and the scheduler run one orc image, the Ray
// pods one Ray node image, and both carry the same tag (one commit's orc).
func TestImages(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		orcImages := map[string]bool{}
		for _, c := range m.orcContainers() {
			orcImages[c.Image] = true
		}
		rayImages := map[string]bool{}
		for _, p := range m.pods() {
			if !strings.HasPrefix(p.owner, "RayCluster/") {
				continue
			}
			for _, c := range allContainers(p.spec) {
				if c.Name == dindSidecar {
					if !strings.Contains(c.Image, "dind") {
						t.Errorf("%s: the engine sidecar runs %s, not a docker dind image", p.owner, c.Image)
					}
					continue
				}
				rayImages[c.Image] = true
			}
		}
		if len(orcImages) != 1 || len(rayImages) != 1 {
			t.Fatalf("want one orc image and one Ray node image: %v, %v", slices.Sorted(maps.Keys(orcImages)), slices.Sorted(maps.Keys(rayImages)))
		}
		orcImage, rayImage := slices.Collect(maps.Keys(orcImages))[0], slices.Collect(maps.Keys(rayImages))[0]
		if tag(orcImage) != tag(rayImage) {
			t.Errorf("the gateway's %s and the Ray nodes' %s differ in tag: build both from one commit", orcImage, rayImage)
		}
		if m.dir == "base" && (orcImage != "orc:latest" || rayImage != "orc-ray:latest") {
			t.Errorf("base: images %s and %s, want orc:latest and orc-ray:latest (overlays set theirs)", orcImage, rayImage)
		}
	})
}

// tag is an image reference's tag ("latest" if none).
func tag(ref string) string {
	name := ref[strings.LastIndex(ref, "/")+1:]
	if _, t, ok := strings.Cut(name, ":"); ok {
		return t
	}
	return "latest"
}

// TestRayCluster: what KubeRay validates when it takes the cluster, and
// what Orc's scheduler needs of it.
func TestRayCluster(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		if len(m.rayClusters) != 1 {
			t.Fatalf("%d RayClusters, want 1", len(m.rayClusters))
		}
		rc := m.rayClusters[0]
		if errs := validation.IsDNS1035Label(rc.Name); len(errs) > 0 || len(rc.Name) > 53 {
			t.Errorf("RayCluster name %q: KubeRay wants a DNS-1035 label of at most 53 characters %v", rc.Name, errs)
		}
		// The scheduler and the gateway reach the dashboard through
		// KubeRay's head Service.
		addr, _ := m.configValue("ORC_RAY_ADDRESS")
		u, err := url.Parse(addr)
		if err != nil || u.Hostname() != rc.Name+"-head-svc" || u.Port() != "8265" {
			t.Errorf("ORC_RAY_ADDRESS %q is not the dashboard of RayCluster %s (http://%s-head-svc:8265)", addr, rc.Name, rc.Name)
		}
		head := rc.Spec.HeadGroupSpec
		if head.RayStartParams["dashboard-host"] != "0.0.0.0" {
			t.Error("the head's dashboard listens only on the pod's loopback: set dashboard-host 0.0.0.0")
		}
		if head.RayStartParams["num-cpus"] != "0" {
			t.Error("the head offers CPUs: Orc's jobs could land on it, where no engine runs")
		}
		checkGroup(t, "head", head.RayStartParams, head.Resources, &head.Template.Spec, rayHeadContainer)
		if len(rc.Spec.WorkerGroupSpecs) == 0 {
			t.Fatal("no worker groups")
		}
		for i := range rc.Spec.WorkerGroupSpecs {
			g := &rc.Spec.WorkerGroupSpecs[i]
			checkGroup(t, g.GroupName, g.RayStartParams, g.Resources, &g.Template.Spec, rayWorkerName)
			if g.MinReplicas == nil || g.MaxReplicas == nil || *g.MinReplicas > *g.MaxReplicas ||
				g.Replicas != nil && (*g.Replicas < *g.MinReplicas || *g.Replicas > *g.MaxReplicas) {
				t.Errorf("group %s: replicas %v not within min %v and max %v", g.GroupName, g.Replicas, g.MinReplicas, g.MaxReplicas)
			}
			// orc scheduler submits a replica only while an alive node
			// could hold it: a group at zero is never scaled up for it.
			if g.MinReplicas == nil || *g.MinReplicas < 1 {
				t.Errorf("group %s: minReplicas must be 1 or more for orc scheduler to place work on it", g.GroupName)
			}
			if n, err := strconv.ParseFloat(g.RayStartParams["num-cpus"], 64); err != nil || n <= 0 {
				t.Errorf("group %s: num-cpus %q: the plugin engine's CPUs, not the Ray container's, must be set", g.GroupName, g.RayStartParams["num-cpus"])
			}
		}
	})
}

// checkGroup checks one Ray group as KubeRay does (ValidateRayClusterSpec),
// and its resources' syntax.
func checkGroup(t *testing.T, group string, params, resources map[string]string, spec *corev1.PodSpec, ray string) {
	t.Helper()
	if len(spec.Containers) == 0 || spec.Containers[0].Name != ray {
		t.Errorf("group %s: KubeRay takes the first container for Ray's; want %s first", group, ray)
	}
	if _, ok := params["labels"]; ok {
		t.Errorf("group %s: KubeRay refuses rayStartParams labels", group)
	}
	if len(resources) > 0 && (params["num-cpus"] != "" || params["num-gpus"] != "" || params["memory"] != "" || params["resources"] != "") {
		t.Errorf("group %s: KubeRay refuses resources in both rayStartParams and resources", group)
	}
	if spec.RestartPolicy != "" && spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("group %s: restartPolicy %s: the autoscaler wants Never or none", group, spec.RestartPolicy)
	}
	for _, k := range []string{"num-cpus", "num-gpus", "memory", "object-store-memory"} {
		if v, ok := params[k]; ok {
			if _, err := strconv.ParseUint(v, 10, 64); err != nil {
				t.Errorf("group %s: rayStartParams %s %q is not a whole number", group, k, v)
			}
		}
	}
	// KubeRay passes resources as a shell word: a JSON object in quotes.
	if v, ok := params["resources"]; ok {
		var custom map[string]float64
		s, err := strconv.Unquote(strings.Trim(v, "'"))
		if err == nil {
			err = json.Unmarshal([]byte(s), &custom)
		}
		if err != nil || len(custom) == 0 {
			t.Errorf("group %s: rayStartParams resources %s is not a quoted JSON object of numbers: %v", group, v, err)
		}
	}
}

// TestNodeSettings: the worker pods of Ray write the node settings file
// where the scheduler tells the replicas to read it, with the database
// and broker URLs from the Secret, and no secret reaches a Ray container's
// environment (from where Ray would hand it to every job).
func TestNodeSettings(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		file, ok := m.configValue("ORC_NODE_ENV_FILE")
		if !ok || !path.IsAbs(file) {
			t.Fatalf("ORC_NODE_ENV_FILE %q in %s: want an absolute path", file, orcConfig)
		}
		dir := path.Dir(file)
		sched := m.orcContainers()["scheduler"]
		if sched == nil || !slices.ContainsFunc(sched.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == dir && !v.ReadOnly }) {
			t.Errorf("the scheduler writes %s on a read-only root: mount a volume at %s", file, dir)
		}
		for _, p := range m.pods() {
			if !strings.HasPrefix(p.owner, "RayCluster/") {
				continue
			}
			for _, c := range allContainers(p.spec) {
				if c.Name == nodeEnvInit {
					continue
				}
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						t.Errorf("%s/%s: %s comes from a Secret into a Ray container's environment", p.owner, c.Name, e.Name)
					}
				}
			}
			if strings.HasSuffix(p.owner, "/head") {
				continue
			}
			init := findContainer(p.spec.InitContainers, nodeEnvInit)
			if init == nil {
				t.Errorf("%s: no %s init container: replicas there find no database or broker", p.owner, nodeEnvInit)
				continue
			}
			for _, want := range []string{"ORC_DATABASE_URL", "ORC_AMQP_URL", "ORC_DOCKER_HOST"} {
				if !slices.Contains(init.Args, want) {
					t.Errorf("%s/%s: does not write %s", p.owner, init.Name, want)
				}
			}
			for _, a := range init.Args {
				a = strings.TrimSuffix(a, "?") // optional
				if !slices.ContainsFunc(init.Env, func(e corev1.EnvVar) bool { return e.Name == a }) {
					t.Errorf("%s/%s: writes %s, which it is not given", p.owner, init.Name, a)
				}
			}
			i := slices.IndexFunc(init.Env, func(e corev1.EnvVar) bool { return e.Name == "ORC_NODE_ENV_FILE" })
			if i < 0 || init.Env[i].ValueFrom == nil || init.Env[i].ValueFrom.ConfigMapKeyRef == nil ||
				init.Env[i].ValueFrom.ConfigMapKeyRef.Key != "ORC_NODE_ENV_FILE" {
				t.Errorf("%s/%s: ORC_NODE_ENV_FILE must come from %s, as the scheduler's does", p.owner, init.Name, orcConfig)
			}
			ray := &p.spec.Containers[0]
			if v := sharedVolume(init, ray, dir); v == "" {
				t.Errorf("%s: %s and %s share no volume at %s", p.owner, init.Name, ray.Name, dir)
			}
			if hooks, _ := m.configValue("ORC_HOOK_CACHE_DIR"); hooks != "" && !mountedAt(ray, hooks) {
				t.Errorf("%s/%s: replicas cache hooks in %s (the scheduler's ORC_HOOK_CACHE_DIR), which is on no volume", p.owner, ray.Name, hooks)
			}
		}
	})
}

// TestContainerEngine: each Ray worker pod's replicas reach the dind
// sidecar's engine at ORC_DOCKER_HOST, through a shared volume, with the
// socket's group.
func TestContainerEngine(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		for _, p := range m.pods() {
			if !strings.HasPrefix(p.owner, "RayCluster/") || strings.HasSuffix(p.owner, "/head") {
				continue
			}
			init, dind := findContainer(p.spec.InitContainers, nodeEnvInit), findContainer(p.spec.InitContainers, dindSidecar)
			if init == nil || dind == nil {
				t.Errorf("%s: want the %s and %s init containers", p.owner, nodeEnvInit, dindSidecar)
				continue
			}
			if dind.RestartPolicy == nil || *dind.RestartPolicy != corev1.ContainerRestartPolicyAlways || dind.StartupProbe == nil {
				t.Errorf("%s/%s: want a sidecar (restartPolicy Always) with a startup probe, so that Ray starts after the engine", p.owner, dind.Name)
			}
			host := envValue(init, "ORC_DOCKER_HOST")
			socket, ok := strings.CutPrefix(host, "unix://")
			if !ok || socket != envValue(dind, "ORC_DIND_SOCKET") {
				t.Errorf("%s: ORC_DOCKER_HOST %q is not the engine's socket %q", p.owner, host, envValue(dind, "ORC_DIND_SOCKET"))
			}
			if sharedVolume(dind, &p.spec.Containers[0], path.Dir(socket)) == "" {
				t.Errorf("%s: the engine's socket folder %s is not shared with %s", p.owner, path.Dir(socket), p.spec.Containers[0].Name)
			}
			gid, err := strconv.ParseInt(envValue(dind, "ORC_DIND_GROUP"), 10, 64)
			if err != nil || p.spec.SecurityContext == nil || !slices.Contains(p.spec.SecurityContext.SupplementalGroups, gid) {
				t.Errorf("%s: the socket's group %q is not among the pod's supplemental groups", p.owner, envValue(dind, "ORC_DIND_GROUP"))
			}
		}
	})
}

// TestSecurityContexts: orc's pods run as non-root on a read-only root
// with no capabilities, and every folder they write is a volume; the
// Docker engine is the only privileged container.
func TestSecurityContexts(t *testing.T) {
	forEach(t, func(t *testing.T, m *manifest) {
		for _, d := range m.deployments {
			ps := d.Spec.Template.Spec.SecurityContext
			if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("Deployment %s: want runAsNonRoot and the RuntimeDefault seccomp profile", d.Name)
			}
			if d.Spec.Template.Spec.AutomountServiceAccountToken == nil || *d.Spec.Template.Spec.AutomountServiceAccountToken {
				t.Errorf("Deployment %s: mounts a service account token it does not use", d.Name)
			}
			for _, c := range allContainers(&d.Spec.Template.Spec) {
				if !hardened(c) || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
					t.Errorf("Deployment %s/%s: want readOnlyRootFilesystem, no privilege escalation, all capabilities dropped", d.Name, c.Name)
				}
				if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
					t.Errorf("Deployment %s/%s: want CPU and memory requests and a memory limit", d.Name, c.Name)
				}
				for _, dir := range []string{"/tmp", configOr(m, "ORC_HOOK_CACHE_DIR", "")} {
					if dir != "" && !mountedAt(c, dir) {
						t.Errorf("Deployment %s/%s: %s is on the read-only root", d.Name, c.Name, dir)
					}
				}
			}
		}
		for _, p := range m.pods() {
			for _, c := range allContainers(p.spec) {
				privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
				if privileged != (c.Name == dindSidecar) {
					t.Errorf("%s/%s: privileged %v; only the Docker engine may be", p.owner, c.Name, privileged)
				}
				if c.Name != dindSidecar && !hardened(c) {
					t.Errorf("%s/%s: want no privilege escalation and all capabilities dropped", p.owner, c.Name)
				}
			}
		}
	})
}

func hardened(c *corev1.Container) bool {
	sc := c.SecurityContext
	return sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation &&
		sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0
}

func configOr(m *manifest, key, def string) string {
	if v, ok := m.configValue(key); ok {
		return v
	}
	return def
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// mountedAt reports whether dir is on a volume of c.
func mountedAt(c *corev1.Container, dir string) bool {
	return slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool {
		return dir == v.MountPath || strings.HasPrefix(dir, strings.TrimSuffix(v.MountPath, "/")+"/")
	})
}

// sharedVolume returns the volume that a and b both mount at dir, or "".
func sharedVolume(a, b *corev1.Container, dir string) string {
	for _, va := range a.VolumeMounts {
		for _, vb := range b.VolumeMounts {
			if va.Name == vb.Name && va.MountPath == dir && vb.MountPath == dir {
				return va.Name
			}
		}
	}
	return ""
}
