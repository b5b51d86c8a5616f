#!/usr/bin/env python3
"""Mixed traffic against a running wasm-proxy for a bounded time, with config reloads.

Good requests (GET, and POSTs with bodies through a plugin that pauses on a callout), slow
clients (headers dribbled, bodies stopped half way), malformed requests and abrupt closes, from
several threads; SIGHUP to the proxy every `reload` seconds. Prints RSS over time and, at the
end, requests sent, good ones answered 200, good ones lost (no answer or not 200), and RSS at
start and end. Exit status 1 if a good request was lost or the proxy died.
  soak.py PORT PROXY_PID SECONDS [RELOAD_SECONDS]
"""
import os, random, signal, socket, sys, threading, time

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
reload_every = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
stop = time.time() + seconds
lock = threading.Lock()
stats = {"good": 0, "ok": 0, "lost": 0, "slow": 0, "bad": 0}
lost_examples = []


def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def exchange(data, timeout=10.0, pause=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if pause:
            head, rest = data
            s.sendall(head)
            time.sleep(pause)
            s.sendall(rest)
        else:
            s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def good(rng):
    size = rng.choice([0, 1, 4096, 65536, 300000])
    body = os.urandom(size)
    pause = "x-pause-callout: %d\r\n" % rng.randint(0, 30) if rng.random() < 0.5 else ""
    head = ("POST /count HTTP/1.1\r\nHost: soak\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (pause, size)).encode()
    later = rng.random() < 0.3
    try:
        out = exchange((head, body) if later else head + body, pause=0.01 if later else None)
        ok = out.startswith(b"HTTP/1.1 200") and (b'"bytes":%d' % size) in out
    except OSError as e:
        out, ok = str(e).encode(), False
    with lock:
        stats["good"] += 1
        stats["ok" if ok else "lost"] += 1
        if not ok and len(lost_examples) < 5:
            lost_examples.append(out[:200])


def slow(rng):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if rng.random() < 0.5:
            s.sendall(b"GET /slow HTTP/1.1\r\nHost: soak\r\n")  # then silence
        else:
            s.sendall(b"POST /count HTTP/1.1\r\nHost: soak\r\nContent-Length: 1000\r\n\r\nabc")
        time.sleep(rng.uniform(0.1, 1.0))
        s.close()
    except OSError:
        pass
    with lock:
        stats["slow"] += 1


MALFORMED = [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
             b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
             b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             b"get / HTTP/1.1\r\nHost: a\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"]


def bad(rng):
    try:
        exchange(rng.choice(MALFORMED), timeout=3)
    except OSError:
        pass
    with lock:
        stats["bad"] += 1


def worker(seed):
    rng = random.Random(seed)
    while time.time() < stop:
        r = rng.random()
        (good if r < 0.7 else slow if r < 0.85 else bad)(rng)


start_rss = rss_mib()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
next_reload = time.time() + reload_every
next_report = time.time()
while time.time() < stop:
    time.sleep(0.5)
    if time.time() >= next_reload:
        os.kill(pid, signal.SIGHUP)
        next_reload += reload_every
    if time.time() >= next_report:
        with lock:
            print("t=%4.0fs rss=%6.1f MiB good=%d lost=%d slow=%d malformed=%d" % (
                seconds - (stop - time.time()), rss_mib(), stats["good"], stats["lost"],
                stats["slow"], stats["bad"]), flush=True)
        next_report += 30
for t in threads:
    t.join()
alive = os.path.exists(f"/proc/{pid}")
end_rss = rss_mib() if alive else 0.0
print("requests: %d good (%d answered 200 with every byte, %d lost), %d slow, %d malformed" % (
    stats["good"], stats["ok"], stats["lost"], stats["slow"], stats["bad"]))
print("rss: start %.1f MiB, end %.1f MiB; proxy %s" % (start_rss, end_rss,
                                                       "alive" if alive else "DIED"))
for e in lost_examples:
    print("lost:", e)
sys.exit(0 if alive and stats["lost"] == 0 else 1)
