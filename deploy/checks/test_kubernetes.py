"""deploy/k8s: every manifest valid for the Kubernetes versions supported
(kubernetes-validate --strict, offline), kustomization.yaml lists them, and they agree
with each other, with docker-compose.yml and with the services (ports, probes, security
context, Secrets and ConfigMaps referenced, configuration keys the services know)."""

import os
import shutil
from urllib.parse import urlsplit

import pytest

from kubernetes_manifests import K8S, KUBERNETES_VERSIONS, SECRET_ENV, Manifests, manifest_files, matches
from tools import ROOT, assert_no_problems, run, tool

SERVICES = ["auth-service", "resource-service"]


@pytest.fixture(scope="module")
def k8s():
    return Manifests()


def validate(paths):
    """kubernetes-validate --strict for every supported version. Anything but an INFO
    line fails: it exits 0 on a kind or apiVersion it has no schema for (a typo)."""
    versions = [a for v in KUBERNETES_VERSIONS for a in ("-k", v)]
    result = run([tool("kubernetes-validate"), "--strict", *versions, *paths], ok=False)
    lines = (result.stdout + result.stderr).splitlines()
    bad = [line for line in lines if not line.startswith("INFO ")]
    if result.returncode != 0 or bad or not lines:
        pytest.fail(f"kubernetes-validate --strict refused {' '.join(paths)} (Kubernetes {' '.join(KUBERNETES_VERSIONS)}), "
                    f"exit {result.returncode}:\n" + "\n".join(bad))
    return len(lines)


def test_deploy_k8s_holds_manifests():
    """deploy/k8s has at least one manifest besides kustomization.yaml."""
    assert manifest_files(), "deploy/k8s holds no manifest"


def test_kubernetes_validate_accepts_every_manifest():
    """kubernetes-validate --strict -k 1.30.0 -k 1.37.0 on every deploy/k8s/*.yaml (offline)."""
    checks = validate([os.path.join(K8S, f) for f in manifest_files()])
    print(f"{checks} resource checks, strict, Kubernetes {' '.join(KUBERNETES_VERSIONS)}")


def test_kustomize_output_is_valid(tmp_path):
    """What `kubectl apply -k deploy/k8s` would send, validated the same way. Conditional,
    as in the shell script it replaces: skipped (reported) when kubectl is not installed;
    the kustomization's file list is checked either way (below)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: the kustomization's rendering is not checked (its file list is)")
    out = tmp_path / "kustomized.yaml"
    out.write_text(run([kubectl, "kustomize", K8S]).stdout)
    validate([str(out)])


def test_kustomization_lists_files_that_exist(k8s):
    """Every resource kustomization.yaml lists is a file of deploy/k8s."""
    assert_no_problems([f"{K8S}/kustomization.yaml lists {f}, which does not exist"
                        for f in k8s.listed if not os.path.isfile(os.path.join(ROOT, K8S, f))])


def test_every_manifest_holds_a_resource(k8s):
    """No empty manifest file."""
    assert_no_problems([f"{K8S}/{f} holds no resource" for f, docs in k8s.files.items() if not docs])


def test_kustomization_applies_every_manifest_but_the_examples(k8s):
    """Every non-example manifest is in kustomization's resources; no *.example.yaml is."""
    problems = []
    for f in k8s.files:
        if k8s.is_example(f) and f in k8s.listed:
            problems.append(f"{K8S}/kustomization.yaml applies {f}, an example with placeholder values")
        if not k8s.is_example(f) and f not in k8s.listed:
            problems.append(f"{K8S}/{f} is not in kustomization.yaml's resources")
    assert_no_problems(problems)


def test_no_resource_is_defined_twice(k8s):
    """(kind, name) is unique among the applied manifests, and among the examples."""
    assert_no_problems([f"{K8S}/{f}: {kind} {name} is defined twice" for f, kind, name in k8s.duplicates])


def test_no_secret_is_committed(k8s):
    """Secrets are only in *.example.yaml (the real ones: kubectl create secret)."""
    assert_no_problems([f"{K8S}/{f}: Secret {d['metadata']['name']} is committed; create it with kubectl create secret"
                        for f, d in k8s.resources("Secret") if not k8s.is_example(f)])


