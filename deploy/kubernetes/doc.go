// Package kubernetes holds Orc's Kubernetes manifests: a Kustomize base
// (the gateway, the scheduler, a KubeRay RayCluster whose worker pods run
// the plugin containers, network policies) and an example overlay. See
// docs/deploy-kubernetes.md.
//
// It has no Go code of its own. Its tests build every kustomization, decode
// each resource strictly into the Kubernetes and KubeRay API types (an
// unknown or misspelt field fails), and check what a typo would break
// without Kubernetes noticing: selectors and the pods they select, the
// Secret keys and ConfigMap keys that the pods read, the ORC_* settings
// that orc knows, probes, images, the node settings file of the Ray
// worker pods and the Docker engine beside them. So the Kubernetes and
// KubeRay modules are test dependencies only, and the orc binary does not
// grow.
package kubernetes
