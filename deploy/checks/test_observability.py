"""The observability profile: promtool accepts deploy/prometheus/prometheus.yml and every
query of the Grafana dashboard; Prometheus scrapes what compose builds; Grafana's
provisioning is mounted and consistent; the dashboard's metrics and labels are ones
the services export (read from their code)."""

import glob
import json
import os
import re

import pytest
import yaml

from compose_files import load_yaml, mounted
from exported_metrics import exported_metrics, matcher_labels, query_parts, stored_series
from tools import ROOT, assert_no_problems, run, tool

PROMETHEUS = "deploy/prometheus/prometheus.yml"
DASHBOARD = "deploy/grafana/dashboards/session-store.json"
PROVISIONING = "deploy/grafana/provisioning"


@pytest.fixture(scope="module")
def prometheus():
    return load_yaml(PROMETHEUS)


@pytest.fixture(scope="module")
def dashboard():
    return json.load(open(os.path.join(ROOT, DASHBOARD)))


@pytest.fixture(scope="module")
def panels(dashboard):
    """(where, panel) of each dashboard panel."""
    return [(f"{DASHBOARD} panel {p.get('id')} ({p.get('title')})", p) for p in dashboard.get("panels") or []]


@pytest.fixture(scope="module")
def exported():
    return exported_metrics()


@pytest.fixture(scope="module")
def series(exported):
    return stored_series(exported[0])


@pytest.fixture(scope="module")
def grafana(merged_observability):
    return merged_observability.get("grafana") or {}


@pytest.fixture(scope="module")
def datasources():
    return [d for f in sorted(glob.glob(os.path.join(ROOT, PROVISIONING, "datasources/*.yml")))
            for d in (yaml.safe_load(open(f)) or {}).get("datasources") or []]


@pytest.fixture(scope="module")
def dashboard_folders(grafana):
    """(problems, [(target in the container, repository folder)]) of the dashboard providers."""
    problems, folders = [], []
    for f in sorted(glob.glob(os.path.join(ROOT, PROVISIONING, "dashboards/*.yml"))):
        for p in (yaml.safe_load(open(f)) or {}).get("providers") or []:
            target = (p.get("options") or {}).get("path")
            source = mounted(grafana, target)
            if source is None or not os.path.isdir(os.path.join(ROOT, source)):
                problems.append(f"{os.path.relpath(f, ROOT)}: provider {p.get('name')} reads {target}, which is no mounted directory")
            else:
                folders.append((target, source))
    return problems, folders


def test_promtool_accepts_the_prometheus_config():
    """promtool check config deploy/prometheus/prometheus.yml."""
    run([tool("promtool"), "check", "config", PROMETHEUS])


def test_prometheus_service_runs_with_the_repository_config(merged_observability):
    """compose's prometheus runs with --config.file mounted from deploy/prometheus/prometheus.yml."""
    svc = merged_observability.get("prometheus") or {}
    flag = [a.split("=", 1)[1] for a in svc.get("command") or [] if a.startswith("--config.file=")]
    assert flag and mounted(svc, flag[0]) == PROMETHEUS, \
        f"docker-compose.yml: the prometheus service does not run with {PROMETHEUS}"


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_prometheus_and_grafana_are_in_the_observability_profile(merged_observability, service):
    """Both start only with --profile observability."""
    assert "observability" in ((merged_observability.get(service) or {}).get("profiles") or []), \
        f"docker-compose.yml: the {service} service is not in the observability profile"


