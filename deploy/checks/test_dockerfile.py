"""deploy/Dockerfile, once per image docker-compose.yml builds from it (SERVICE build
arg): its build args, COPY sources, cargo package, binary and the programs its
ENTRYPOINT, CMD and HEALTHCHECK run; and the build stage replayed with cargo
(scripts/image-replay.py) on exactly the files it copies."""

import os

import pytest

from dockerfile import arg_declarations, compose_builds, image_builds
from tools import ROOT, assert_no_problems, run

IMAGES = image_builds()
BUILDS = compose_builds()


@pytest.mark.parametrize("name, svc, path, args", BUILDS, ids=[b[0] for b in BUILDS])
def test_compose_builds_dockerfiles_that_exist(name, svc, path, args):
    """A service's build section names a Dockerfile that exists."""
    assert os.path.isfile(os.path.join(ROOT, path)), \
        f"docker-compose.yml service {name}: builds {path}, which does not exist"


@pytest.mark.parametrize("name, svc, path, args", BUILDS, ids=[b[0] for b in BUILDS])
def test_compose_service_build_arg_is_a_workspace_binary(name, svc, path, args, workspace_binaries):
    """SERVICE (when the Dockerfile declares it) names a binary of the workspace."""
    if "SERVICE" not in arg_declarations(open(os.path.join(ROOT, path)).read()):
        return
    assert args.get("SERVICE") in workspace_binaries, \
        (f"docker-compose.yml service {name}: SERVICE={args.get('SERVICE')} is not a workspace binary "
         f"(have: {', '.join(sorted(workspace_binaries))})")


@pytest.mark.parametrize("name, svc, path, args", BUILDS, ids=[b[0] for b in BUILDS])
def test_compose_port_build_arg_is_the_port_compose_publishes(name, svc, path, args):
    """PORT is a number and, when compose publishes ports, one of the container ports."""
    port = args.get("PORT")
    if port is None:
        return
    published = {str(p).split(":")[-1].split("/")[0] for p in svc.get("ports") or []}
    assert port.isdigit(), f"docker-compose.yml service {name}: PORT={port} is not a port number"
    assert not published or port in published, \
        f"docker-compose.yml service {name}: PORT={port}, but compose publishes container port(s) {', '.join(sorted(published))}"


@pytest.mark.parametrize("service", ["auth-service", "resource-service"])
def test_compose_builds_an_image_of_each_service(service):
    """docker-compose.yml builds an image with SERVICE=<service> for both services."""
    assert service in {args.get("SERVICE") for _, _, _, args in BUILDS}, \
        f"docker-compose.yml builds no image with SERVICE={service}"


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_build_args_are_arguments_of_the_dockerfile(image):
    """Every build arg compose passes is an ARG of the Dockerfile."""
    assert_no_problems([f"{image.label}: build arg {n} is not an ARG of {image.path}"
                        for n in sorted(set(image.args) - set(image.declared))])


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_gets_every_build_arg_without_a_default(image):
    """An ARG without a default is given a value by the build (compose's args)."""
    assert_no_problems([f"{image.label}: {image.path} needs the build arg {n}"
                        for n, default in image.declared.items() if not image.args.get(n, default)])


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_copy_sources_exist(image):
    """Every COPY source from the build context exists in the repository."""
    assert_no_problems([f"{image.label}: COPY source {src} does not exist"
                        for src in image.copy_sources if not os.path.exists(os.path.join(ROOT, src))])


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_builds_a_workspace_package(image, workspace_packages):
    """cargo build -p <package> names a package of the workspace."""
    assert_no_problems([f"{image.label}: cargo package {p} is not in the workspace"
                        for p in image.cargo_packages if p not in workspace_packages])


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_copies_workspace_binaries_from_target_release(image, workspace_binaries):
    """Every target/release/<binary> the Dockerfile names is a workspace binary."""
    assert_no_problems([f"{image.label}: target/release/{b} is not a workspace binary"
                        for b in image.release_binaries if b not in workspace_binaries])


@pytest.mark.parametrize("image", IMAGES, ids=repr)
def test_image_entrypoint_and_healthcheck_run_an_installed_binary(image, workspace_binaries):
    """ENTRYPOINT, CMD and HEALTHCHECK run a file the image installed from target/release."""
    assert_no_problems([p for op, program in image.runs
                        if (p := image.program_problem(f"{op} runs", program, workspace_binaries))])


@pytest.mark.parametrize("image", [i for i in IMAGES if i.compose_service], ids=repr)
def test_compose_healthcheck_runs_an_installed_binary(image, workspace_binaries):
    """An exec-form compose healthcheck (CMD ...) runs a binary the image installed."""
    test = (image.compose_service.get("healthcheck") or {}).get("test")
    if isinstance(test, list) and len(test) > 1 and test[0] == "CMD":
        problem = image.program_problem("compose healthcheck runs", test[1], workspace_binaries)
        assert problem is None, problem


def test_image_replay_resolves_and_compiles_each_service():
    """scripts/image-replay.py: cargo metadata and cargo check of each service pass on
    exactly the files deploy/Dockerfile's build stage copies (less .dockerignore)."""
    result = run(["python3", "scripts/image-replay.py"])
    print(result.stdout)


def test_image_replay_fails_a_build_stage_that_misses_a_workspace_member(tmp_path):
    """The replay itself: a build stage that copies only the manifests, crates/ and
    services/ (not every member) must fail, naming the missing member."""
    dockerfile = open(os.path.join(ROOT, "deploy/Dockerfile")).read()
    assert "\nCOPY . .\n" in dockerfile, "the replay's self-test found no 'COPY . .' line in deploy/Dockerfile to narrow"
    partial = tmp_path / "Dockerfile.partial"
    partial.write_text(dockerfile.replace(
        "\nCOPY . .\n", "\nCOPY Cargo.toml Cargo.lock ./\nCOPY crates crates\nCOPY services services\n"))
    result = run(["python3", "scripts/image-replay.py", "--metadata-only", "--dockerfile", str(partial)], ok=False)
    assert result.returncode != 0, "the image replay passed a build stage that copies only crates/ and services/"
    assert "image replay: auth-service: error: failed to load manifest for workspace member" in result.stdout + result.stderr, \
        f"the image replay failed the narrowed build stage, but not for its missing member:\n{result.stdout}{result.stderr}"
