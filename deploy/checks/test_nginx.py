"""deploy/nginx/gateway.conf.template: its placeholders are the environment of compose's
gateway service, and rendered as the nginx image renders it (envsubst of those
variables) into a minimal nginx.conf, `nginx -t` accepts it, and refuses a broken one.
(deploy/traefik and deploy/envoy are not checked here: see their READMEs.)"""

import os
import re
import socket

import pytest

from tools import ROOT, assert_no_problems, run, tool

TEMPLATE = "deploy/nginx/gateway.conf.template"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gateway(compose_services):
    gateway = compose_services.get("gateway")
    assert gateway is not None, "docker-compose.yml has no gateway service"
    return gateway


@pytest.fixture(scope="module")
def gateway_env(gateway):
    return {k: str(v) for k, v in (gateway.get("environment") or {}).items()}


def test_gateway_is_in_the_gateway_profile(gateway):
    """The gateway starts only with --profile gateway."""
    assert "gateway" in (gateway.get("profiles") or []), \
        "docker-compose.yml: the gateway service is not in the gateway profile"


def test_gateway_mounts_the_template_where_the_image_renders_it(gateway):
    """The template is mounted as /etc/nginx/templates/*.template."""
    targets = [v.split(":")[1] for v in gateway.get("volumes") or [] if v.split(":")[0] == "./" + TEMPLATE]
    assert any(t.startswith("/etc/nginx/templates/") and t.endswith(".template") for t in targets), \
        f"docker-compose.yml: the gateway does not mount {TEMPLATE} as /etc/nginx/templates/*.template"


def test_template_placeholders_are_the_gateway_environment(gateway_env):
    """The ${NAME}s of the template are exactly the gateway service's variables."""
    placeholders = set(re.findall(r"\$\{(\w+)\}", open(os.path.join(ROOT, TEMPLATE)).read()))
    assert placeholders == set(gateway_env), \
        f"{TEMPLATE} has the placeholders {sorted(placeholders)}, but the gateway service sets {sorted(gateway_env)}"


def test_gateway_publishes_the_port_it_listens_on(gateway, gateway_env):
    """GATEWAY_PORT is a container port compose publishes."""
    published = {str(p).split(":")[-1] for p in gateway.get("ports") or []}
    assert gateway_env.get("GATEWAY_PORT") in published, \
        f"docker-compose.yml: the gateway listens on {gateway_env.get('GATEWAY_PORT')} but publishes {sorted(published)}"


def test_gateway_upstreams_are_compose_services_it_depends_on(gateway, gateway_env, compose_services):
    """AUTH_SERVICE and UPSTREAM name compose services in the gateway's depends_on
    (nginx resolves them at start)."""
    problems = []
    for var in ("AUTH_SERVICE", "UPSTREAM"):
        host = gateway_env.get(var, "").rsplit(":", 1)[0]
        if host not in compose_services:
            problems.append(f"docker-compose.yml: the gateway's {var}={gateway_env.get(var)} names no compose service")
        elif host not in (gateway.get("depends_on") or []):
            problems.append(f"docker-compose.yml: the gateway does not depend on {host} (nginx resolves it at start)")
    assert_no_problems(problems)


def test_gateway_reaches_the_auth_service_on_its_port(gateway_env, compose_services):
    """AUTH_SERVICE's port is the PORT compose builds the auth-service for."""
    port = compose_services["auth-service"]["build"]["args"]["PORT"]
    assert gateway_env.get("AUTH_SERVICE", "").rsplit(":", 1)[-1] == str(port), \
        f"docker-compose.yml: the gateway's AUTH_SERVICE={gateway_env.get('AUTH_SERVICE')} is not on the auth-service's port {port}"


def render(directory, values):
    """Writes the template rendered with values (the placeholders, nothing else) inside
    a minimal nginx.conf whose every path is in directory; returns that nginx.conf."""
    text = open(os.path.join(ROOT, TEMPLATE)).read()
    rendered = re.sub(r"\$\{(GATEWAY_PORT|AUTH_SERVICE|UPSTREAM|AUTH_HOST)\}", lambda m: values[m.group(1)], text)
    (directory / "rendered.conf").write_text(rendered)
    conf = directory / "nginx.conf"
    conf.write_text(f"""daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/rendered.conf;
}}
""")
    return conf


def nginx_t(directory, conf):
    return run([tool("nginx"), "-t", "-q", "-c", str(conf), "-p", f"{directory}/", "-e", f"{directory}/error.log"],
               ok=False)


COMPOSE_VALUES = {"GATEWAY_PORT": "8088", "AUTH_SERVICE": "127.0.0.1:8080", "UPSTREAM": "127.0.0.1:8000"}


@pytest.mark.parametrize("ports", ["compose", "free-ports"])
def test_nginx_accepts_the_rendered_template(tmp_path, ports):
    """nginx -t accepts the template rendered with compose's ports and with free ones
    (addresses, not names: nginx -t resolves the upstream hosts)."""
    values = dict(COMPOSE_VALUES) if ports == "compose" else {
        "GATEWAY_PORT": str(free_port()), "AUTH_SERVICE": f"127.0.0.1:{free_port()}",
        "UPSTREAM": f"127.0.0.1:{free_port()}"}
    values["AUTH_HOST"] = "auth.example.com"
    result = nginx_t(tmp_path, render(tmp_path, values))
    assert result.returncode == 0, \
        f"nginx -t refused {TEMPLATE} with {values}:\n{result.stdout}{result.stderr}"


def test_nginx_refuses_a_broken_rendering(tmp_path):
    """The check itself: a rendering with a stray '}' must be refused by nginx -t."""
    conf = render(tmp_path, {**COMPOSE_VALUES, "AUTH_HOST": "auth.example.com"})
    with open(tmp_path / "rendered.conf", "a") as f:
        f.write("}\n")
    assert nginx_t(tmp_path, conf).returncode != 0, \
        f"nginx -t accepted a deliberately broken rendering of {TEMPLATE}; the check proves nothing"
