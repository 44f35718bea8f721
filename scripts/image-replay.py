#!/usr/bin/env python3
"""Replays the build stage of deploy/Dockerfile without a container engine.

The build stage of an image sees only what its COPY lines bring from the build context
(the workspace, less what .dockerignore excludes). This script makes a temporary tree of
exactly those files, at the paths the COPY lines put them, then runs there what the
build needs of cargo:

    cargo metadata --locked --format-version 1     (every member's manifest, the lock file)
    cargo check --locked -p SERVICE                (for each service; not with --metadata-only)

so that a workspace member, a lock file or a source file the image build would miss
fails CI here, with the path, instead of failing `docker build` later. The candidate
files are what git knows: `git ls-files` plus untracked files git does not ignore.
CARGO_TARGET_DIR is target/image-replay of the real workspace, so a second run reuses
the compiled dependencies.

Usage: scripts/image-replay.py [--dockerfile PATH] [--metadata-only] [--service NAME]...
Exits 1 and prints `image replay: SERVICE: <cargo's error>` when the replay fails.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVICES = ["auth-service", "resource-service"]


class ReplayError(Exception):
    """The Dockerfile cannot be replayed (not a cargo failure: the replay's own)."""


# --- the Dockerfile ----------------------------------------------------------------------


def instructions(text):
    """(KEYWORD, arguments) of each instruction, continuation lines joined."""
    result, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current:
            keyword, _, args = current.partition(" ")
            result.append((keyword.upper(), args.strip()))
        current = ""
    if current.strip():
        keyword, _, args = current.strip().partition(" ")
        result.append((keyword.upper(), args.strip()))
    return result


def substitute(value, args):
    """${NAME}, ${NAME:-default} and $NAME from the build args in scope."""

    def one(m):
        name = m.group(1) or m.group(3)
        default = m.group(2)
        got = args.get(name)
        return got if got else (default or "")

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, value)


def copy_words(args):
    """(flags, sources, destination) of a COPY or ADD, in shell or JSON form."""
    flags = []
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        flags.append(flag)
        rest = rest.lstrip()
    if rest.startswith("["):
        words = json.loads(rest)
    else:
        words = rest.split()
    if len(words) < 2:
        raise ReplayError(f"COPY {args}: needs a source and a destination")
    return flags, words[:-1], words[-1]


def build_stage(path):
    """The stage that runs `cargo build`: its COPY lines and the WORKDIR cargo runs in.

    Returns (copies, workdir), copies as [(sources, destination, workdir at that line)],
    including the COPY lines of the stages it is built FROM.
    """
    global_args, stages = {}, []
    for keyword, args in instructions(open(path).read()):
        if keyword == "FROM":
            words = args.split()
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            parent = next((s for s in stages if s["name"] and s["name"] == base), None)
            stage = {
                "name": name,
                "copies": list(parent["copies"]) if parent else [],
                "workdir": parent["workdir"] if parent else "/",
                "args": dict(parent["args"]) if parent else {},
                "cargo_workdir": None,
                "unfollowed": list(parent["unfollowed"]) if parent else [],
            }
            stages.append(stage)
            continue
        if not stages:
            if keyword == "ARG":
                name, _, default = args.partition("=")
                global_args[name.strip()] = default.strip().strip('"')
            continue
        stage = stages[-1]
        if keyword == "ARG":
            name, _, default = args.partition("=")
            name = name.strip()
            stage["args"][name] = default.strip().strip('"') or global_args.get(name, "")
        elif keyword == "WORKDIR":
            stage["workdir"] = os.path.normpath(os.path.join(stage["workdir"], substitute(args, stage["args"])))
        elif keyword in ("COPY", "ADD"):
            flags, sources, dest = copy_words(args)
            if any(f.startswith("--from") for f in flags):
                stage["unfollowed"].append(f"{keyword} {args}")
                continue
            sources = [substitute(s, stage["args"]) for s in sources]
            stage["copies"].append((sources, substitute(dest, stage["args"]), stage["workdir"]))
        elif keyword == "RUN" and re.search(r"\bcargo\s+build\b", args) and stage["cargo_workdir"] is None:
            stage["cargo_workdir"] = stage["workdir"]
    for stage in stages:
        if stage["cargo_workdir"] is not None:
            if stage["unfollowed"]:
                raise ReplayError(f"{stage['unfollowed'][0]}: the build stage copies from another stage "
                                  "or image, which this replay cannot follow")
            return stage["copies"], stage["cargo_workdir"]
    raise ReplayError(f"{path}: no stage runs `cargo build`")


