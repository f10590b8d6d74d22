#!/usr/bin/python3
"""curve-client.py: a client of beekeeperd's bus with or without CURVE,
written from beekeeper-protocol(7), for the regress tests.

    curve-client.py has-curve
    curve-client.py request --control EP [KEYS] [--timeout S]
                            [--wait-for FILE] JSON...
    curve-client.py sub --publish EP [KEYS] [--timeout S]
    curve-client.py subscribers --publish EP --metrics URL [KEYS]
                                [--timeout S]

KEYS is --pair FILE (a key pair as `beekeeper keygen` writes it) with
--server FILE (the daemon's .pub file); without them the sockets use no
security mechanism.

"has-curve" exits 0 when pyzmq's libzmq has CURVE. "request" sends each
JSON on one REQ socket and prints each reply on a line; it exits 2 when a
reply does not come within the timeout. With --wait-for, every JSON but
the first waits until FILE exists (10 s at most): the connection stays
open while the test changes the daemon. "sub" subscribes to everything
and prints the topic of the first message; exit 2 when none comes.
"subscribers" connects two SUB sockets, then prints the value of
beekeeper_bus_subscribers once it is 2, closes one and prints it once it
is 1 (or, at the deadline, whatever it was then).
"""

import argparse
import os
import sys
import time
import urllib.request

import zmq


def read_keys(path):
    keys = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" in line:
                name, value = line.split("=", 1)
                keys[name.strip()] = value.strip()
            else:
                keys["public-key"] = line
    return keys


def secure(sock, args):
    if args.pair is None:
        return
    pair = read_keys(args.pair)
    server = read_keys(args.server)
    sock.curve_publickey = pair["public-key"].encode()
    sock.curve_secretkey = pair["secret-key"].encode()
    sock.curve_serverkey = server["public-key"].encode()


def socket(ctx, kind, args):
    s = ctx.socket(kind)
    s.linger = 0
    secure(s, args)
    return s


def cmd_request(ctx, args):
    s = socket(ctx, zmq.REQ, args)
    s.rcvtimeo = int(args.timeout * 1000)
    s.connect(args.control)
    for i, frame in enumerate(args.json):
        deadline = time.monotonic() + 10
        while (i > 0 and args.wait_for is not None
               and not os.path.exists(args.wait_for)
               and time.monotonic() < deadline):
            time.sleep(0.05)
        s.send_string(frame)
        try:
            print(s.recv_string(), flush=True)
        except zmq.Again:
            print("curve-client: no reply in %g s" % args.timeout,
                  file=sys.stderr)
            return 2
    return 0


def cmd_sub(ctx, args):
    s = socket(ctx, zmq.SUB, args)
    s.subscribe(b"")
    s.connect(args.publish)
    if s.poll(int(args.timeout * 1000)) == 0:
        print("curve-client: nothing received in %g s" % args.timeout,
              file=sys.stderr)
        return 2
    print(s.recv_multipart()[0].decode())
    return 0


def subscribers(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("beekeeper_bus_subscribers "):
                return int(line.split()[1])
    return None


def wait_for(url, want, deadline):
    n = subscribers(url)
    while n != want and time.monotonic() < deadline:
        time.sleep(0.05)
        n = subscribers(url)
    return n


def cmd_subscribers(ctx, args):
    deadline = time.monotonic() + args.timeout
    subs = []
    for _ in range(2):
        s = socket(ctx, zmq.SUB, args)
        s.subscribe(b"")
        s.connect(args.publish)
        subs.append(s)
    print(wait_for(args.metrics, 2, deadline), flush=True)
    subs.pop().close()
    print(wait_for(args.metrics, 1, deadline), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["has-curve", "request", "sub",
                                   "subscribers"])
    p.add_argument("json", nargs="*")
    p.add_argument("--control")
    p.add_argument("--publish")
    p.add_argument("--metrics")
    p.add_argument("--pair")
    p.add_argument("--server")
    p.add_argument("--timeout", type=float, default=3)
    p.add_argument("--wait-for")
    args = p.parse_intermixed_args()
    if args.cmd == "has-curve":
        return 0 if zmq.has("curve") else 1
    ctx = zmq.Context()
    try:
        return {"request": cmd_request, "sub": cmd_sub,
                "subscribers": cmd_subscribers}[args.cmd](ctx, args)
    finally:
        ctx.destroy(linger=0)


if __name__ == "__main__":
    sys.exit(main())
