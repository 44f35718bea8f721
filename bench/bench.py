#!/usr/bin/env python3
"""The session store's benchmark: our figures against the machine's own limits.

Run by bench/bench.sh (make bench), which builds the release binaries, starts a private
Redis, SecantusDB, the auth-service and four resource-service instances (redis, remote,
cached and multiple mode) with the functions of scripts/services.sh, seeds live sessions
with session-core's seed_sessions example and login users through POST /signup, and
tells this script where everything is through BENCH_* environment variables. This
script only measures: every phase with wrk at BENCH_CONNECTIONS connections, then one
table, also written as JSON under bench/results/.
"""
import calendar
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"error: {name} is not set; run the benchmark with make bench (bench/bench.sh)")
    return value


SECONDS = int(env("BENCH_SECONDS"))
CONNECTIONS = int(env("BENCH_CONNECTIONS"))
SESSIONS = int(env("BENCH_SESSIONS"))
COST = int(env("BENCH_BCRYPT_COST"))


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, (json.loads(data) if data else None)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url, script=None, arg=None, connections=CONNECTIONS, seconds=SECONDS):
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        argv += ["-s", os.path.join(HERE, script)]
    argv.append(url)
    if arg:
        argv += ["--"] + ([arg] if isinstance(arg, str) else list(arg))
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    lat = {m.group(1): float(m.group(2)) * UNITS[m.group(3)]
           for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    took = re.search(r"requests in ([\d.]+)(us|ms|s|m),", text)
    took_s = float(took.group(1)) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[took.group(2)]
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "errors": errors,
            "requests": requests, "ok_rps": max(0, requests - errors) / took_s}


def wrk_both(urls, script, arg):
    """wrk on several instances at once, the connections shared out; one figure."""
    from concurrent.futures import ThreadPoolExecutor
    each = max(1, CONNECTIONS // len(urls))
    with ThreadPoolExecutor(len(urls)) as pool:
        runs = list(pool.map(lambda url: wrk(url, script, arg, connections=each), urls))
    return {"rps": sum(r["rps"] for r in runs), "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "requests": sum(r["requests"] for r in runs), "instances_rps": [r["rps"] for r in runs]}


def redis_benchmark(port):
    def run(n):
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get", "-c", str(CONNECTIONS),
                              "-n", str(n), "--csv"], capture_output=True, text=True, check=True).stdout
        rows = [r for r in out.strip().splitlines() if r.startswith('"GET"')]
        cols = [c.strip('"') for c in rows[-1].split(",")]
        return {"rps": float(cols[1]), "p50_ms": float(cols[4]), "p99_ms": float(cols[6]), "errors": 0}
    pilot = run(100_000)
    # Long enough for SECONDS seconds at the pilot's rate.
    return run(int(pilot["rps"] * SECONDS))