def test_prometheus_scrapes_every_built_service_on_its_port(merged_observability, prometheus):
    """One job per service compose builds, named for it, scraping <service>:<PORT>/metrics."""
    built = {s["build"]["args"]["SERVICE"]: int(s["build"]["args"]["PORT"])
             for s in merged_observability.values() if (s.get("build") or {}).get("args", {}).get("SERVICE")}
    assert built, "docker-compose.yml builds no service (no SERVICE build arg)"
    jobs = {j["job_name"]: j for j in prometheus.get("scrape_configs") or []}
    problems = []
    for service, port in sorted(built.items()):
        job = jobs.get(service)
        targets = [t for c in (job or {}).get("static_configs") or [] for t in c.get("targets") or []]
        if job is None or targets != [f"{service}:{port}"] or job.get("metrics_path", "/metrics") != "/metrics":
            problems.append(f"{PROMETHEUS}: no job {service} scraping {service}:{port}/metrics")
    assert_no_problems(problems)


def test_grafana_mounts_the_provisioning_folder(grafana):
    """deploy/grafana/provisioning is mounted at /etc/grafana/provisioning."""
    assert mounted(grafana, "/etc/grafana/provisioning") == PROVISIONING, \
        f"docker-compose.yml: grafana does not mount {PROVISIONING} at /etc/grafana/provisioning"


def test_grafana_data_source_is_the_compose_prometheus(merged_observability, datasources):
    """A provisioned prometheus data source points at http://prometheus:<its port>."""
    svc = merged_observability.get("prometheus") or {}
    first = (svc.get("ports") or [None])[0]
    port = int(str(first.get("target", 9090))) if isinstance(first, dict) else 9090
    assert any(d.get("type") == "prometheus" and d.get("url") == f"http://prometheus:{port}" for d in datasources), \
        f"{PROVISIONING}/datasources: no prometheus data source at http://prometheus:{port}"


def test_grafana_data_source_interval_is_the_scrape_interval(prometheus, datasources):
    """jsonData.timeInterval of every prometheus data source is Prometheus's scrape_interval."""
    interval = prometheus.get("global", {}).get("scrape_interval")
    assert_no_problems([f"{PROVISIONING}/datasources: timeInterval of {d.get('name')} is not Prometheus's scrape_interval {interval}"
                        for d in datasources
                        if d.get("type") == "prometheus" and (d.get("jsonData") or {}).get("timeInterval") != interval])


def test_grafana_dashboard_providers_read_mounted_folders(dashboard_folders):
    """Each dashboard provider's options.path is a folder mounted into grafana."""
    assert_no_problems(dashboard_folders[0])


def test_dashboard_is_in_a_folder_a_provider_reads(dashboard_folders):
    """deploy/grafana/dashboards/session-store.json is in a provider's mounted folder."""
    assert any(os.path.abspath(os.path.join(ROOT, s, os.path.basename(DASHBOARD))) == os.path.join(ROOT, DASHBOARD)
               for _, s in dashboard_folders[1]), f"{DASHBOARD} is in no folder a Grafana dashboard provider reads"


