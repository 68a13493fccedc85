#!/usr/bin/env python3
"""The hardening issue's attacks, replayed against the release binary.

Each attack starts a fresh server (SQLite in a temporary directory) on a
free loopback port, does what an attacker did, and prints one line of what
it got. Python standard library only; run from the repository root:

    cargo build --release -p quickconnect
    python3 bench/attacks.py [--binary target/release/quickconnect] [NAME ...]

Names: timeouts, keepalive, cap, fds, body, identity, csrf, sockets, bucket,
opens, devmode, logs, origins. No name: all of them.
"""

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SECRET = "attack-replay-secret-0123456789abcdef"
BINARY = "target/release/quickconnect"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, env=None, wrapper=None, dev=False):
        self.dir = tempfile.mkdtemp(prefix="qc-attack-")
        # Dev mode listens on its default, 127.0.0.1:2530.
        self.port = 2530 if dev else free_port()
        e = dict(os.environ)
        e.update({
            "QC_DATABASE_URL": f"sqlite://{self.dir}/qc.db?mode=rwc",
            "QC_LOG": "info",
        })
        if not dev:
            e["QC_JWT_SECRET"] = SECRET
            e["QC_BIND"] = f"127.0.0.1:{self.port}"
        for k in list(e):
            if k.startswith("QC_") and env is not None and k in env and env[k] is None:
                del e[k]
        e.update({k: v for k, v in (env or {}).items() if v is not None})
        self.env = e
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        cmd = (wrapper or []) + [BINARY]
        self.proc = subprocess.Popen(cmd, env=e, cwd=self.dir, stdout=self.log, stderr=self.log)
        for _ in range(200):
            try:
                self.get("/healthz", timeout=0.5)
                return
            except Exception:
                time.sleep(0.05)
        self.proc.kill()
        raise SystemExit("server did not start:\n" + self.log_text())

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, token=None, body=None, headers=None, timeout=5):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path), data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path, token=None, timeout=5):
        return self.request("GET", path, token=token, timeout=timeout)

    def post(self, path, token=None, body=None, headers=None):
        return self.request("POST", path, token=token, body={} if body is None else body, headers=headers)

    def token(self, role, sub=None):
        cmd = [BINARY, "token", "--role", role] + (["--sub", sub] if sub else [])
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def closed_within(sock, limit):
    """Seconds until the peer closes `sock`, or None if still open at `limit`."""
    start = time.monotonic()
    sock.settimeout(0.05)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


class Ws:
    """A minimal WebSocket client (RFC 6455), for the attacks only."""

    def __init__(self, server, path, token):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n")
        self.sock.sendall(head.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            buf += chunk
        self.status = int(buf.split(b" ", 2)[1]) if buf else 0
        self.rest = buf.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in buf else b""

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv_frames(self, seconds):
        """Text frames that arrive within `seconds` (decoded JSON)."""
        out, buf = [], self.rest
        self.rest = b""
        end = time.monotonic() + seconds
        self.sock.settimeout(0.05)
        while time.monotonic() < end:
            try:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
            except socket.timeout:
                pass
            while len(buf) >= 2:
                n = buf[1] & 0x7F
                off = 2
                if n == 126:
                    if len(buf) < 4:
                        break
                    n = struct.unpack(">H", buf[2:4])[0]
                    off = 4
                elif n == 127:
                    if len(buf) < 10:
                        break
                    n = struct.unpack(">Q", buf[2:10])[0]
                    off = 10
                if len(buf) < off + n:
                    break
                if buf[0] & 0x0F == 1:
                    out.append(json.loads(buf[off:off + n]))
                buf = buf[off + n:]
        return out

    def close(self):
        self.sock.close()


def report(name, line):
    print(f"{name:10} {line}", flush=True)


def attack_timeouts():
    s = Server()
    silent = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(200)]
    dripping = []
    for i in range(200):
        d = socket.create_connection(("127.0.0.1", s.port))
        d.sendall(b"GET /chats/clients HTTP/1.1\r\n")
        dripping.append(d)
    stop = threading.Event()

    def drip():
        n = 0
        while not stop.is_set():
            for d in dripping:
                try:
                    d.sendall(f"X-Drip-{n}: a\r\n".encode())
                except OSError:
                    pass
            n += 1
            time.sleep(1)

    threading.Thread(target=drip, daemon=True).start()
    start = time.monotonic()
    worst_healthz = 0.0
    while time.monotonic() - start < 11.5:
        t = time.monotonic()
        status, _, _ = s.get("/healthz")
        worst_healthz = max(worst_healthz, time.monotonic() - t)
        assert status == 200
        time.sleep(0.1)
    stop.set()
    open_silent = sum(1 for x in silent if closed_within(x, 0.01) is None)
    open_drip = sum(1 for x in dripping if closed_within(x, 0.01) is None)
    closes = s.log_text().count("timeout")
    report("timeouts", f"after 11.5 s: {200 - open_silent}/200 silent and {200 - open_drip}/200 dripping "
           f"sockets closed (head timeout 10 s); /healthz served throughout, slowest {worst_healthz * 1000:.1f} ms")
    s.stop()


