#!/usr/bin/python3
"""bus-client.py: a client of beekeeperd's bus, written from
beekeeper-protocol(7) alone, for the regress tests.

It keeps a copy of the daemon's state as the page's "Keeping a copy of the
state" says (the Clone pattern: subscribe to everything, take a snapshot,
apply the messages past its seq, start again on a gap) and checks the copy
against a fresh snapshot; it also sends raw requests, well-formed or not,
and plays a subscriber that stops reading while the daemon publishes a lot.

    bus-client.py hello    --control EP [KEY] [--name NAME]
    bus-client.py request  --control EP [KEY] [--dealer] [--hex]
                           [--pad BYTES] [--timeout S] FRAME...
    bus-client.py follow   --control EP [KEY] --out FILE [--ready FILE]
                           [--until-builds-finished N] [--until-audit N]
                           [--until-resyncs N] [--for S] [--timeout S]
                           [--settle S]
    bus-client.py slow     --control EP [KEY] --out FILE [--commands N]
                           [--pool NAME] [--hwm N] [--rcvbuf BYTES]
                           [--window N] [--pad BYTES] [--pause S]
                           [--timeout S]
    bus-client.py json     [-n] [--lines] EXPR [FILE]

KEY is --key-file FILE (the daemon's control.key) or --key KEY: requests
then carry it as "key" and are an admin's; without it, a viewer's.

"request" sends each FRAME (its UTF-8 bytes, or with --hex the bytes it
spells; "key" is added to a JSON object) on one socket, a REQ (or a
DEALER with its empty frame), and prints each reply on a line of its own;
--pad grows a JSON object FRAME to BYTES with a member "pad". It exits 2
when a reply does not come.

"follow" and "slow" write a JSON report to --out: "equal" (the copy is the
fresh snapshot), "differences", "gaps", "resyncs", "restarts", "applied",
"snapshot_seq" (of the first snapshot), "first_seq" and "last_seq" (of
the messages applied), "contiguous", the audit records received, the
states each build was seen in, and "events" (what happened, in words).
They exit 1 when the condition was not met in time (the report is written
all the same).

"json" prints the value of the Python expression EXPR over the JSON of
FILE (or stdin), bound to d: strings as they are, the rest as JSON; -n
leaves out the newline after it, and with --lines d is the list of the
JSON texts of the input's lines.
"""

import argparse
import json
import os
import sys
import time

import zmq

# The topics that make up the state, with the member keying their objects,
# and the snapshot's array of each.
KEYS = {
    "build": "id",
    "task": "id",
    "pool": "name",
    "instance": "id",
    "project": "repo",
}
ARRAYS = {
    "build": "builds",
    "task": "tasks",
    "pool": "pools",
    "instance": "instances",
    "project": "projects",
}
FINISHED = ("passed", "failed", "errored", "cancelled")
INSTANCE_GONE = ("terminated", "lost")


def now():
    return time.monotonic()


def note(msg):
    print("bus-client: " + msg, file=sys.stderr)


class Timeout(Exception):
    pass


