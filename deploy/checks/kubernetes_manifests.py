"""deploy/k8s read once: the manifests, kustomization.yaml, and the resources each
applies (kustomization's resources) or only shows (*.example.yaml)."""

import os

import yaml

from tools import ROOT

K8S = "deploy/k8s"
# The oldest Kubernetes the manifests support (the preStop sleep action is on by
# default from 1.30) and the newest the pinned kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
# Settings that are secrets: only ever from a Secret, never in a ConfigMap or a value.
SECRET_ENV = {"APP__JWT__SECRET", "APP__INTERNAL__TOKEN", "APP__ADMIN__TOKEN",
              "APP__REDIS__URL", "APP__MONGODB__URI", "APP__JWT__SIGNING_KEY"}


def manifest_files():
    """deploy/k8s/*.yaml but kustomization.yaml, sorted."""
    return sorted(f for f in os.listdir(os.path.join(ROOT, K8S))
                  if f.endswith(".yaml") and f != "kustomization.yaml")


class Manifests:
    """The manifests of deploy/k8s, by (kind, name)."""

    def __init__(self):
        self.kustomization = yaml.safe_load(open(os.path.join(ROOT, K8S, "kustomization.yaml"))) or {}
        self.listed = self.kustomization.get("resources") or []
        self.namespace = self.kustomization.get("namespace")
        self.kustomize_images = {i.get("name") for i in self.kustomization.get("images") or []}
        self.files = {}       # file -> its documents
        self.applied = {}     # (kind, name) -> resource, from the files kustomization applies
        self.examples = {}    # (kind, name) -> resource, from *.example.yaml
        self.duplicates = []  # (file, kind, name) defined a second time
        for f in manifest_files():
            docs = [d for d in yaml.safe_load_all(open(os.path.join(ROOT, K8S, f))) if d]
            self.files[f] = docs
            target = self.examples if self.is_example(f) else self.applied
            for d in docs:
                key = (d.get("kind"), (d.get("metadata") or {}).get("name"))
                if key in target:
                    self.duplicates.append((f, *key))
                target[key] = d

    @staticmethod
    def is_example(f):
        return f.endswith(".example.yaml")

    def resources(self, kind):
        """(file, resource) of every resource of this kind, applied or example."""
        return [(f, d) for f, docs in self.files.items() for d in docs if d.get("kind") == kind]


def matches(selector, labels):
    """A non-empty selector every label of which the pod has."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