def attack_keepalive():
    s = Server()
    k = socket.create_connection(("127.0.0.1", s.port))
    k.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    k.recv(4096)
    took = closed_within(k, 40)
    report("keepalive", f"an idle keep-alive connection was closed after {took:.1f} s (QC_HTTP_IDLE_SECS 30)")
    s.stop()


def attack_cap():
    # The default cap under a 1,024-descriptor limit: 1,024 - 256 = 768.
    s = Server(wrapper=["prlimit", "--nofile=1024:1024"], env={"QC_HTTP_HEADER_TIMEOUT_SECS": "120"})
    held = []
    for _ in range(1000):
        held.append(socket.create_connection(("127.0.0.1", s.port)))
    time.sleep(0.5)
    try:
        s.get("/healthz", timeout=1)
        served = True
    except Exception:
        served = False
    cpu0 = s.cpu_s()
    time.sleep(5)
    cpu = s.cpu_s() - cpu0
    for x in held[:300]:
        x.close()
    t = time.monotonic()
    ok = False
    while time.monotonic() - t < 3:
        try:
            ok = s.get("/healthz", timeout=0.5)[0] == 200
            break
        except Exception:
            pass
    back = time.monotonic() - t
    report("cap", f"1,000 silent sockets against the default cap (768 under ulimit 1024): /healthz "
           f"{'served' if served else 'waits'} while capped, server CPU {cpu * 1000:.0f} ms in 5 s; "
           f"after 300 close, served again in {back * 1000:.0f} ms ({'ok' if ok else 'NOT served'})")
    s.stop()


def attack_fds():
    # A cap above the descriptor limit: accept() itself fails with EMFILE.
    s = Server(wrapper=["prlimit", "--nofile=256:256"],
               env={"QC_MAX_CONNECTIONS": "100000", "QC_HTTP_HEADER_TIMEOUT_SECS": "120"})
    held = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(400)]
    time.sleep(0.5)
    cpu0 = s.cpu_s()
    time.sleep(5)
    cpu = s.cpu_s() - cpu0
    for x in held:
        x.close()
    t = time.monotonic()
    while time.monotonic() - t < 3:
        try:
            if s.get("/healthz", timeout=0.5)[0] == 200:
                break
        except Exception:
            pass
    back = time.monotonic() - t
    warnings = s.log_text().count("out of file descriptors")
    report("fds", f"400 sockets under ulimit 256: server CPU {cpu * 1000:.0f} ms in 5 s (was 8 s per 10 s), "
           f"{warnings} warning lines, served again {back * 1000:.0f} ms after they closed")
    s.stop()


def send_body(port, size):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(f"POST /conversations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {size}\r\n\r\n".encode())
    c.settimeout(10)
    chunk = b"[" * 65536
    sent = 0
    status = None
    c.setblocking(False)
    buf = b""
    while sent < size and status is None:
        try:
            sent += c.send(chunk)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            break
        try:
            buf += c.recv(4096)
            if buf:
                status = buf.split(b" ", 2)[1].decode()
        except (BlockingIOError, OSError):
            pass
    c.setblocking(True)
    if status is None:
        try:
            buf += c.recv(4096)
            status = buf.split(b" ", 2)[1].decode()
        except Exception:
            status = "?"
    c.close()
    return status, sent