# --- .dockerignore -------------------------------------------------------------------------


def ignore_pattern(pattern):
    """The regular expression Docker makes of a .dockerignore pattern (moby's patternmatcher)."""
    out, i = "^", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 1
                if pattern[i + 1 : i + 2] == "/":
                    i += 1
                out += ".*" if i + 1 == len(pattern) else "(.*/)?"
            else:
                out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out += re.escape(c)
            else:
                out += "[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]"
                i = end
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


def dockerignore(path):
    """[(compiled pattern, is_exclusion)] of the context's .dockerignore."""
    patterns = []
    if not os.path.exists(path):
        return patterns
    for line in open(path).read().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        line = os.path.normpath(line).lstrip("/")
        if line in ("", "."):
            continue
        patterns.append((ignore_pattern(line), exclusion))
    return patterns


def ignored(path, patterns):
    """Whether Docker leaves path out of the context: the last pattern that matches the
    path or one of its parent directories decides."""
    parents = path.split("/")[:-1]
    matched = False
    for regex, exclusion in patterns:
        if exclusion != matched:
            continue
        hit = bool(regex.match(path))
        if not hit:
            hit = any(regex.match("/".join(parents[: i + 1])) for i in range(len(parents)))
        if hit:
            matched = not exclusion
    return matched


# --- the replayed tree ----------------------------------------------------------------------