def peer_cookies(port, count, path):
    """Logs `count` users in to the peer; writes one `name=value` cookie per line."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with open(path, "w") as out:
        for i in range(count):
            body = json.dumps({"userId": f"{i:024x}"})
            conn.request("POST", "/login", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200, f"the peer's login answered {r.status}"
            cookie = r.getheader("Set-Cookie").split(";", 1)[0]
            out.write(cookie + "\n")
    conn.close()


def redis_lookups(port):
    """Key lookups Redis has served so far (keyspace hits and misses): one per key a
    GET, HMGET or MGET read, so reads coalesced into one MGET count each of theirs."""
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "stats"],
                         capture_output=True, text=True, check=True).stdout
    return sum(int(re.search(rf"^keyspace_{kind}:(\d+)", out, re.M).group(1))
               for kind in ("hits", "misses"))


def cache_leg(port, pid, script, tokens, redis_port, warm=False):
    """One cached /me leg: rate, p99, errors, peak RSS and the hit ratio, which is
    1 - (Redis lookups during the leg) / (requests): every miss costs one lookup.
    `warm`: first the same load for as long again, not measured, so the leg measures
    the cache as it runs, not as it fills (a leg of a few seconds over a million
    Zipf sessions meets a large share of them for the first time)."""
    if warm:
        wrk(f"http://127.0.0.1:{port}/me", script, tokens)
    before = redis_lookups(redis_port)
    r = wrk(f"http://127.0.0.1:{port}/me", script, tokens)
    lookups = redis_lookups(redis_port) - before
    r["hit_ratio"] = max(0.0, 1 - lookups / max(1, r["requests"]))
    r["peak_rss_mb"] = peak_rss_mb(pid)
    return r


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def revocation_delays(auth_port, cached_port, users, password, samples):
    """Time from logout's 204 to the first 401 on another (cached) instance."""
    delays = []
    me = http.client.HTTPConnection("127.0.0.1", cached_port, timeout=10)
    for i in range(samples):
        email = users[i % len(users)]
        status, body = request(auth_port, "POST", "/login", {"email": email, "password": password})
        assert status == 200, status
        auth = {"Authorization": f"Bearer {body['token']}"}
        for _ in range(2):  # warm the cache
            me.request("GET", "/me", headers=auth)
            r = me.getresponse(); r.read()
            assert r.status == 200, r.status
        status, _ = request(auth_port, "POST", "/logout", None, auth)
        assert status == 204, status
        done = time.perf_counter()
        while True:
            me.request("GET", "/me", headers=auth)
            r = me.getresponse(); r.read()
            if r.status == 401:
                delays.append((time.perf_counter() - done) * 1000)
                break
            assert r.status == 200, r.status
            if time.perf_counter() - done > 5:
                raise SystemExit("error: a logged-out session was still served after 5 s")
    me.close()
    delays.sort()
    return {"samples": len(delays), "p50_ms": statistics.median(delays),
            "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))], "max_ms": delays[-1]}


def bcrypt_limit():
    example = os.path.join(ROOT, "target", "release", "examples", "bcrypt_limit")
    out = subprocess.run([example, str(COST), str(SECONDS)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def split_tokens(path, parts):
    """The token file cut into `parts` files of equal length (each a run's sessions)."""
    with open(path) as f:
        lines = f.readlines()
    size = len(lines) // parts
    paths = []
    for i in range(parts):
        part = f"{path}.{i}"
        with open(part, "w") as out:
            out.writelines(lines[i * size:(i + 1) * size])
        paths.append(part)
    return paths


class HookReceiver:
    """A webhook receiver on a loopback port: answers 204 and records, per delivery,
    when it arrived and the event's own time."""

    def __init__(self, port):
        import http.server
        import threading
        self.arrivals = []  # (arrived, event time) in seconds since the epoch
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrived = time.time()
                event = json.loads(body)
                stamp = event["time"]
                when = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) \
                    + int(stamp[20:23]) / 1000
                with receiver.lock:
                    receiver.arrivals.append((arrived, when))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.arrivals)


def stream_length(redis_port, key):
    out = subprocess.run(["redis-cli", "-p", str(redis_port), "XLEN", key],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip() or 0)


def event_legs(redis_port):
    """Logout with events on and off (alternating, twice each, as the /me legs), then
    webhook delivery: a burst for throughput, a paced run for change-to-delivery time."""
    on_port, off_port = int(env("BENCH_EVENTS_ON_PORT")), int(env("BENCH_EVENTS_OFF_PORT"))
    on_files = split_tokens(env("BENCH_EVENTS_ON_TOKENS_FILE"), 2)
    off_files = split_tokens(env("BENCH_EVENTS_OFF_TOKENS_FILE"), 2)
    runs = {"on": [], "off": []}
    for i in range(2):
        runs["off"].append(wrk(f"http://127.0.0.1:{off_port}/logout", "logout.lua", off_files[i]))
        runs["on"].append(wrk(f"http://127.0.0.1:{on_port}/logout", "logout.lua", on_files[i]))
    legs = {}
    for state in ("on", "off"):
        best = max(runs[state], key=lambda r: r["rps"])
        best["runs_rps"] = [r["rps"] for r in runs[state]]
        legs[f"/logout, events {state}"] = best
    appended = stream_length(redis_port, "bench-events-on:events")
    legs["/logout, events on"]["events_appended"] = appended

    hook_port = int(env("BENCH_HOOK_PORT"))
    receiver = HookReceiver(int(env("BENCH_HOOK_RECEIVER_PORT")))
    hook_tokens = split_tokens(env("BENCH_HOOK_TOKENS_FILE"), 2)
    # Throughput: a burst of logouts, then the time until every event has arrived.
    wrk(f"http://127.0.0.1:{hook_port}/logout", "logout.lua", hook_tokens[0], connections=4, seconds=2)
    burst = stream_length(redis_port, "bench-hook:events")
    deadline = time.time() + 300
    while receiver.count() < burst and time.time() < deadline:
        time.sleep(0.2)
    with receiver.lock:
        arrivals = list(receiver.arrivals)
    span = max(a for a, _ in arrivals) - min(a for a, _ in arrivals) if len(arrivals) > 1 else 0
    delivery = {"events": burst, "delivered": len(arrivals),
                "rps": len(arrivals) / span if span else 0.0}
    # Latency: 500 logouts at 100 per second; from the event's time to its arrival.
    with receiver.lock:
        receiver.arrivals.clear()
    with open(hook_tokens[1]) as f:
        paced = [line.strip() for line in f][:500]
    started = time.time()
    for i, token in enumerate(paced):
        time.sleep(max(0.0, started + i / 100 - time.time()))
        request(hook_port, "POST", "/logout", None, {"Authorization": f"Bearer {token}"})
    deadline = time.time() + 30
    while receiver.count() < len(paced) and time.time() < deadline:
        time.sleep(0.1)
    with receiver.lock:
        delays = sorted((a - t) * 1000 for a, t in receiver.arrivals)
    delivery["paced_events"] = len(delays)
    delivery["p50_ms"] = statistics.median(delays) if delays else None
    delivery["p99_ms"] = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else None
    delivery["errors"] = len(paced) - len(delays)
    legs["webhook delivery"] = delivery
    return legs


def print_events(events):
    print()
    print(f"{'events leg':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, r in events.items():
        p50 = f"{r['p50_ms']:.2f}" if r.get("p50_ms") is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r.get("p99_ms") is not None else "-"
        print(f"{name:<30}{r['rps']:>10.0f}{p50:>9}{p99:>9}{r.get('errors', 0):>8}")
    hook = events["webhook delivery"]
    print(f"webhook delivery: {hook['delivered']} of {hook['events']} events of a burst at {hook['rps']:.0f} "
          f"events/s; {hook['paced_events']} paced at 100/s: change to delivery p50 {hook['p50_ms']:.1f} ms, "
          f"p99 {hook['p99_ms']:.1f} ms")


def main():
    redis_port = int(env("BENCH_REDIS_PORT"))
    auth_port = int(env("BENCH_AUTH_PORT"))
    pids = {"auth": int(env("BENCH_AUTH_PID"))}
    ports = {}
    for name, var in [("redis-mode", "BENCH_REDIS_MODE"), ("remote-mode", "BENCH_REMOTE_MODE"),
                      ("cached", "BENCH_CACHED"), ("multiple-mode", "BENCH_MULTIPLE"),
                      ("redis-mode-uncoalesced", "BENCH_REDIS_UNCOALESCED")]:
        ports[name] = int(env(f"{var}_PORT"))
        pids[name] = int(env(f"{var}_PID"))
    tokens_file = env("BENCH_TOKENS_FILE")
    users_file = env("BENCH_USERS_FILE")
    multiple_tokens_file = env("BENCH_MULTIPLE_TOKENS_FILE")
    zipf_tokens_file = env("BENCH_ZIPF_TOKENS_FILE")
    cluster_tokens_file = env("BENCH_CLUSTER_TOKENS_FILE")
    baseline = "BENCH_BASELINE_CACHED_PORT" in os.environ
    for name, var in [("peer", "BENCH_PEER"), ("bare", "BENCH_BARE"), ("axum", "BENCH_AXUM"),
                      ("axum-cached", "BENCH_AXUM_CACHED")]:
        ports[name] = int(env(f"{var}_PORT"))
        pids[name] = int(env(f"{var}_PID"))
    for name, var in [("cached-zipf", "BENCH_ZIPF"), ("cached-zipf-60s", "BENCH_ZIPF60"),
                      ("redis-mode-no-metrics", "BENCH_REDIS_NOMETRICS"),
                      ("redis-mode-info", "BENCH_REDIS_INFO"),
                      ("cached-no-metrics", "BENCH_CACHED_NOMETRICS"),
                      ("cluster-a", "BENCH_CLUSTER_A"), ("cluster-b", "BENCH_CLUSTER_B")] + (
            [("baseline-cached", "BENCH_BASELINE_CACHED"), ("baseline-zipf", "BENCH_BASELINE_ZIPF"),
             ("baseline-zipf-60s", "BENCH_BASELINE_ZIPF60")]
            if baseline else []):
        ports[name] = int(env(f"{var}_PORT"))
        pids[name] = int(env(f"{var}_PID"))
    with open(users_file) as f:
        logins = [line.rstrip("\n").split(" ", 1) for line in f if line.strip()]
    users = [email for email, _ in logins]
    password = logins[0][1]
    with open(tokens_file) as f:
        first_token = f.readline().strip()
    status, _ = request(ports["redis-mode"], "GET", "/me", headers={"Authorization": "Bearer " + first_token})
    assert status == 200, f"a seeded session is refused: {status}"
    with open(multiple_tokens_file) as f:
        first_multiple = f.readline().strip()
    status, _ = request(ports["multiple-mode"], "GET", "/me", headers={"Authorization": "Bearer " + first_multiple})
    assert status == 200, f"a seeded multiple-mode session is refused: {status}"

    me = lambda name: f"http://127.0.0.1:{ports[name]}/me"
    cookies_file = os.path.join(os.path.dirname(tokens_file), "peer-cookies.txt")
    peer_cookies(ports["peer"], SESSIONS, cookies_file)
    tokens_of = lambda name: (multiple_tokens_file if name == "multiple-mode"
                              else zipf_tokens_file if "zipf" in name
                              else cluster_tokens_file if name.startswith("cluster")
                              else tokens_file)
    with open(cluster_tokens_file) as f:
        first_cluster = f.readline().strip()
    status, _ = request(ports["cluster-a"], "GET", "/me", headers={"Authorization": "Bearer " + first_cluster})
    assert status == 200, f"a seeded cluster session is refused: {status}"
    status, _ = request(ports["axum"], "GET", "/me", headers={"Authorization": "Bearer " + first_token})
    assert status == 200, f"a seeded session is refused by the axum service: {status}"
    for name in ports:  # warm-up: connections, pools, the cache
        if name == "peer":
            wrk(me(name), "me.lua", (cookies_file, "cookie"), seconds=2)
        else:
            wrk(me(name), "zipf.lua" if "zipf" in name else "me.lua", tokens_of(name), seconds=2)

    if os.environ.get("BENCH_ONLY") == "events":
        # BENCH_ONLY=events make bench: the event legs alone, for work on the events.
        events = event_legs(redis_port)
        print_events(events)
        cost = 1 - events["/logout, events on"]["rps"] / events["/logout, events off"]["rps"]
        print(f"events cost: {cost:.3f} of the logout rate (target <= 0.05)")
        return 0

    results = {}
    print("1/6 redis-benchmark GET (the round-trip limit) ...", flush=True)
    results["redis GET (limit)"] = redis_benchmark(redis_port)
    # Single and multiple mode, and single mode with each read sent alone
    # (redis.coalesce_reads = false), take turns, twice each, so that drift in the
    # machine's load hits them alike; each keeps its better run and all runs are recorded.
    print("2/6 /me, redis mode, session.per_user = single and multiple, reads coalesced and alone, "
          "alternating ...", flush=True)
    runs = {"single": [], "multiple": [], "uncoalesced": []}
    for _ in range(2):
        runs["single"].append(wrk(me("redis-mode"), "me.lua", tokens_file))
        runs["multiple"].append(wrk(me("multiple-mode"), "me.lua", multiple_tokens_file))
        runs["uncoalesced"].append(wrk(me("redis-mode-uncoalesced"), "me.lua", tokens_file))
    results["/me redis mode"] = max(runs["single"], key=lambda r: r["rps"])
    results["/me redis mode"]["peak_rss_mb"] = peak_rss_mb(pids["redis-mode"])
    results["/me redis mode"]["runs_rps"] = [r["rps"] for r in runs["single"]]
    results["/me multiple mode"] = max(runs["multiple"], key=lambda r: r["rps"])
    results["/me multiple mode"]["peak_rss_mb"] = peak_rss_mb(pids["multiple-mode"])
    results["/me multiple mode"]["runs_rps"] = [r["rps"] for r in runs["multiple"]]
    results["/me redis, reads alone"] = max(runs["uncoalesced"], key=lambda r: r["rps"])
    results["/me redis, reads alone"]["peak_rss_mb"] = peak_rss_mb(pids["redis-mode-uncoalesced"])
    results["/me redis, reads alone"]["runs_rps"] = [r["rps"] for r in runs["uncoalesced"]]
    print("2/6 the yardsticks: the actix-session peer, a bare handler ...", flush=True)
    results["/me peer (actix-session)"] = wrk(me("peer"), "me.lua", (cookies_file, "cookie"))
    results["/me peer (actix-session)"]["peak_rss_mb"] = peak_rss_mb(pids["peer"])
    results["/me bare handler"] = wrk(me("bare"), "me.lua", tokens_file)
    print("2/6 /me on the example axum service (session-axum), plain and cached ...", flush=True)
    results["/me axum-service"] = wrk(me("axum"), "me.lua", tokens_file)
    results["/me axum-service"]["peak_rss_mb"] = peak_rss_mb(pids["axum"])
    print("2/6 /verify, the gateway's check (auth-service, straight from Redis) ...", flush=True)
    results["/verify (auth-service)"] = wrk(f"http://127.0.0.1:{auth_port}/verify", "me.lua", tokens_file)
    print("3/6 /me, remote mode ...", flush=True)
    results["/me remote mode"] = wrk(me("remote-mode"), "me.lua", tokens_file)
    results["/me remote mode"]["peak_rss_mb"] = peak_rss_mb(pids["remote-mode"])
    print("4/6 bcrypt verifies (the hashing limit) and /login ...", flush=True)
    results[f"bcrypt cost {COST} (limit)"] = bcrypt_limit()
    results["/login"] = wrk(f"http://127.0.0.1:{auth_port}/login", "login.lua", users_file)
    results["/login"]["peak_rss_mb"] = peak_rss_mb(pids["auth"])
    print("5/6 /me during a login storm ...", flush=True)
    # The storm's own rate is measured too: a smaller hashing pool must not buy the
    # /me figure (logins during the storm against the bcrypt limit).
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        storm = pool.submit(wrk, f"http://127.0.0.1:{auth_port}/login", "login.lua", users_file,
                            connections=20, seconds=SECONDS + 2)
        time.sleep(1)
        results["/me during login storm"] = wrk(me("redis-mode"), "me.lua", tokens_file)
        # Logins answered 200 a second: a login refused at once (the hashing queue full)
        # or timed out is no login.
        logins = storm.result()
        logins["attempts_rps"], logins["rps"] = logins["rps"], logins["ok_rps"]
        results["/login during the storm"] = logins
    print("5/6 /me on a Redis Cluster (3 masters + 3 replicas), two instances at once ...", flush=True)
    results["/me cluster, 2 instances"] = wrk_both([me("cluster-a"), me("cluster-b")], "me.lua",
                                                    cluster_tokens_file)
    print("6/6 /me with the validation cache, and the revocation delay ...", flush=True)
    results["/me cached"] = wrk(me("cached"), "me.lua", tokens_file)
    results["/me cached"]["peak_rss_mb"] = peak_rss_mb(pids["cached"])
    results["/me axum-service, cached"] = wrk(me("axum-cached"), "me.lua", tokens_file)
    results["/me axum-service, cached"]["peak_rss_mb"] = peak_rss_mb(pids["axum-cached"])
    revocation = revocation_delays(auth_port, ports["cached"], users, password, 200)
    print("7/7 the cache past its bound: 1,000,000 sessions, Zipf s=1, cache of 100,000 ...", flush=True)
    legs = [("/me redis mode", "redis-mode", "me.lua", tokens_file),
            ("/me redis, metrics off", "redis-mode-no-metrics", "me.lua", tokens_file),
            ("/me redis, log level info", "redis-mode-info", "me.lua", tokens_file),
            ("/me cached (uniform)", "cached", "me.lua", tokens_file),
            ("/me cached, metrics off", "cached-no-metrics", "me.lua", tokens_file),
            # The Zipf cache as its first seconds of this load find it (its entries of
            # the warm-up at start are stale by now), then as it runs (after a pass of
            # the same load): the target takes the second, as the uniform leg's cache
            # of 10,000 sessions is full within its first tenth of a second.
            ("/me cached, Zipf, cold start", "cached-zipf", "zipf.lua", zipf_tokens_file),
            ("/me cached, Zipf", "cached-zipf", "zipf.lua", zipf_tokens_file),
            ("/me cached, Zipf, age 60 s", "cached-zipf-60s", "zipf.lua", zipf_tokens_file)]
    if baseline:
        legs += [("baseline cached (uniform)", "baseline-cached", "me.lua", tokens_file),
                 ("baseline cached, Zipf", "baseline-zipf", "zipf.lua", zipf_tokens_file),
                 ("baseline Zipf, age 60 s", "baseline-zipf-60s", "zipf.lua", zipf_tokens_file)]
    cache_legs = {name: cache_leg(ports[p], pids[p], script, tokens, redis_port,
                                  warm="Zipf" in name and "cold" not in name)
                  for name, p, script, tokens in legs}

    print("8/8 session events: /logout with events on and off, webhook delivery ...", flush=True)
    events = event_legs(redis_port)

    get = results["redis GET (limit)"]["rps"]
    hashing = results[f"bcrypt cost {COST} (limit)"]["per_second"]
    checks = [
        ("/me redis mode", "rps", results["/me redis mode"]["rps"] / get, ">= 0.7 x GET", lambda r: r >= 0.7),
        ("/me redis mode", "p99", results["/me redis mode"]["p99_ms"], "<= 5 ms", lambda v: v <= 5),
        ("/me redis mode", "errors", results["/me redis mode"]["errors"], "== 0", lambda v: v == 0),
        ("/me multiple mode", "rps", results["/me multiple mode"]["rps"] / results["/me redis mode"]["rps"],
         ">= 0.95 x single", lambda r: r >= 0.95),
        ("/me multiple mode", "errors", results["/me multiple mode"]["errors"], "== 0", lambda v: v == 0),
        ("/me redis mode", "vs reads alone", results["/me redis mode"]["rps"] / results["/me redis, reads alone"]["rps"],
         ">= 1.0 x redis.coalesce_reads = false", lambda r: r >= 1.0),
        ("/me redis, reads alone", "errors", results["/me redis, reads alone"]["errors"], "== 0", lambda v: v == 0),
        ("/me redis mode", "RSS", results["/me redis mode"]["peak_rss_mb"], "<= 30 MB", lambda v: v <= 30),
        ("/login", "rps", results["/login"]["rps"] / hashing, ">= 0.8 x bcrypt", lambda r: r >= 0.8),
        ("/me during login storm", "p99", results["/me during login storm"]["p99_ms"] / results["/me redis mode"]["p99_ms"],
         "<= 2 x unloaded p99", lambda r: r <= 2),
        ("/login during the storm", "rps", results["/login during the storm"]["rps"] / hashing,
         ">= 0.9 x bcrypt", lambda r: r >= 0.9),
        ("/verify (auth-service)", "vs /me", results["/verify (auth-service)"]["rps"] / results["/me redis mode"]["rps"],
         ">= 0.95 x /me redis mode", lambda r: r >= 0.95),
        ("/verify (auth-service)", "errors", results["/verify (auth-service)"]["errors"], "== 0", lambda v: v == 0),
        ("/me during login storm", "errors", results["/me during login storm"]["errors"], "== 0", lambda v: v == 0),
        ("/me cached", "rps", results["/me cached"]["rps"] / get, ">= 1.0 x GET", lambda r: r >= 1.0),
        ("/me cached", "p99", results["/me cached"]["p99_ms"], "<= 5 ms", lambda v: v <= 5),
        ("/me cached", "errors", results["/me cached"]["errors"], "== 0", lambda v: v == 0),
        ("/me cluster, 2 instances", "errors", results["/me cluster, 2 instances"]["errors"], "== 0",
         lambda v: v == 0),
        ("revocation delay", "p99", revocation["p99_ms"], "<= 50 ms", lambda v: v <= 50),
        ("/me redis mode", "vs peer", results["/me redis mode"]["rps"] / results["/me peer (actix-session)"]["rps"],
         ">= 1.2 x peer", lambda r: r >= 1.2),
        ("/me cached", "vs bare", results["/me cached"]["rps"] / results["/me bare handler"]["rps"],
         ">= 0.9 x bare handler", lambda r: r >= 0.9),
        ("/me cached, Zipf", "rps", cache_legs["/me cached, Zipf"]["rps"] / cache_legs["/me cached (uniform)"]["rps"],
         ">= 0.8 x uniform", lambda r: r >= 0.8),
        ("/me redis mode", "metrics cost", 1 - cache_legs["/me redis mode"]["rps"] / cache_legs["/me redis, metrics off"]["rps"],
         "<= 0.05", lambda v: v <= 0.05),
        ("/me redis mode", "access log cost", 1 - cache_legs["/me redis, log level info"]["rps"] / cache_legs["/me redis mode"]["rps"],
         "<= 0.10 (info vs warn)", lambda v: v <= 0.10),
        ("/me cached", "RSS", results["/me cached"]["peak_rss_mb"], "<= 30 MB", lambda v: v <= 30),
        ("/me cached, Zipf", "RSS", cache_legs["/me cached, Zipf"]["peak_rss_mb"], "<= 200 MB", lambda v: v <= 200),
        ("/me cached, Zipf", "errors", cache_legs["/me cached, Zipf"]["errors"], "== 0", lambda v: v == 0),
        ("/me axum-service", "errors", results["/me axum-service"]["errors"], "== 0", lambda v: v == 0),
        ("/me axum-service", "vs resource-service", results["/me axum-service"]["rps"] / results["/me redis mode"]["rps"],
         "reported (>= 0.8 x resource-service)", lambda r: r >= 0.8),
        ("/logout, events on", "events cost", 1 - events["/logout, events on"]["rps"] / events["/logout, events off"]["rps"],
         "<= 0.05 of the logout rate", lambda v: v <= 0.05),
        ("/logout, events on", "errors", events["/logout, events on"]["errors"], "== 0", lambda v: v == 0),
        ("webhook delivery", "delivered", events["webhook delivery"]["delivered"] - events["webhook delivery"]["events"],
         "== 0 missing", lambda v: v == 0),
    ]

    print()
    print(f"{'measurement':<26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'peak RSS':>10}{'ratio':>16}")
    for name, r in results.items():
        rps = r.get("rps", r.get("per_second"))
        if "GET" in name:
            ratio = "limit"
        elif "bcrypt" in name:
            ratio = "limit"
        elif name.startswith("/login"):
            ratio = f"{rps / hashing:.2f} x bcrypt"
        else:
            ratio = f"{rps / get:.2f} x GET"
        p50 = f"{r['p50_ms']:.2f}" if r.get("p50_ms") is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r.get("p99_ms") is not None else "-"
        rss = f"{r['peak_rss_mb']:.1f} MB" if r.get("peak_rss_mb") else "-"
        print(f"{name:<26}{rps:>10.0f}{p50:>9}{p99:>9}{r.get('errors', 0):>8}{rss:>10}{ratio:>16}")
    print(f"{'revocation delay':<26}{'':>10}{revocation['p50_ms']:>9.2f}{revocation['p99_ms']:>9.2f}"
          f"{'':>8}{'':>10}{'max ' + format(revocation['max_ms'], '.2f') + ' ms':>16}")
    print()
    print(f"{'cache leg':<30}{'req/s':>10}{'p99 ms':>9}{'hit ratio':>11}{'errors':>8}{'peak RSS':>10}")
    for name, r in cache_legs.items():
        print(f"{name:<30}{r['rps']:>10.0f}{r['p99_ms']:>9.2f}{r['hit_ratio']:>11.3f}{r['errors']:>8}"
              f"{r['peak_rss_mb']:>7.1f} MB")
    print_events(events)
    print(f"/me runs, req/s: single {', '.join(f'{r:.0f}' for r in results['/me redis mode']['runs_rps'])}; "
          f"multiple {', '.join(f'{r:.0f}' for r in results['/me multiple mode']['runs_rps'])}; "
          f"reads alone {', '.join(f'{r:.0f}' for r in results['/me redis, reads alone']['runs_rps'])}")
    print()
    print("targets:")
    met_all = True
    for name, what, value, target, ok in checks:
        met = ok(value)
        met_all &= met
        print(f"  {'met    ' if met else 'NOT met'}  {name} {what}: {value:.2f} (target {target})")

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", time.strftime("bench-%Y%m%dT%H%M%SZ.json", time.gmtime()))
    with open(out, "w") as f:
        json.dump({"seconds": SECONDS, "connections": CONNECTIONS, "sessions": SESSIONS, "cpus": os.cpu_count(),
                   "results": results, "revocation_delay": revocation, "cache_legs": cache_legs,
                   "events": events,
                   "targets": [{"measurement": n, "what": w, "value": v, "target": t, "met": ok(v)}
                               for n, w, v, t, ok in checks]}, f, indent=2)
    print(f"\nwritten to {os.path.relpath(out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