def test_grafana_home_dashboard_is_a_mounted_file(grafana, dashboard_folders):
    """GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, when set, is a file of a provider's folder."""
    home = str((grafana.get("environment") or {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH") or "")
    assert not home or any(home.startswith(t + "/") and os.path.isfile(os.path.join(ROOT, s, home[len(t) + 1:]))
                           for t, s in dashboard_folders[1]), \
        f"docker-compose.yml: grafana's home dashboard {home} is not a mounted file"


def test_the_code_records_each_metric_as_one_kind(exported):
    """No metric name is recorded both as, say, a counter and a histogram."""
    assert_no_problems(exported[1])


def test_the_metric_scan_finds_the_services_metrics(exported):
    """At least 5 metrics found in the code (else the patterns here are stale)."""
    assert len(exported[0]) >= 5, \
        f"found only {sorted(exported[0])} in the services' code; is the pattern in deploy/checks/exported_metrics.py stale?"


def test_dashboard_panel_ids_are_unique(panels):
    """No two panels share an id."""
    seen, problems = set(), []
    for where, p in panels:
        if p.get("id") in seen:
            problems.append(f"{where}: id used twice")
        seen.add(p.get("id"))
    assert_no_problems(problems)


def test_dashboard_panels_fit_the_24_column_grid(panels):
    """gridPos: x >= 0, x + w <= 24, h > 0."""
    problems = []
    for where, p in panels:
        g = p.get("gridPos") or {}
        if not (0 <= g.get("x", -1) and g.get("x", 0) + g.get("w", 0) <= 24 and g.get("h", 0) > 0):
            problems.append(f"{where}: gridPos {g} is off the 24-column grid")
    assert_no_problems(problems)


def test_every_dashboard_panel_has_a_query(panels):
    """Each panel has at least one target."""
    assert_no_problems([f"{where}: no query" for where, p in panels if not p.get("targets")])


def test_dashboard_data_sources_are_provisioned(panels, datasources):
    """Every panel's and target's data source uid is a provisioned one."""
    uids = {d.get("uid") for d in datasources}
    assert_no_problems([f"{where}: data source uid {ds.get('uid')} is not provisioned ({sorted(uids)})"
                        for where, p in panels for t in p.get("targets") or []
                        for ds in (p.get("datasource"), t.get("datasource"))
                        if ds is not None and ds.get("uid") not in uids])


def test_dashboard_queries_name_metrics_the_services_export(panels, series):
    """Every metric name in a query is a series the services' code produces."""
    assert_no_problems([f"{where}: {name} is no metric the services export"
                        for where, p in panels for t in p.get("targets") or []
                        for name, _ in query_parts(t.get("expr", ""))[0] if name not in series])


def test_dashboard_query_matchers_use_labels_the_metrics_have(panels, series):
    """A {label=...} matcher names a label of that metric (or job, instance)."""
    assert_no_problems([f"{where}: {name} has no label {label}"
                        for where, p in panels for t in p.get("targets") or []
                        for name, sel in query_parts(t.get("expr", ""))[0] if name in series
                        for label in matcher_labels(sel) if label not in series[name] | {"job", "instance"}])


def labels_of(names, series):
    return set().union(*(series.get(n, set()) for n in names)) | {"job", "instance"}


def test_dashboard_queries_group_by_labels_the_metrics_have(panels, series):
    """by(...)/without(...)/on(...) name labels some metric of the query has."""
    problems = []
    for where, p in panels:
        for t in p.get("targets") or []:
            selectors, grouping = query_parts(t.get("expr", ""))
            names = {n for n, _ in selectors}
            for label in sorted(grouping - labels_of(names, series)):
                problems.append(f"{where}: groups by {label}, a label none of {sorted(names)} has")
    assert_no_problems(problems)


def test_dashboard_legends_show_labels_the_queries_return(panels, series):
    """{{label}} in a legendFormat is a label of the query's result."""
    problems = []
    for where, p in panels:
        for t in p.get("targets") or []:
            selectors, grouping = query_parts(t.get("expr", ""))
            labels = labels_of({n for n, _ in selectors}, series)
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", t.get("legendFormat", "")):
                if label not in (grouping or labels):
                    problems.append(f"{where}: the legend shows {label}, which the query's result has not")
    assert_no_problems(problems)


def test_promtool_parses_every_dashboard_query(panels, exported, tmp_path):
    """Every panel query, written as a recording rule, passes promtool check rules."""
    rules = [{"record": f"dashboard:panel_{p.get('id')}_{t.get('refId')}",
              "expr": t.get("expr", "").replace("$__rate_interval", "1m").replace("$__interval", "15s")}
             for _, p in panels for t in p.get("targets") or []]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run([tool("promtool"), "check", "rules", str(path)])
    shown = {n for _, p in panels for t in p.get("targets") or [] for n, _ in query_parts(t.get("expr", ""))[0]}
    unused = sorted(n for n in exported[0] if not {n, n + "_bucket", n + "_count", n + "_sum"} & shown)
    print(f"{DASHBOARD}: {len(panels)} panels, {len(rules)} queries; not shown: {', '.join(unused) or 'none'}")
