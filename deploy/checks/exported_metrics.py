"""The metrics the services export, read from their code, and the names and labels a
Grafana dashboard query uses.

Code: metrics::counter!/gauge!/histogram!("name", "label" => ..) and
session_core::measure's count/count_by/observe("name", "label", ..) and set("name", ..).
Histograms get buckets when their name ends in a suffix that
crates/service-kit/src/metrics.rs gives buckets to, else they are summaries."""

import glob
import os
import re

from tools import ROOT

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan"}
GROUPING = r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def call_args(text, start):
    """The text of a macro call's arguments, from just after its '('."""
    depth, i = 1, start
    while depth and i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1]


def exported_metrics():
    """(name -> (kind, labels), problems): every metric the code records, and each name
    recorded as two kinds."""
    exported, problems = {}, []

    def export(name, kind, labels):
        old_kind, old_labels = exported.get(name, (kind, set()))
        if old_kind != kind:
            problems.append(f"the code records {name} both as a {old_kind} and as a {kind}")
        exported[name] = (kind, old_labels | set(labels))

    sources = [f for pattern in ("crates/*/src/**/*.rs", "services/*/src/**/*.rs")
               for f in sorted(glob.glob(os.path.join(ROOT, pattern), recursive=True))]
    for f in sources:
        text = open(f).read()
        for m in re.finditer(r"\b(counter|gauge|histogram)!\(", text):
            args = call_args(text, m.end())
            name = re.match(r'\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', args)
            if name:
                export(name.group(1), m.group(1), re.findall(r'"(\w+)"\s*=>', args))
        for m in re.finditer(r'\b(count|count_by|observe)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"\s*,\s*"(\w*)"', text):
            export(m.group(2), "histogram" if m.group(1) == "observe" else "counter",
                   [m.group(3)] if m.group(3) else [])
        for m in re.finditer(r'\bmeasure::set\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"', text):
            export(m.group(1), "gauge", [])
    return exported, problems


def stored_series(exported):
    """Series name as Prometheus stores it -> the labels it carries."""
    bucketed = re.findall(r'Matcher::Suffix\("(\w+)"',
                          open(os.path.join(ROOT, "crates/service-kit/src/metrics.rs")).read())
    series = {}
    for name, (kind, labels) in exported.items():
        if kind == "histogram":
            buckets = any(name.endswith(s) for s in bucketed)
            series[name + "_bucket" if buckets else name] = labels | ({"le"} if buckets else {"quantile"})
            series[name + "_sum"] = series[name + "_count"] = labels
        else:
            series[name] = labels
    return series


def query_parts(expr):
    """(selectors, grouping labels) of a PromQL expression: each (metric name, the text
    inside its {...} or '') and the labels of by/without/on/ignoring/group_* clauses."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\[[^\]]*\]", "", text)
    grouping = set()
    for m in re.finditer(GROUPING, text):
        grouping |= {label.strip() for label in m.group(2).split(",") if label.strip()}
    text = re.sub(GROUPING, " ", text)
    selectors = []
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{([^}]*)\})?", text):
        name, rest = m.group(1), text[m.end():]
        if name.lower() in KEYWORDS or rest.lstrip().startswith("(") or re.match(r"\d", name):
            continue
        selectors.append((name, m.group(3) or ""))
    return selectors, grouping


def matcher_labels(selector_text):
    """The label names a {...} selector matches on."""
    return re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selector_text)