def test_example_secret_values_are_obvious_placeholders(k8s):
    """Every value of an example Secret contains 'replace-me'."""
    assert_no_problems([f"{K8S}/{f}: Secret {d['metadata']['name']} key {k} is no obvious placeholder (needs 'replace-me')"
                        for f, d in k8s.resources("Secret") if k8s.is_example(f)
                        for k, v in {**(d.get("stringData") or {}), **(d.get("data") or {})}.items()
                        if "replace-me" not in str(v)])


def test_configmap_keys_are_configuration_keys_the_services_know(k8s, unknown_key):
    """Every APP__ key of a ConfigMap is a known configuration key."""
    assert_no_problems([p for f, d in k8s.resources("ConfigMap") for k in d.get("data") or {}
                        if (p := unknown_key(f"{K8S}/{f} ConfigMap {d['metadata']['name']}", k))])


def test_configmaps_hold_no_secret_setting(k8s):
    """Secret settings (JWT secret, tokens, Redis URL, MongoDB URI, signing key) are never in a ConfigMap."""
    assert_no_problems([f"{K8S}/{f} ConfigMap {d['metadata']['name']}: {k} is a secret; it belongs in a Secret"
                        for f, d in k8s.resources("ConfigMap") for k in d.get("data") or {} if k in SECRET_ENV])


class Workload:
    """A service's Deployment, pod template and container in deploy/k8s."""

    def __init__(self, k8s, service, port, image):
        self.service, self.port, self.compose_image = service, port, image
        self.where = f"{K8S} {service}"
        dep = k8s.applied.get(("Deployment", service))
        if dep is None:
            pytest.fail(f"{self.where}: no Deployment named {service}")
        self.spec = dep["spec"]
        self.pod_labels = self.spec["template"]["metadata"].get("labels") or {}
        self.pod = self.spec["template"]["spec"]
        containers = [c for c in self.pod["containers"] if c["name"] == service]
        if len(containers) != 1:
            pytest.fail(f"{self.where}: no container named {service}")
        self.c = containers[0]
        self.named_ports = {p.get("name"): p["containerPort"] for p in self.c.get("ports") or []}
        self.env = {e["name"]: e for e in self.c.get("env") or []}
        pod_sc, sc = self.pod.get("securityContext") or {}, self.c.get("securityContext") or {}
        self.sc = sc
        self.either = lambda k: sc.get(k, pod_sc.get(k))

    def resolve(self, port):
        """A port number, or a named container port's number."""
        return self.named_ports.get(port) if isinstance(port, str) else port


@pytest.fixture(scope="module", params=SERVICES)
def workload(request, k8s, built_services):
    service = request.param
    if service not in built_services:
        pytest.fail(f"docker-compose.yml builds no image with SERVICE={service}")
    _, port, image = built_services[service]
    return Workload(k8s, service, port, image)


def test_each_built_service_has_a_deployment_with_its_container(workload):
    """A Deployment named for each service compose builds, with a container of that name
    (the workload fixture fails naming what is missing)."""
    assert workload.c["name"] == workload.service


def test_deployment_runs_at_least_two_replicas(workload):
    """spec.replicas >= 2."""
    assert workload.spec.get("replicas", 1) >= 2, f"{workload.where}: Deployment runs fewer than 2 replicas"


def test_deployment_selector_matches_its_pods(workload):
    """spec.selector.matchLabels select the pod template's labels."""
    assert matches(workload.spec["selector"].get("matchLabels"), workload.pod_labels), \
        f"{workload.where}: the Deployment's selector does not match its pods"


def image_name(workload):
    image = workload.c["image"]
    return image.split("@")[0].rsplit(":", 1)[0] if "/" in image else image


def test_deployment_image_is_the_one_compose_builds(workload):
    """The container's image (less tag and digest) is compose's image name for the service."""
    assert image_name(workload) == workload.compose_image, \
        f"{workload.where}: image {workload.c['image']}, but docker-compose.yml builds {workload.compose_image}"


def test_deployment_image_has_an_entry_in_kustomization_images(workload, k8s):
    """kustomization.yaml's images: set the image's tag (an entry per image)."""
    assert image_name(workload) in k8s.kustomize_images, \
        f"{workload.where}: image {image_name(workload)} has no entry under kustomization.yaml's images"


def test_deployment_runs_as_non_root(workload):
    """runAsNonRoot true (pod or container)."""
    assert workload.either("runAsNonRoot") is True, f"{workload.where}: runAsNonRoot is not true"