def attack_body():
    s = Server()
    before = s.rss_kib()
    results = []
    threads = [threading.Thread(target=lambda: results.append(send_body(s.port, 52 * 1024 * 1024))) for _ in range(3)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.monotonic() - t
    grown = s.rss_kib() - before
    t = time.monotonic()
    s.get("/healthz")
    hz = time.monotonic() - t
    statuses = ", ".join(f"{st} after {sent // 1024} KiB sent" for st, sent in results)
    report("body", f"three 52 MB bodies without a token at once: {statuses} in {took:.2f} s; "
           f"RSS grew {grown} KiB (was ~1.95 GB); /healthz {hz * 1000:.1f} ms")
    s.stop()


def attack_identity():
    s = Server()
    customer = s.token("client", "victim-customer")
    cid = json.loads(s.post("/conversations", customer)[2])["id"]
    agent_sub = "agent-007"
    agent = s.token("support", agent_sub)
    s.post(f"/conversations/{cid}/assign", agent)
    guest_as_agent = s.token("guest", agent_sub)
    read = s.get(f"/conversations/{cid}", guest_as_agent)[0]
    history = s.get(f"/conversations/{cid}/messages", guest_as_agent)[0]
    listed = json.loads(s.get("/conversations", guest_as_agent)[2])["items"]
    gw = Ws(s, "/chats/clients", guest_as_agent)
    cw = Ws(s, "/chats/clients", customer)
    cw.send({"type": "text", "conversation_id": cid, "content": "private"})
    got = gw.recv_frames(0.5)
    gw.send({"type": "text", "conversation_id": cid, "content": "posing as the agent"})
    answer = gw.recv_frames(0.5)
    code = answer[0]["payload"].get("code") if answer else None
    support_as_customer = s.token("support", "victim-customer")
    other_agent = s.token("support", "agent-008")
    cid2 = json.loads(s.post("/conversations", customer)[2])["id"]
    s.post(f"/conversations/{cid2}/assign", other_agent)
    read2 = s.get(f"/conversations/{cid2}", support_as_customer)[0]
    report("identity", f"a guest token with the agent's sub: GET conversation {read}, history {history}, "
           f"lists {len(listed)}, live frames received {len(got)}, its text answered {code}; "
           f"a support token with the customer's sub: GET {read2}")
    gw.close()
    cw.close()
    s.stop()


def attack_csrf():
    s = Server(env={"QC_ALLOWED_ORIGINS": "https://app.example"})
    customer = s.token("client")
    cid = json.loads(s.post("/conversations", customer)[2])["id"]
    agent = s.token("support")
    headers = {"Cookie": f"access_token={agent}", "Origin": "https://evil.example"}
    a = s.request("POST", f"/conversations/{cid}/assign", body={}, headers=headers)[0]
    c = s.request("POST", f"/conversations/{cid}/close", body={}, headers=headers)[0]
    state = json.loads(s.get(f"/conversations/{cid}", customer)[2])
    report("csrf", f"cookie POST assign / close from https://evil.example: {a} / {c}; "
           f"the conversation stays status={state['status']} support_id={state['support_id']}")
    s.stop()


def attack_sockets():
    s = Server()
    token = s.token("client", "one-user")
    t = time.monotonic()
    statuses = {}
    conns = []
    for _ in range(1000):
        w = Ws(s, "/chats/clients", token)
        statuses[w.status] = statuses.get(w.status, 0) + 1
        if w.status == 101:
            conns.append(w)
        else:
            w.close()
    took = time.monotonic() - t
    report("sockets", f"one user opening 1,000 WebSockets in {took:.1f} s: "
           + ", ".join(f"{n}× {st}" for st, n in sorted(statuses.items())))
    for w in conns:
        w.close()
    s.stop()


def attack_bucket():
    s = Server()
    client = s.token("client", "flooder")
    cid = json.loads(s.post("/conversations", client)[2])["id"]
    agent = s.token("support")
    s.post(f"/conversations/{cid}/assign", agent)
    conns = [Ws(s, "/chats/clients", client) for _ in range(32)]
    t = time.monotonic()
    for i in range(2000):
        conns[i % len(conns)].send({"type": "text", "conversation_id": cid, "content": "x" * 4000})
    sent = time.monotonic() - t
    time.sleep(1.5)
    total = 0
    after = None
    page = f"/conversations/{cid}/messages?limit=200"
    while page:
        body = json.loads(s.get(page, agent)[2])
        total += len(body["items"])
        nxt = body["next_cursor"]
        page = f"/conversations/{cid}/messages?limit=200&before={nxt}" if nxt else None
    report("bucket", f"32 connections of one client sending 2,000 texts of 4 KB in {sent:.2f} s: "
           f"{total} stored (user bucket 40/s, burst 80); was 2,000 (8 MB) and the agent kicked with 4002")
    for w in conns:
        w.close()
    s.stop()


def attack_opens():
    s = Server(env={"QC_HTTP_RATE_PER_SEC": "0"})
    guest = s.token("guest", "spammer")
    results = {}
    lock = threading.Lock()

    def opener(n):
        for _ in range(n):
            st = s.post("/conversations", guest)[0]
            with lock:
                results[st] = results.get(st, 0) + 1

    threads = [threading.Thread(target=opener, args=(100,)) for _ in range(20)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.monotonic() - t
    real = s.token("guest")
    s.post("/conversations", real)
    agent = s.token("support")
    queue = json.loads(s.get("/conversations?queue=true&limit=200", agent)[2])["items"]
    limited = Server()
    g2 = limited.token("guest", "spammer")
    codes = {}
    for _ in range(60):
        st = limited.request("GET", "/conversations", token=g2)
        codes[st[0]] = codes.get(st[0], 0) + 1
        retry = st[1].get("Retry-After")
    report("opens", f"one guest opening 2,000 conversations in {took:.1f} s (HTTP bucket off): "
           + ", ".join(f"{n}× {k}" for k, n in sorted(results.items()))
           + f"; a real customer is at queue position {len(queue)}; with the default HTTP bucket, "
           + f"60 quick requests get " + ", ".join(f"{n}× {k}" for k, n in sorted(codes.items()))
           + f" (Retry-After {retry})")
    limited.stop()
    s.stop()


def attack_devmode():
    s = Server(dev=True, env={"QC_BIND": None})
    # Dev mode on the default port: bound to loopback only.
    import re
    found = None
    for _ in range(20):
        plain = re.sub(r"\x1b\[[0-9;]*m", "", s.log_text())
        found = re.search(r"Quick Connect Chat listening addr=(\S+)", plain)
        if found:
            break
        time.sleep(0.1)
    st, headers, _ = s.request("GET", "/dev/token?role=support", headers={"Origin": "https://evil.example"})
    acao = headers.get("Access-Control-Allow-Origin")
    report("devmode", f"dev mode listens on {found.group(1) if found else '?'}; /dev/token from another "
           f"site: {st}, Access-Control-Allow-Origin {acao!r}")
    s.stop()


def attack_logs():
    s = Server()
    token = s.token("client", "evil\nINFO forged: admin logged in")
    s.get("/conversations", token)
    w = Ws(s, "/chats/clients", token)
    w.recv_frames(0.2)
    w.close()
    time.sleep(0.3)
    text = s.log_text()
    forged = [l for l in text.splitlines() if l.startswith("INFO forged")]
    report("logs", f"a sub with a newline: {len(forged)} forged log lines; "
           f"escaped as {('evil' + chr(92) + 'n') in text}")
    s.stop()


def attack_origins():
    s = Server(env={"QC_ALLOWED_ORIGINS": "https://app.example"})
    token = s.token("client")
    c = socket.create_connection(("127.0.0.1", s.port))
    key = base64.b64encode(os.urandom(16)).decode()
    c.sendall((f"GET /chats/clients HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://app.example\r\n"
               f"Origin: https://evil.example\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    status = c.recv(4096).split(b" ", 2)[1].decode()
    report("origins", f"an upgrade with an allowed and an evil Origin header: {status}")
    s.stop()


ATTACKS = {
    "timeouts": attack_timeouts,
    "keepalive": attack_keepalive,
    "cap": attack_cap,
    "fds": attack_fds,
    "body": attack_body,
    "identity": attack_identity,
    "csrf": attack_csrf,
    "sockets": attack_sockets,
    "bucket": attack_bucket,
    "opens": attack_opens,
    "devmode": attack_devmode,
    "logs": attack_logs,
    "origins": attack_origins,
}


def main():
    global BINARY
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default=BINARY)
    p.add_argument("names", nargs="*")
    args = p.parse_args()
    BINARY = os.path.abspath(args.binary)
    for name in args.names or ATTACKS:
        ATTACKS[name]()


if __name__ == "__main__":
    sys.exit(main())