class Control:
    """A control socket: REQ, or DEALER sending the empty delimiter frame
    itself, as the page allows both."""

    def __init__(self, ctx, endpoint, dealer=False, timeout=10.0, key=None):
        self.ctx = ctx
        self.endpoint = endpoint
        self.key = key
        self.dealer = dealer
        self.timeout = timeout
        self.sock = None
        self.nextid = 0
        self._open()

    def _open(self):
        self.sock = self.ctx.socket(zmq.DEALER if self.dealer else zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(self.endpoint)

    def close(self):
        self.sock.close(0)

    def send_raw(self, frame):
        if self.dealer:
            self.sock.send_multipart([b"", frame])
        else:
            self.sock.send(frame)

    def recv_raw(self, timeout=None):
        t = self.timeout if timeout is None else timeout
        if not self.sock.poll(int(t * 1000), zmq.POLLIN):
            # A REQ socket that missed its reply cannot send again.
            self.sock.close(0)
            self._open()
            raise Timeout("no reply from %s in %g s" % (self.endpoint, t))
        frames = self.sock.recv_multipart()
        if self.dealer:
            if len(frames) < 2 or frames[0] != b"":
                raise ValueError("reply without the empty frame: %r"
                                 % frames[:2])
            frames = frames[1:]
        if len(frames) != 1:
            raise ValueError("reply of %d frames" % len(frames))
        return frames[0]

    def raw(self, frame, timeout=None):
        self.send_raw(frame)
        return self.recv_raw(timeout)

    def call(self, obj, timeout=None):
        """Send a request, with an id of ours, and return the reply, which
        must be a JSON object carrying that id and "ok": true."""
        self.nextid += 1
        rid = "bc-%d-%d" % (os.getpid(), self.nextid)
        req = dict(obj)
        req["id"] = rid
        if self.key is not None:
            req["key"] = self.key
        reply = json.loads(self.raw(json.dumps(req).encode(), timeout))
        if not isinstance(reply, dict):
            raise ValueError("reply is not an object: %r" % reply)
        if reply.get("id") != rid:
            raise ValueError("reply to %r carries id %r"
                             % (rid, reply.get("id")))
        if reply.get("ok") is not True:
            raise ValueError("%s: %s" % (obj.get("cmd"), reply.get("error")))
        return reply


class State:
    """The state at one seq: the objects of each topic, by key."""

    def __init__(self, snap):
        self.objs = {}
        for topic, array in ARRAYS.items():
            objs = snap.get(array)
            if not isinstance(objs, list):
                raise ValueError("snapshot without an array %r" % array)
            self.objs[topic] = {o[KEYS[topic]]: o for o in objs}

    def apply(self, topic, op, data):
        key = data[KEYS[topic]]
        objs = self.objs[topic]
        if op == "delete":
            objs.pop(key, None)
            if topic == "build":
                tasks = self.objs["task"]
                for tid in [t for t, o in tasks.items()
                            if o.get("build") == key]:
                    del tasks[tid]
        elif op == "put":
            if topic == "instance" and data.get("state") in INSTANCE_GONE:
                objs.pop(key, None)
            else:
                objs[key] = data
        else:
            raise ValueError("unknown op %r" % op)

    def finished_builds(self):
        return sum(1 for b in self.objs["build"].values()
                   if b.get("state") in FINISHED)

    def differences(self, other, limit=50):
        """What differs between self (the copy) and other (a snapshot)."""
        out = []
        for topic in KEYS:
            mine, theirs = self.objs[topic], other.objs[topic]
            for k in sorted(set(mine) | set(theirs), key=str):
                if k not in theirs:
                    out.append("%s %s: in the copy, not in the snapshot"
                               % (topic, k))
                elif k not in mine:
                    out.append("%s %s: in the snapshot, not in the copy"
                               % (topic, k))
                elif mine[k] != theirs[k]:
                    a, b = mine[k], theirs[k]
                    for m in sorted(set(a) | set(b)):
                        if a.get(m, "<none>") != b.get(m, "<none>"):
                            out.append("%s %s: %s is %s in the copy, %s in"
                                       " the snapshot" % (
                                           topic, k, m,
                                           json.dumps(a.get(m, "<none>")),
                                           json.dumps(b.get(m, "<none>"))))
        return out[:limit] + (["... %d more" % (len(out) - limit)]
                              if len(out) > limit else [])


class Follower:
    """A Clone-pattern subscriber."""

    def __init__(self, ctx, control, hwm=None, rcvbuf=None, name="follow",
                 key=None):
        self.ctl = Control(ctx, control, dealer=True, key=key)
        hello = self.ctl.call({"cmd": "hello", "name": "bus-client " + name})
        self.publish = hello["publish"]
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        if hwm is not None:
            self.sub.setsockopt(zmq.RCVHWM, hwm)
        if rcvbuf is not None:
            self.sub.setsockopt(zmq.RCVBUF, rcvbuf)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.connect(self.publish)
        self.state = None
        self.last = None
        self.dropping = True
        self.gaps = 0
        self.resyncs = 0
        self.restarts = 0
        self.applied = 0
        self.dropped = 0
        self.missed = 0
        self.snapshot_seq = None
        self.start = None
        self.first_seq = None
        self.contiguous = True
        self.heartbeats = 0
        self.audit = []
        self.build_states = {}
        self.topics = {}
        self.events = []
        self.last_change = now()
        self.backlog = []

    def event(self, text):
        self.events.append(text)
        note(text)

    def recv(self, timeout):
        """One message (topic, body), or None after timeout seconds."""
        if self.backlog:
            return self.backlog.pop(0)
        if not self.sub.poll(int(timeout * 1000), zmq.POLLIN):
            return None
        frames = self.sub.recv_multipart()
        if len(frames) != 2:
            raise ValueError("a message of %d frames" % len(frames))
        return frames[0].decode(), frames[1]

    def wait_live(self, timeout=10.0):
        """Wait for the first message, a heartbeat at worst: from then on
        the subscription is in place and nothing published is missed."""
        m = self.recv(timeout)
        if m is None:
            raise Timeout("nothing on %s in %g s, not even a heartbeat"
                          % (self.publish, timeout))
        self.backlog.append(m)

    def snapshot(self):
        snap = self.ctl.call({"cmd": "snapshot"})
        if not isinstance(snap.get("seq"), int):
            raise ValueError("snapshot without a numeric seq")
        self.state = State(snap)
        self.last = snap["seq"]
        self.start = snap.get("start")
        self.dropping = True
        if self.snapshot_seq is None:
            self.snapshot_seq = self.last
        for b in self.state.objs["build"].values():
            self._saw_build(b)
        return snap

    def resync(self, why):
        self.gaps += 1
        self.contiguous = False
        self.event("gap after seq %d: %s; a new snapshot" % (self.last, why))
        self.snapshot()
        self.resyncs += 1
        self.event("resynced at seq %d" % self.last)

    def _saw_build(self, b):
        seen = self.build_states.setdefault(str(b.get("id")), [])
        if not seen or seen[-1] != b.get("state"):
            seen.append(b.get("state"))

    def handle(self, topic, body):
        msg = json.loads(body)
        if not isinstance(msg, dict) or not isinstance(msg.get("seq"), int):
            raise ValueError("a %s message without a numeric seq: %r"
                             % (topic, body[:200]))
        seq = msg["seq"]
        if topic == "hb":
            self.heartbeats += 1
            if msg.get("start") != self.start:
                # The page's rule: another run of the daemon.
                self.restarts += 1
                self.resync("a heartbeat's start %r is not the snapshot's "
                            "%r: the daemon restarted"
                            % (msg.get("start"), self.start))
                return
            if seq == self.last:
                # Whatever comes next was published after the snapshot.
                self.dropping = False
            elif seq > self.last:
                self.missed += seq - self.last
                self.resync("a heartbeat says seq %d" % seq)
            elif seq < self.last and not self.dropping:
                self.restarts += 1
                self.resync("a heartbeat says seq %d: the daemon restarted"
                            % seq)
            return
        if seq <= self.last:
            if self.dropping:
                self.dropped += 1
                return
            # A seq going back is a new daemon counting from 1 again.
            self.restarts += 1
            self.resync("seq %d after %d: the daemon restarted"
                        % (seq, self.last))
            return
        if seq != self.last + 1:
            self.missed += seq - self.last - 1
            self.resync("seq %d follows %d" % (seq, self.last))
            return
        op, data = msg.get("op"), msg.get("data")
        if not isinstance(data, dict):
            raise ValueError("message %d has no object" % seq)
        self.topics[topic] = self.topics.get(topic, 0) + 1
        if topic in KEYS:
            self.state.apply(topic, op, data)
            if topic == "build" and op == "put":
                self._saw_build(data)
        elif topic == "audit":
            self.audit.append(data)
        if self.first_seq is None:
            self.first_seq = seq
        self.last = seq
        self.dropping = False
        self.applied += 1
        self.last_change = now()

    def step(self, timeout):
        m = self.recv(timeout)
        if m is not None:
            self.handle(*m)
        return m

    def follow(self, done, deadline):
        while not done(self):
            if now() >= deadline:
                return False
            self.step(min(0.1, max(0.0, deadline - now())))
        return True

    def settle(self, quiet, deadline):
        """Read until nothing but heartbeats came for quiet seconds."""
        while now() - self.last_change < quiet and now() < deadline:
            self.step(0.1)

    def compare(self, deadline):
        """Take a fresh snapshot, apply what was published before it, and
        compare the copy with it at the very same seq."""
        for _ in range(5):
            snap = self.ctl.call({"cmd": "snapshot"})
            target = snap["seq"]
            resyncs = self.resyncs
            while self.last < target and self.resyncs == resyncs:
                if now() >= deadline:
                    return ["timed out reaching seq %d (at %d)"
                            % (target, self.last)]
                self.step(0.1)
            if self.resyncs != resyncs:
                continue
            self.final_seq = target
            if self.last != target:
                return ["the copy is at seq %d, past the snapshot's %d"
                        % (self.last, target)]
            return self.state.differences(State(snap))
        return ["kept resyncing, never compared"]

    def report(self, equal, differences, **more):
        r = {
            "equal": equal,
            "differences": differences,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
            "restarts": self.restarts,
            "applied": self.applied,
            "missed": self.missed,
            "dropped": self.dropped,
            "heartbeats": self.heartbeats,
            "snapshot_seq": self.snapshot_seq,
            "first_seq": self.first_seq,
            "last_seq": self.last,
            "final_seq": getattr(self, "final_seq", None),
            "contiguous": self.contiguous and self.first_seq in (
                None, self.snapshot_seq + 1) and self.applied == (
                self.last - self.snapshot_seq),
            "publish": self.publish,
            "topics": self.topics,
            "build_states": self.build_states,
            "audit": self.audit,
            "events": self.events,
        }
        r.update(more)
        return r


def write_report(path, report):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(tmp, path)


def read_key(a):
    """The control key, from --key or --key-file, or None: a viewer."""
    if getattr(a, "key", None) is not None:
        return a.key
    if getattr(a, "key_file", None):
        with open(a.key_file) as f:
            return f.read().strip()
    return None


def cmd_hello(ctx, a):
    c = Control(ctx, a.control, timeout=a.timeout)
    req = {"cmd": "hello"}
    if a.name is not None:
        req["name"] = a.name
    key = read_key(a)
    if key is not None:
        req["key"] = key
    print(c.raw(json.dumps(req).encode()).decode("utf-8", "replace"))
    return 0


def cmd_request(ctx, a):
    c = Control(ctx, a.control, dealer=a.dealer, timeout=a.timeout)
    key = read_key(a)
    for text in a.frame:
        frame = bytes.fromhex(text) if a.hex else text.encode()
        if key is not None:
            try:
                obj = json.loads(frame)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                obj["key"] = key
                frame = json.dumps(obj).encode()
        if a.pad:
            obj = json.loads(frame)
            obj["pad"] = ""
            n = a.pad - len(json.dumps(obj).encode())
            obj["pad"] = "x" * max(0, n)
            frame = json.dumps(obj).encode()
        try:
            reply = c.raw(frame)
        except Timeout as e:
            note(str(e))
            return 2
        print(reply.decode("utf-8", "replace"))
        sys.stdout.flush()
    return 0


def cmd_follow(ctx, a):
    deadline = now() + a.timeout
    f = Follower(ctx, a.control, key=read_key(a))
    f.wait_live()
    f.snapshot()
    f.event("following %s from seq %d" % (f.publish, f.last))
    if a.ready:
        with open(a.ready + ".tmp", "w") as r:
            r.write("%d\n" % f.last)
        os.rename(a.ready + ".tmp", a.ready)

    started = now()

    def done(f):
        if a.until_builds_finished is not None and \
                f.state.finished_builds() < a.until_builds_finished:
            return False
        if a.until_audit is not None and len(f.audit) < a.until_audit:
            return False
        if a.until_resyncs is not None and f.resyncs < a.until_resyncs:
            return False
        if a.for_seconds is not None and now() - started < a.for_seconds:
            return False
        return True

    met = f.follow(done, deadline)
    if not met:
        f.event("timed out after %g s" % a.timeout)
    f.settle(a.settle, deadline)
    diffs = f.compare(deadline + 10)
    write_report(a.out, f.report(not diffs, diffs, timed_out=not met))
    return 0 if met else 1


def cmd_slow(ctx, a):
    """Stop reading while the daemon publishes a lot (pool commands, each
    also an audit record), on a subscriber with small queues; then read
    again, which must notice the gap and resync. Meanwhile a second
    subscriber reads all along, and a REQ socket says hello now and then:
    both must be served while the first lags."""
    deadline = now() + a.timeout
    key = read_key(a)
    slow = Follower(ctx, a.control, hwm=a.hwm, rcvbuf=a.rcvbuf, name="slow",
                    key=key)
    fast = Follower(ctx, a.control, name="fast", key=key)
    for f in (slow, fast):
        f.wait_live()
        f.snapshot()
    slow.settle(0.2, deadline)
    slow.event("stops reading at seq %d" % slow.last)

    pool = a.pool
    if pool is None:
        pools = slow.state.objs["pool"]
        if not pools:
            raise ValueError("no pool to command")
        pool = sorted(pools)[0]
    gen = Control(ctx, a.control, dealer=True, key=key)
    hello = Control(ctx, a.control, timeout=10)
    n = a.commands + (a.commands % 2)
    sent = answered = refused = hellos = hellos_answered = 0
    outstanding = {}
    latency = 0.0
    t0 = now()
    while answered < n:
        if now() >= deadline:
            break
        while sent < n and len(outstanding) < a.window:
            if sent % 2 == 0:
                req = {"cmd": "cap", "pool": pool, "n": sent % 7 + 1}
            else:
                req = {"cmd": "uncap", "pool": pool}
            req["id"] = sent
            if key is not None:
                req["key"] = key
            # Each command's audit record holds its arguments: padding
            # them makes the messages big enough that the kernel's socket
            # buffers hold few of them, and the daemon's queue of 10000
            # is what fills.
            if a.pad:
                req["pad"] = "p" * a.pad
            gen.send_raw(json.dumps(req).encode())
            outstanding[sent] = now()
            sent += 1
        if answered and answered % 2000 == 0 and hellos < answered // 2000:
            hellos += 1
            try:
                r = json.loads(hello.raw(b'{"cmd": "hello"}'))
                hellos_answered += r.get("ok") is True
            except Timeout:
                slow.event("a hello was not answered during the flood")
        # The fast subscriber reads as it goes.
        while fast.sub.poll(0, zmq.POLLIN) or fast.backlog:
            fast.step(0)
        if not gen.sock.poll(100, zmq.POLLIN):
            continue
        reply = json.loads(gen.recv_raw())
        rid = reply.get("id")
        if rid not in outstanding:
            raise ValueError("a reply with an id we did not send: %r" % rid)
        latency = max(latency, now() - outstanding.pop(rid))
        answered += 1
        if reply.get("ok") is not True:
            refused += 1
            if refused <= 3:
                slow.event("command %d refused: %s" % (rid,
                                                      reply.get("error")))
    took = now() - t0
    slow.event("%d of %d commands on pool %s answered in %.1f s, %d refused"
               % (answered, n, pool, took, refused))
    time.sleep(a.pause)
    slow.event("reads again")
    fast.settle(a.settle, deadline)
    slow.settle(a.settle, deadline)
    sdiff = slow.compare(deadline + 10)
    fdiff = fast.compare(deadline + 10)
    fast_report = fast.report(not fdiff, fdiff)
    for k in ("audit", "build_states"):
        del fast_report[k]
    report = slow.report(not sdiff, sdiff, commands=n, answered=answered,
                         refused=refused, pool=pool, seconds=round(took, 2),
                         max_latency_ms=round(latency * 1000),
                         hellos=hellos, hellos_answered=hellos_answered,
                         fast=fast_report, timed_out=answered < n)
    del report["audit"]
    write_report(a.out, report)
    return 0 if answered == n else 1


def cmd_json(_ctx, a):
    f = open(a.file) if a.file else sys.stdin
    with f:
        if a.lines:
            d = [json.loads(line) for line in f if line.strip()]
        else:
            d = json.load(f)
    v = eval("(" + a.expr + "\n)", {"json": json, "d": d})
    out = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    sys.stdout.write(out if a.n else out + "\n")
    return 0


def main():
    p = argparse.ArgumentParser(prog="bus-client.py")
    sp = p.add_subparsers(dest="cmd", required=True)

    h = sp.add_parser("hello")
    h.add_argument("--control", required=True)
    h.add_argument("--key-file")
    h.add_argument("--key")
    h.add_argument("--name")
    h.add_argument("--timeout", type=float, default=10)
    h.set_defaults(run=cmd_hello)

    r = sp.add_parser("request")
    r.add_argument("--control", required=True)
    r.add_argument("--key-file")
    r.add_argument("--key")
    r.add_argument("--dealer", action="store_true")
    r.add_argument("--hex", action="store_true")
    r.add_argument("--pad", type=int, default=0)
    r.add_argument("--timeout", type=float, default=10)
    r.add_argument("frame", nargs="+")
    r.set_defaults(run=cmd_request)

    f = sp.add_parser("follow")
    f.add_argument("--control", required=True)
    f.add_argument("--key-file")
    f.add_argument("--key")
    f.add_argument("--out", required=True)
    f.add_argument("--ready")
    f.add_argument("--until-builds-finished", type=int)
    f.add_argument("--until-audit", type=int)
    f.add_argument("--until-resyncs", type=int)
    f.add_argument("--for", dest="for_seconds", type=float)
    f.add_argument("--timeout", type=float, default=60)
    f.add_argument("--settle", type=float, default=1.0)
    f.set_defaults(run=cmd_follow)

    s = sp.add_parser("slow")
    s.add_argument("--control", required=True)
    s.add_argument("--key-file")
    s.add_argument("--key")
    s.add_argument("--out", required=True)
    s.add_argument("--commands", type=int, default=20000)
    s.add_argument("--pool")
    s.add_argument("--hwm", type=int, default=10)
    s.add_argument("--rcvbuf", type=int, default=4096)
    s.add_argument("--window", type=int, default=64)
    s.add_argument("--pad", type=int, default=600)
    s.add_argument("--pause", type=float, default=0.5)
    s.add_argument("--settle", type=float, default=1.0)
    s.add_argument("--timeout", type=float, default=90)
    s.set_defaults(run=cmd_slow)

    j = sp.add_parser("json")
    j.add_argument("-n", action="store_true")
    j.add_argument("--lines", action="store_true")
    j.add_argument("expr")
    j.add_argument("file", nargs="?")
    j.set_defaults(run=cmd_json)

    a = p.parse_args()
    ctx = zmq.Context()
    try:
        return a.run(ctx, a)
    except (Timeout, ValueError, KeyError) as e:
        note("%s: %s" % (a.cmd, e))
        return 3
    finally:
        ctx.destroy(0)


if __name__ == "__main__":
    sys.exit(main())