def test_deployment_runs_as_a_fixed_non_root_user(workload):
    """A numeric runAsUser other than 0 (pod or container)."""
    user = workload.either("runAsUser")
    assert isinstance(user, int) and user != 0, f"{workload.where}: no fixed non-root runAsUser"


def test_deployment_root_filesystem_is_read_only(workload):
    """The container's readOnlyRootFilesystem is true."""
    assert workload.sc.get("readOnlyRootFilesystem") is True, f"{workload.where}: readOnlyRootFilesystem is not true"


def test_deployment_cannot_escalate_privileges(workload):
    """The container's allowPrivilegeEscalation is false."""
    assert workload.sc.get("allowPrivilegeEscalation") is False, f"{workload.where}: allowPrivilegeEscalation is not false"


def test_deployment_drops_all_capabilities(workload):
    """The container's capabilities.drop has ALL."""
    assert "ALL" in ((workload.sc.get("capabilities") or {}).get("drop") or []), \
        f"{workload.where}: capabilities do not drop ALL"


def test_deployment_uses_the_runtime_default_seccomp_profile(workload):
    """seccompProfile.type RuntimeDefault (pod or container)."""
    assert (workload.either("seccompProfile") or {}).get("type") == "RuntimeDefault", \
        f"{workload.where}: seccompProfile is not RuntimeDefault"


def test_container_exposes_the_port_compose_builds_it_for(workload):
    """A containerPort is the PORT build arg of docker-compose.yml."""
    assert workload.port in workload.named_ports.values(), \
        f"{workload.where}: the container does not expose {workload.port}, the port compose builds it for"


def test_container_env_names_configuration_keys_the_services_know(workload, unknown_key):
    """Every APP__ variable of the container is a known configuration key."""
    assert_no_problems([p for name in workload.env if (p := unknown_key(f"{workload.where} env", name))])


def test_secret_settings_come_from_a_secret(workload):
    """Secret settings use valueFrom.secretKeyRef, never a value."""
    assert_no_problems([f"{workload.where}: {name} must come from a Secret (secretKeyRef)"
                        for name, e in workload.env.items()
                        if name in SECRET_ENV and "secretKeyRef" not in (e.get("valueFrom") or {})])


def test_secret_references_are_shown_in_the_example_secret(workload, k8s):
    """Each secretKeyRef names a Secret and key that secret.example.yaml shows."""
    problems = []
    for name, e in workload.env.items():
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = k8s.examples.get(("Secret", ref["name"]))
            if secret is None or ref["key"] not in (secret.get("stringData") or {}):
                problems.append(f"{workload.where}: {name} reads Secret {ref['name']} key {ref['key']}, "
                                "which secret.example.yaml does not show")
    assert_no_problems(problems)


def test_server_port_setting_is_the_container_port(workload):
    """APP__SERVER__PORT, when set, is the port compose builds the service for."""
    env = workload.env.get("APP__SERVER__PORT")
    assert env is None or env.get("value") == str(workload.port), f"{workload.where}: APP__SERVER__PORT is not {workload.port}"


def test_env_from_names_configmaps_that_exist(workload, k8s):
    """Every envFrom configMapRef is a ConfigMap some applied manifest defines."""
    assert_no_problems([f"{workload.where}: envFrom names ConfigMap {s['configMapRef']['name']}, which no manifest defines"
                        for s in workload.c.get("envFrom") or []
                        if "configMapRef" in s and ("ConfigMap", s["configMapRef"]["name"]) not in k8s.applied])


@pytest.mark.parametrize("probe, path", [("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")])
def test_probes_get_the_health_endpoints_on_the_service_port(workload, probe, path):
    """readinessProbe GETs /health/ready and livenessProbe /health/live, on the service's port."""
    get = (workload.c.get(probe) or {}).get("httpGet") or {}
    assert get.get("path") == path and workload.resolve(get.get("port")) == workload.port, \
        f"{workload.where}: {probe} must GET {path} on port {workload.port}"


def test_container_requests_and_limits_cpu_and_memory(workload):
    """resources.requests and resources.limits both set cpu and memory."""
    assert_no_problems([f"{workload.where}: resources.{kind} needs cpu and memory" for kind in ("requests", "limits")
                        if not {"cpu", "memory"} <= set(((workload.c.get("resources") or {}).get(kind) or {}))])