def candidates():
    """The workspace's files: git's tracked files that exist, plus untracked, not ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    return sorted({p for p in out.split("\0") if p and os.path.lexists(os.path.join(ROOT, p))})


def glob_match(pattern, path):
    return bool(re.match("^" + "/".join(
        re.escape(part).replace(r"\*", "[^/]*").replace(r"\?", "[^/]") for part in pattern.split("/")
    ) + "$", path))


def plan(copies, context_files):
    """{path in the image: path in the context} of what the COPY lines bring."""
    placed = {}
    for sources, dest, workdir in copies:
        target = os.path.normpath(os.path.join(workdir, dest))
        into_dir = dest.endswith("/") or len(sources) > 1
        for source in sources:
            src = os.path.normpath(source).lstrip("/")
            src = "" if src == "." else src
            if any(ch in src for ch in "*?["):
                tops = {f for f in context_files if glob_match(src, f)}
                tops |= {d for f in context_files for d in parent_dirs(f) if glob_match(src, d)}
                into_dir = into_dir or len(tops) > 1
            else:
                tops = {src}
            found = False
            for top in sorted(tops):
                if top in context_files:
                    found = True
                    placed[os.path.join(target, os.path.basename(top)) if into_dir else target] = top
                    continue
                prefix = top + "/" if top else ""
                for f in context_files:
                    if f.startswith(prefix):
                        found = True
                        placed[os.path.join(target, f[len(prefix):])] = f
            if not found:
                raise ReplayError(f"COPY {source} {dest}: {source} is not in the build context "
                                  "(missing, ignored by git, or excluded by .dockerignore)")
    return placed


def parent_dirs(path):
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def make_tree(placed, tree):
    for image_path, source in placed.items():
        dest = os.path.join(tree, image_path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        src = os.path.join(ROOT, source)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dest)
        else:
            shutil.copy2(src, dest)


# --- cargo ---------------------------------------------------------------------------------


def explain(stderr, tree, workdir, context_files, patterns):
    """Cargo's error lines with the tree's paths shown as the image's, and a word on each
    path cargo missed that the workspace has."""
    image_root = tree.rstrip("/")
    lines = [line.replace(image_root, "") for line in stderr.splitlines() if line.strip()]
    errors = [l for l in lines if l.startswith("error")] or lines[-1:] or ["cargo failed"]
    first = lines.index(errors[0]) if errors[0] in lines else 0
    detail = [l.strip() for l in lines[first + 1 : first + 8] if not l.startswith("warning")]
    notes = []
    for path in re.findall(r"`(/[^`]+)`", "\n".join(lines)):
        rel = os.path.relpath(path, workdir)
        if rel.startswith("..") or os.path.lexists(os.path.join(tree, path.lstrip("/"))):
            continue
        if any(rel.startswith(n.split(" ", 1)[0] + "/") for n in notes):
            continue  # its directory is named already
        in_workspace = rel in context_files or any(f.startswith(rel + "/") for f in context_files) \
            or os.path.exists(os.path.join(ROOT, rel))
        if in_workspace:
            why = "excluded by .dockerignore" if ignored(rel, patterns) else \
                "not brought by the build stage's COPY lines"
            note = f"{rel} is in the workspace but {why}"
            if note not in notes:
                notes.append(note)
    return errors[0], detail, notes


def run_cargo(args, cwd, target_dir):
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    return subprocess.run(["cargo", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", default=os.path.join(ROOT, "deploy", "Dockerfile"))
    parser.add_argument("--metadata-only", action="store_true",
                        help="run cargo metadata only (a missing member or lock file), no cargo check")
    parser.add_argument("--service", action="append", help="a service to check (default: both)")
    opts = parser.parse_args()
    services = opts.service or SERVICES
    label = os.path.relpath(os.path.abspath(opts.dockerfile), ROOT)
    label = opts.dockerfile if label.startswith("..") else label

    try:
        copies, workdir = build_stage(opts.dockerfile)
        patterns = dockerignore(os.path.join(ROOT, ".dockerignore"))
        workspace = candidates()
        context_files = [f for f in workspace if not ignored(f, patterns)]
        placed = plan(copies, set(context_files))
    except ReplayError as e:
        print(f"image replay: {label}: {e}", file=sys.stderr)
        return 1

    target_dir = os.path.join(ROOT, "target", "image-replay")
    tree = tempfile.mkdtemp(prefix="image-replay-")
    try:
        make_tree(placed, tree)
        cwd = os.path.join(tree, workdir.lstrip("/"))
        os.makedirs(cwd, exist_ok=True)
        steps = [("cargo metadata", ["metadata", "--locked", "--format-version", "1"], services)]
        if not opts.metadata_only:
            steps += [(f"cargo check -p {s}", ["check", "--locked", "-p", s], [s]) for s in services]
        for what, args, for_services in steps:
            done = run_cargo(args, cwd, target_dir)
            if done.returncode != 0:
                error, detail, notes = explain(done.stderr, tree, workdir, set(workspace), patterns)
                for service in for_services:
                    print(f"image replay: {service}: {error}", file=sys.stderr)
                for line in detail:
                    print(f"    {line}", file=sys.stderr)
                for note in notes:
                    print(f"image replay: {note}", file=sys.stderr)
                print(f"image replay: {label} (build stage replayed: {what} in {workdir}, "
                      f"{len(placed)} files copied) fails", file=sys.stderr)
                return 1
        checked = "cargo metadata" if opts.metadata_only else "cargo metadata and cargo check"
        print(f"image replay: {label}: {', '.join(services)}: {checked} pass on the {len(placed)} "
              f"files its build stage copies (.dockerignore leaves out {len(workspace) - len(context_files)} "
              "of the files git knows)")
        return 0
    finally:
        shutil.rmtree(tree, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
