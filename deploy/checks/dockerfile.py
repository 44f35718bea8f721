"""A Dockerfile read as one image build: its ARGs, the values a build gives them, and
what its instructions copy, build, install and run."""

import os
import re
from dataclasses import dataclass, field

from compose_files import load_yaml
from tools import ROOT


def arg_declarations(text):
    """ARG name -> default (None when the build must pass it)."""
    declared = {}
    for m in re.finditer(r"^\s*ARG\s+(\w+)(?:=(\S*))?\s*$", text, re.M):
        declared.setdefault(m.group(1), m.group(2))
    return declared


@dataclass
class ImageBuild:
    """One image: the Dockerfile at path built with these build args."""

    label: str
    path: str
    args: dict
    compose_service: dict = None
    declared: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    copy_sources: list = field(default_factory=list)   # COPY sources from the context
    cargo_packages: list = field(default_factory=list)  # cargo build -p ...
    release_binaries: list = field(default_factory=list)  # target/release/...
    installed: dict = field(default_factory=dict)  # path in the build stage -> binary copied there
    copied: dict = field(default_factory=dict)     # path in the final image -> path in another stage
    runs: list = field(default_factory=list)       # (instruction, program) of ENTRYPOINT, CMD, HEALTHCHECK

    def __post_init__(self):
        text = open(os.path.join(ROOT, self.path)).read().replace("\\\n", " ")
        self.declared = arg_declarations(text)
        self.values = {name: self.args.get(name, default) or "" for name, default in self.declared.items()}
        for raw in text.splitlines():
            line = re.sub(r"\$\{(\w+)\}|\$(\w+)",
                          lambda m: self.values.get(m.group(1) or m.group(2), m.group(0)), raw.strip())
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            op = words[0].upper()
            if op == "COPY":
                if any(w.startswith("--from") for w in words):
                    self.copied[words[-1]] = words[-2]
                else:
                    self.copy_sources += [w for w in words[1:-1] if not w.startswith("--")]
            unquoted = line.replace('"', "").replace("'", "")
            self.cargo_packages += re.findall(r"cargo build [^&;|]*?-p ([\w$-]+)", unquoted)
            for binary, dest in re.findall(r"\bcp target/release/([\w$-]+) (\S+)", unquoted):
                self.installed[dest] = binary
            self.release_binaries += re.findall(r"\btarget/release/([\w$-]+)", unquoted)
            if op in ("ENTRYPOINT", "CMD") or (op == "HEALTHCHECK" and "CMD" in words):
                m = re.search(r'\[\s*"([^"]+)"', line)
                if m:
                    self.runs.append((op, m.group(1)))

    def __repr__(self):
        return self.label

    def program_problem(self, what, program, binaries):
        """The problem with a program the image runs, or None: it must be a file the
        image got from a workspace binary."""
        binary = self.installed.get(self.copied.get(program, ""))
        if binary is None:
            return f"{self.label}: {what} {program}, which the image does not install from target/release"
        if binary not in binaries:
            return f"{self.label}: {what} {program}, built from {binary}, which no workspace package builds"
        return None


def compose_builds():
    """(compose service name, its build section as a dict, Dockerfile path, build args)
    of each service docker-compose.yml builds."""
    builds = []
    for name, svc in sorted((load_yaml("docker-compose.yml").get("services") or {}).items()):
        build = svc.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        path = os.path.normpath(os.path.join(build.get("context", "."), build.get("dockerfile", "Dockerfile")))
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(a.split("=", 1) if "=" in a else (a, None) for a in args)
        args = {k: None if v is None else str(v) for k, v in args.items()}
        builds.append((name, svc, path, args))
    return builds


def image_builds():
    """Every image to check: each one docker-compose.yml builds, then every
    deploy/*Dockerfile compose does not build, with no build args."""
    images, built = [], set()
    for name, svc, path, args in compose_builds():
        if not os.path.isfile(os.path.join(ROOT, path)):
            continue  # test_compose_builds_dockerfiles_that_exist names it
        built.add(path)
        service = args.get("SERVICE")
        images.append(ImageBuild(f"{path} (SERVICE={service})" if service else path, path, args, svc))
    for name in sorted(os.listdir(os.path.join(ROOT, "deploy"))):
        path = os.path.join("deploy", name)
        if name.endswith("Dockerfile") and path not in built:
            images.append(ImageBuild(path, path, {}))
    return images