def test_termination_grace_period_covers_the_drain(workload):
    """terminationGracePeriodSeconds >= 30 s drain + preStop sleep + 5 s margin."""
    sleep = ((((workload.c.get("lifecycle") or {}).get("preStop") or {}).get("sleep")) or {}).get("seconds", 0)
    assert workload.pod.get("terminationGracePeriodSeconds", 30) >= 30 + sleep + 5, \
        f"{workload.where}: terminationGracePeriodSeconds leaves no time for the 30 s drain"


def test_replicas_are_spread_across_nodes(workload):
    """A hostname topologySpreadConstraint or a podAntiAffinity."""
    spread = [t for t in workload.pod.get("topologySpreadConstraints") or []
              if t.get("topologyKey") == "kubernetes.io/hostname"]
    assert spread or (workload.pod.get("affinity") or {}).get("podAntiAffinity"), \
        f"{workload.where}: replicas are not spread across nodes"


def test_service_sends_the_port_to_the_pods(workload, k8s):
    """A Service named for the service selects the pods and sends its port to that port."""
    svc = k8s.applied.get(("Service", workload.service))
    assert svc is not None and matches(svc["spec"].get("selector"), workload.pod_labels) and any(
        p["port"] == workload.port and workload.resolve(p.get("targetPort", p["port"])) == workload.port
        for p in svc["spec"]["ports"]), f"{workload.where}: no Service {workload.service} sending port {workload.port} to the pods"


def test_pod_disruption_budget_selects_the_pods(workload, k8s):
    """A PodDisruptionBudget named for the service selects its pods."""
    pdb = k8s.applied.get(("PodDisruptionBudget", workload.service))
    assert pdb is not None and matches(pdb["spec"]["selector"].get("matchLabels"), workload.pod_labels), \
        f"{workload.where}: no PodDisruptionBudget {workload.service} selecting the pods"


def test_horizontal_pod_autoscaler_scales_on_cpu_from_two(workload, k8s):
    """An HPA on the Deployment, minReplicas >= 2, with a cpu resource metric."""
    hpa = k8s.applied.get(("HorizontalPodAutoscaler", workload.service))
    assert hpa is not None and hpa["spec"]["scaleTargetRef"].get("name") == workload.service \
        and hpa["spec"].get("minReplicas", 1) >= 2 \
        and any((m.get("resource") or {}).get("name") == "cpu" for m in hpa["spec"].get("metrics") or []), \
        f"{workload.where}: no HorizontalPodAutoscaler on CPU for Deployment {workload.service} with at least 2 replicas"


def test_auth_service_url_names_the_auth_service_service(workload, k8s, built_services):
    """APP__AUTH_SERVICE__URL from the ConfigMaps, when set, is auth-service[.<namespace>...]:<its port>."""
    config = {}
    for source in workload.c.get("envFrom") or []:
        cm = k8s.applied.get(("ConfigMap", (source.get("configMapRef") or {}).get("name")))
        config.update((cm or {}).get("data") or {})
    url = config.get("APP__AUTH_SERVICE__URL")
    if not url:
        return
    parts = urlsplit(url)
    host = (parts.hostname or "").split(".")
    auth_port = built_services["auth-service"][1]
    assert host[0] == "auth-service" and (len(host) == 1 or host[1] == k8s.namespace) and parts.port == auth_port, \
        (f"{workload.where}: APP__AUTH_SERVICE__URL {url} is not the auth-service Service "
         f"(auth-service.{k8s.namespace}.svc:{auth_port})")


def test_auth_service_has_an_ingress_host_of_its_own(k8s):
    """Cookies ignore ports: an Ingress serves the auth-service under a host name that
    sends nothing else."""
    hosts = {}
    for (kind, _), d in k8s.applied.items():
        for rule in (d.get("spec") or {}).get("rules") or [] if kind == "Ingress" else []:
            for p in (rule.get("http") or {}).get("paths") or []:
                hosts.setdefault(rule.get("host"), set()).add(((p.get("backend") or {}).get("service") or {}).get("name"))
    auth_hosts = [h for h, backends in hosts.items() if "auth-service" in backends]
    assert auth_hosts, f"{K8S}: no Ingress serves the auth-service under a host name"
    assert_no_problems([f"{K8S}: the auth-service's host {h or '(any)'} serves {sorted(map(str, hosts[h]))}; "
                        "it needs a host name of its own" for h in auth_hosts if h is None or hosts[h] != {"auth-service"}])
