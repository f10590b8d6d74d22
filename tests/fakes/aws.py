#!/usr/bin/python3
# aws.py: a double of AWS EC2, ECS and CloudWatch Logs for the daemon's
# tests.
#
# One loopback HTTP server answers the three services on one port, told
# apart as AWS tells them apart: EC2's Query API is "POST /" with a form
# body "Action=...&Version=2016-11-15" and answers XML in the 2016-11-15
# namespace; ECS and CloudWatch Logs are JSON 1.1, named by the
# X-Amz-Target header (AmazonEC2ContainerServiceV20141113.ACTION,
# Logs_20140328.ACTION). Every AWS request must carry a valid Signature
# Version 4 Authorization header, checked here with hmac and hashlib from
# AWS's published algorithm, independently of the daemon's signer. It is
# itself checked by a real client written by others, Debian's AWS CLI
# (tests/regress/70-aws-double.sh). Python's standard library only; run
# it with /usr/bin/python3.
#
# Usage:
#   aws.py [--port N] [--log FILE] [--state FILE] [--access-key ID]
#       [--secret-key KEY] [--session-token TOKEN] [--region REGION]
#       [--boot-delay S] [--register-delay S] [--task-delay S]
#       [--terminate-delay S] [--imds-role NAME] [--imds-ttl S]
#   aws.py --self-test DIR
#
#   --port N        listen on 127.0.0.1:N (0, the default: ephemeral);
#                   prints "listening on 127.0.0.1:PORT" once bound
#   --log FILE      append one JSON line per AWS request: time, service,
#                   action, key (the access key id), params (the request's
#                   key parameters; user data, environment values and the
#                   signature are never written), status, outcome ("ok"
#                   or the error code)
#   --state FILE    after each change, write what GET /_fake/state shows
#                   (replaced atomically)
#   --access-key ID, --secret-key KEY
#                   the one credential accepted (AKIDEXAMPLE and
#                   wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, the keys of
#                   AWS's documentation, by default)
#   --session-token TOKEN
#                   require X-Amz-Security-Token equal to TOKEN; without
#                   it any token is accepted, but when one is sent it must
#                   be signed
#   --region REGION the credential scope's region (us-east-1)
#   --boot-delay S  pending to running (0.5 s)
#   --register-delay S
#                   running to its container instance registered (0.5 s)
#   --task-delay S  a task's PENDING to RUNNING (0.2 s)
#   --terminate-delay S
#                   shutting-down to terminated (0.5 s)
#   --imds-role NAME
#                   the instance role the metadata service names
#                   (beekeeper-test)
#   --imds-ttl S    how long the role's credentials last (21600 s)
#   --self-test DIR check the verifier on one case of AWS's SigV4 test
#                   suite (context.json, header-signed-request.txt,
#                   header-canonical-request.txt, header-string-to-sign.txt):
#                   prints "ok canonical-request", "ok string-to-sign",
#                   "ok signature" and "ok tampered-refused", or "not ok
#                   ..." lines and exits 1
#
# Signatures. The scope must be DATE/REGION/SERVICE/aws4_request with the
# service of the endpoint (ec2, ecs, logs), X-Amz-Date within 15 minutes,
# host and x-amz-date signed (and x-amz-security-token when sent), the
# payload hash that of the body (x-amz-content-sha256, when sent, must
# equal it). Refusals are AWS's: EC2 answers XML Response/Errors/Error
# with IncompleteSignature (400), AuthFailure (401: unknown key, wrong
# token, no Authorization), RequestExpired (400) or SignatureDoesNotMatch
# (403); ECS and Logs answer {"__type", "message"} with
# IncompleteSignatureException (400), MissingAuthenticationTokenException
# (400), UnrecognizedClientException (403), InvalidSignatureException
# (403; 400 for an expired signature), their __type prefixed
# "com.amazon.coral.service#" as AWS's front end does (a client must keep
# what follows the "#"); errors of the services themselves are bare names.
#
# EC2 (Query API, 2016-11-15):
#   RunInstances        ImageId, InstanceType, MinCount, MaxCount (MaxCount
#                       instances in one reservation), UserData (base64),
#                       TagSpecification.N (instance), IamInstanceProfile.Arn
#                       or .Name, SubnetId, SecurityGroupId.N,
#                       InstanceMarketOptions.MarketType=spot (lifecycle
#                       "spot"), ClientToken (a repeat returns the first
#                       reservation; other parameters with the same token:
#                       IdempotentParameterMismatch)
#   DescribeInstances   InstanceId.N (an unknown one:
#                       InvalidInstanceID.NotFound), Filter.N with tag:KEY,
#                       tag-key, tag-value, instance-state-name,
#                       instance-id, instance-type, instance-lifecycle,
#                       reservation-id (values may hold * and ?),
#                       MaxResults (5 to 1000, not with InstanceId, as EC2)
#                       and NextToken; pages count instances, oldest first
#   TerminateInstances  shutting-down, then terminated; previous and current
#                       state
#   CreateTags          ResourceId.N (instances), Tag.N.Key/Value
# An instance is pending, then running after --boot-delay. If its user data
# holds a line with ECS_CLUSTER=NAME, its container instance registers in
# cluster NAME (which then exists) --register-delay later; without one no
# agent runs on it. Terminated instances stay visible, as in EC2.
#
# ECS (JSON 1.1):
#   RegisterTaskDefinition  family, containerDefinitions (name, image,
#                       command, entryPoint, environment, cpu, memory or
#                       memoryReservation (one is required without a task
#                       memory), essential, logConfiguration), cpu, memory;
#                       revisions count up per family
#   DescribeTaskDefinition  FAMILY (latest), FAMILY:REV or the ARN
#   StartTask           cluster, taskDefinition, containerInstances (ids or
#                       ARNs; the task is placed on each one given),
#                       overrides.containerOverrides (name, command,
#                       environment), startedBy; failures MISSING for an
#                       unknown container instance, RESOURCE:CPU or
#                       RESOURCE:MEMORY when it is full
#   DescribeTasks       at most 100 ids or ARNs; failures MISSING
#   StopTask            task, reason
#   ListTasks           containerInstance, desiredStatus (RUNNING, the
#                       default, or STOPPED), startedBy, maxResults (1 to
#                       100), nextToken
#   ListContainerInstances  status, maxResults (1 to 100), nextToken (the
#                       "filter" query language is refused)
#   DescribeContainerInstances  ec2InstanceId, status, agentConnected,
#                       runningTasksCount, pendingTasksCount, registered
#                       and remaining CPU and MEMORY
#   UpdateContainerInstancesState  status ACTIVE or DRAINING
# A task is PENDING, then RUNNING after --task-delay, then STOPPED. Its
# containers really run here, each in the task's fresh temporary directory
# with PATH, HOME (that directory) and the definition's then the override's
# environment, nothing of this process's environment: the argv is
# entryPoint + command, and a single-string command without an entry point
# runs as "/bin/sh -c STRING". Each line of output (stdout and stderr)
# becomes an event of log group awslogs-group, stream
# awslogs-stream-prefix/CONTAINER/TASKID (TASKID alone without a prefix);
# the group is created when missing. When an essential container exits the
# others are stopped and the task STOPPED, stopCode
# EssentialContainerExited, each container's exitCode set (128+N for a
# signal; 127 for a command not found). StopTask sends SIGTERM to each
# container's process group, then SIGKILL 2 s later (stopCode
# UserInitiated). Should this process die, each container's first process
# gets SIGKILL (PR_SET_PDEATHSIG, through /usr/bin/setpriv when present).
# A terminated or vanished instance stops its tasks ("Host EC2 (instance
# ID) terminated.", stopCode TerminationNotice or SpotInterruption) and its
# container instance becomes INACTIVE.
#
# CloudWatch Logs (JSON 1.1):
#   CreateLogGroup      ResourceAlreadyExistsException when it exists
#   GetLogEvents        logGroupName, logStreamName, startFromHead (false:
#                       the last events), limit (10000), startTime,
#                       endTime, nextToken "f/..." (forward) or "b/..."
#                       (backward); at either end the token passed in comes
#                       back; ResourceNotFoundException for a missing group
#                       or stream
#
# The instance metadata service, version 2 only (as on an instance that
# requires it), at the same address, for credentials from an instance role:
#   PUT /latest/api/token   with X-aws-ec2-metadata-token-ttl-seconds (1 to
#                       21600; else 400): a session token, as text
#   GET /latest/meta-data/iam/security-credentials/
#                       with X-aws-ec2-metadata-token: the role's name
#   GET /latest/meta-data/iam/security-credentials/ROLE
#                       the role's credentials as EC2 gives them (Code
#                       "Success", AccessKeyId, SecretAccessKey, Token,
#                       Expiration --imds-ttl from now): the keys this
#                       double accepts, with --session-token's token (or
#                       one made up, which is then accepted)
# A GET without a valid token is 401, an unknown role 404, as EC2's.
#
# Control (not AWS-shaped, not signed, never logged):
#   POST /_fake/fault   {"action":A, "error":E, "count":N}: the next N (1)
#                       signed calls of action A fail. E is an AWS error
#                       code, answered in the service's shape with AWS's
#                       status (EC2: InsufficientInstanceCapacity 500,
#                       InternalError 500, RequestLimitExceeded 503, others
#                       400; JSON: ThrottlingException 400, InternalError,
#                       ServerException, ServiceUnavailableException 500,
#                       others 400), or "500": a bare HTTP 500 with a
#                       non-AWS body, as a broken front end would give
#   POST /_fake/spot-interrupt  {"instance":ID}: a spot instance is
#                       terminated with StateReason
#                       Server.SpotInstanceTermination, its tasks stopped
#   POST /_fake/vanish  {"instance":ID}: the instance is gone from EC2
#                       entirely (its tasks stopped as above)
#   GET  /_fake/state   {"instances", "container_instances", "tasks",
#                       "task_definitions", "log_groups", "faults"}
#   POST /_fake/reset   stop every task, forget everything
# Bad control requests get 400 {"message": ...}.

import argparse
import base64
import datetime
import fnmatch
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

ACCOUNT = "123456789012"
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
ECS_PREFIX = "AmazonEC2ContainerServiceV20141113."
LOGS_PREFIX = "Logs_20140328."
MAX_SKEW = 15 * 60

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32,
               "terminated": 48, "stopping": 64, "stopped": 80}

# Registered CPU units and MiB of memory an ECS agent reports, by type.
RESOURCES = {
    "t3.micro": (2048, 943), "t3.small": (2048, 1939),
    "t3.medium": (2048, 3907), "t3.large": (2048, 7859),
    "m5.large": (2048, 7680), "m5.xlarge": (4096, 15576),
    "c5.large": (2048, 3740), "c5.xlarge": (4096, 7624),
}
DEFAULT_RESOURCES = (2048, 3907)

EC2_STATUS = {"InsufficientInstanceCapacity": 500, "InternalError": 500,
              "RequestLimitExceeded": 503, "Unavailable": 503,
              "AuthFailure": 401, "SignatureDoesNotMatch": 403,
              "UnauthorizedOperation": 403}
# JSON errors raised before the service sees the request carry the
# front end's namespace in __type; the service's own errors do not.
CORAL = {"IncompleteSignatureException", "InvalidSignatureException",
         "MissingAuthenticationTokenException", "UnrecognizedClientException",
         "UnknownOperationException", "SerializationException"}
JSON_STATUS = {"InternalError": 500, "ServerException": 500,
               "ServiceUnavailableException": 500, "InternalFailure": 500}


class AwsError(Exception):
    """An error answered in the service's own shape."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


# ------------------------------------------------------------------ SigV4

class SigError(Exception):
    """Why a signature was refused: kind is incomplete, missing, key,
    token, expired or mismatch."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _uri_encode(s, safe):
    return urllib.parse.quote(s, safe=safe)


def canonical_uri(raw_path):
    # Services other than S3 sign the path normalised, then encoded once
    # more: the path as sent is already encoded, so encode it again.
    segs = []
    for seg in raw_path.split("/"):
        if seg == ".":
            continue
        if seg == "..":
            if segs:
                segs.pop()
            continue
        segs.append(seg)
    path = "/".join(segs)
    if not path.startswith("/"):
        path = "/" + path
    if raw_path.endswith("/") and not path.endswith("/"):
        path += "/"
    path = re.sub("/+", "/", path)
    return _uri_encode(path, "/~")


def canonical_query(raw_query):
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote(k)
        v = urllib.parse.unquote(v)
        pairs.append((_uri_encode(k, "-_.~"), _uri_encode(v, "-_.~")))
    pairs.sort()
    return "&".join(k + "=" + v for k, v in pairs)


def canonical_request(method, raw_path, raw_query, headers, signed,
                      payload_hash):
    """headers: (name, value) pairs as received; signed: lower-case names
    in the order of SignedHeaders."""
    values = {}
    for name, value in headers:
        v = re.sub(r"\s+", " ", value.strip())
        values.setdefault(name.lower(), []).append(v)
    lines = []
    for name in signed:
        if name not in values:
            raise SigError("incomplete",
                           "Signed header %s is missing from the request"
                           % name)
        lines.append(name + ":" + ",".join(values[name]))
    return "\n".join([method, canonical_uri(raw_path),
                      canonical_query(raw_query), "\n".join(lines) + "\n",
                      ";".join(signed), payload_hash])


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(),
                 hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise SigError("incomplete",
                       "Authorization header requires the algorithm "
                       "AWS4-HMAC-SHA256")
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, eq, v = part.strip().partition("=")
        if not eq:
            raise SigError("incomplete",
                           "Authorization header requires 'Credential', "
                           "'SignedHeaders' and 'Signature'")
        fields[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(k):
            raise SigError("incomplete",
                           "Authorization header requires '%s' parameter"
                           % k)
    cred = fields["Credential"].split("/")
    if len(cred) != 5 or cred[4] != "aws4_request":
        raise SigError("incomplete",
                       "Credential must have exactly 5 slash-delimited "
                       "elements, e.g. keyid/date/region/service/term, "
                       "got '%s'" % fields["Credential"])
    return cred, fields["SignedHeaders"].split(";"), fields["Signature"]


def verify(method, raw_path, raw_query, headers, body, access_key, secret,
           region, service, now=None, session_token=None):
    """Check a request's SigV4 Authorization header; return (key id,
    canonical request, string to sign) or raise SigError."""
    hdr = {}
    for name, value in headers:
        hdr.setdefault(name.lower(), value.strip())
    auth = hdr.get("authorization")
    if auth is None:
        raise SigError("missing", "Missing Authentication Token")
    cred, signed, signature = parse_authorization(auth)
    key_id, date, cred_region, cred_service, _ = cred
    amz_date = hdr.get("x-amz-date")
    if amz_date is None:
        raise SigError("incomplete",
                       "Authorization header requires existence of either "
                       "a 'X-Amz-Date' or a 'Date' header")
    for need in ("host", "x-amz-date"):
        if need not in signed:
            raise SigError("incomplete",
                           "'%s' must be a signed header" % need)
    if "x-amz-security-token" in hdr and \
            "x-amz-security-token" not in signed:
        raise SigError("incomplete",
                       "'x-amz-security-token' must be a signed header")
    if signed != sorted(signed):
        raise SigError("mismatch", "SignedHeaders are not sorted")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        when = when.replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise SigError("incomplete", "Invalid X-Amz-Date '%s'" % amz_date)
    if key_id != access_key:
        raise SigError("key", "The security token included in the request "
                       "is invalid.")
    if session_token is not None and \
            hdr.get("x-amz-security-token") != session_token:
        raise SigError("token", "The security token included in the "
                       "request is invalid.")
    if now is not None and abs(now - when) > MAX_SKEW:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        raise SigError("expired",
                       "Signature expired: %s is now earlier than %s "
                       "(%s - 15 min.)" % (amz_date, stamp, stamp))
    if date != amz_date[:8]:
        raise SigError("mismatch", "Date in Credential scope does not "
                       "match YYYYMMDD from ISO-8601 version of date from "
                       "HTTP: '%s' != '%s', from '%s'."
                       % (date, amz_date[:8], amz_date))
    if cred_region != region:
        raise SigError("mismatch", "Credential should be scoped to a valid "
                       "region, not '%s'." % cred_region)
    if cred_service != service:
        raise SigError("mismatch", "Credential should be scoped to correct "
                       "service: '%s'." % service)
    payload_hash = hashlib.sha256(body).hexdigest()
    sent = hdr.get("x-amz-content-sha256")
    if sent is not None and sent != payload_hash:
        raise SigError("mismatch", "The provided 'x-amz-content-sha256' "
                       "header does not match what was computed.")
    creq = canonical_request(method, raw_path, raw_query, headers, signed,
                             payload_hash)
    scope = "/".join([date, cred_region, cred_service, "aws4_request"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    want = hmac.new(signing_key(secret, date, cred_region, cred_service),
                    sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, signature):
        raise SigError("mismatch", "The request signature we calculated "
                       "does not match the signature you provided. Check "
                       "your AWS Secret Access Key and signing method. "
                       "Consult the service documentation for details.")
    return key_id, creq, sts


def self_test(case):
    """Check verify() against one case of AWS's SigV4 test suite."""
    with open(os.path.join(case, "context.json")) as f:
        ctx = json.load(f)
    with open(os.path.join(case, "header-signed-request.txt"), "rb") as f:
        raw = f.read().decode()
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    method, target, _ = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value))
    length = [v for n, v in headers if n.lower() == "content-length"]
    body = body.encode()[:int(length[0])] if length else b""
    path, _, query = target.partition("?")
    cr = ctx["credentials"]
    want = {}
    for name in ("canonical-request", "string-to-sign", "signature"):
        with open(os.path.join(case, "header-%s.txt" % name)) as f:
            want[name] = f.read()
    failed = 0

    def check(ok, what, why=""):
        nonlocal failed
        if ok:
            print("ok " + what)
        else:
            failed += 1
            print("not ok " + what + (": " + why if why else ""))

    try:
        _, creq, sts = verify(method, path, query, headers, body,
                              cr["access_key_id"], cr["secret_access_key"],
                              ctx["region"], ctx["service"],
                              session_token=cr.get("token"))
        check(creq == want["canonical-request"], "canonical-request",
              repr(creq))
        check(sts == want["string-to-sign"], "string-to-sign", repr(sts))
        check(want["signature"].strip() in
              dict(headers).get("Authorization", ""), "signature")
    except SigError as e:
        for name in ("canonical-request", "string-to-sign", "signature"):
            check(False, name, e.message)
    try:
        verify(method, path, query, headers, body, cr["access_key_id"],
               cr["secret_access_key"] + "x", ctx["region"], ctx["service"])
        check(False, "tampered-refused", "a wrong secret was accepted")
    except SigError as e:
        check(e.kind == "mismatch", "tampered-refused", e.message)
    return 1 if failed else 0


# ------------------------------------------------------------------ state

def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


def hexid(n):
    return uuid.uuid4().hex[:n]


def qlist(params, prefix):
    """The members of a Query API list: PREFIX.N or PREFIX.N.SUB keys as a
    list (in N order) of {SUB: value} ({"": value} for scalars)."""
    groups = {}
    for k, v in params.items():
        if k.startswith(prefix + "."):
            idx, _, sub = k[len(prefix) + 1:].partition(".")
            if idx.isdigit():
                groups.setdefault(int(idx), {})[sub] = v
    return [groups[i] for i in sorted(groups)]


def scalars(params, prefix):
    return [g[""] for g in qlist(params, prefix) if "" in g]


class World:
    """Everything the double knows, guarded by one lock."""

    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.RLock()
        self.dirty = False
        self.saved_at = 0
        self.reset()

    def reset(self):
        self.instances = {}         # id -> dict, in launch order
        self.tokens = {}            # client token -> (params, reservation)
        self.clusters = set()
        self.cis = {}               # container instance id -> dict
        self.taskdefs = {}          # family -> [revisions]
        self.tasks = {}             # task id -> dict
        self.groups = {}            # log group -> {stream: [events]}
        self.faults = {}            # action -> [error, count]
        self.dirty = True

    def arn(self, kind, rest):
        return "arn:aws:ecs:%s:%s:%s/%s" % (self.opts.region, ACCOUNT,
                                            kind, rest)

    # -- time passes

    def advance(self, now=None):
        now = time.time() if now is None else now
        o = self.opts
        for inst in list(self.instances.values()):
            if inst["state"] == "pending" and \
                    now >= inst["launched"] + o.boot_delay:
                inst["state"] = "running"
                inst["running_at"] = now
                self.dirty = True
            if inst["state"] == "running" and inst["cluster"] and \
                    inst["ci"] is None and \
                    now >= inst["running_at"] + o.register_delay:
                self.register(inst, now)
            if inst["state"] == "shutting-down" and \
                    now >= inst["stop_at"]:
                inst["state"] = "terminated"
                self.dirty = True
                self.deregister(inst)

    def register(self, inst, now):
        cid = hexid(32)
        cpu, mem = RESOURCES.get(inst["type"], DEFAULT_RESOURCES)
        self.clusters.add(inst["cluster"])
        self.cis[cid] = {
            "id": cid, "cluster": inst["cluster"],
            "arn": self.arn("container-instance",
                            inst["cluster"] + "/" + cid),
            "instance": inst["id"], "status": "ACTIVE",
            "registered": now, "cpu": cpu, "memory": mem,
            "type": inst["type"], "connected": True, "version": 1,
        }
        inst["ci"] = cid
        self.dirty = True

    def deregister(self, inst):
        ci = self.cis.get(inst["ci"]) if inst["ci"] else None
        if ci and ci["status"] != "INACTIVE":
            ci["status"] = "INACTIVE"
            ci["connected"] = False
            ci["version"] += 1
            self.dirty = True

    def host_gone(self, inst, code):
        """The instance went away: stop its tasks as ECS does."""
        cid = inst["ci"]
        if cid is None:
            return
        self.cis[cid]["connected"] = False
        for t in self.tasks.values():
            if t["ci"] == cid:
                stop_task(self, t, "Host EC2 (instance %s) terminated."
                          % inst["id"], code)

    def terminate(self, inst, reason, code, message, now):
        if inst["state"] in ("shutting-down", "terminated"):
            return
        inst["state"] = "shutting-down"
        inst["stop_at"] = now + self.opts.terminate_delay
        inst["reason"] = reason
        inst["state_reason"] = (code, message)
        self.host_gone(inst, "SpotInterruption"
                       if code.startswith("Server.Spot")
                       else "TerminationNotice")
        self.dirty = True

    def snapshot(self):
        insts = []
        for i in self.instances.values():
            d = dict(i)
            d["user_data"] = d["user_data"].decode("utf-8", "replace")
            insts.append(d)
        return {
            "instances": insts,
            "container_instances": [dict(c) for c in self.cis.values()],
            "tasks": [task_json(self, t) for t in self.tasks.values()],
            "task_definitions": [td for revs in self.taskdefs.values()
                                 for td in revs],
            "log_groups": {g: {s: len(e) for s, e in st.items()}
                           for g, st in self.groups.items()},
            "faults": {a: {"error": e, "count": n}
                       for a, (e, n) in self.faults.items()},
        }

    def save(self):
        """Write --state, at most twice a second: the dump grows with the
        tasks, and the lock is held while it is written."""
        if not self.dirty or not self.opts.state:
            self.dirty = False
            return
        if time.time() - self.saved_at < 0.5:
            return      # the ticker writes it soon
        self.saved_at = time.time()
        self.dirty = False
        tmp = self.opts.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.snapshot(), f, indent=1, default=str)
        os.replace(tmp, self.opts.state)


# --------------------------------------------------------------------- EC2

def instance_xml(inst):
    tags = "".join("<item><key>%s</key><value>%s</value></item>"
                   % (escape(k), escape(v))
                   for k, v in inst["tags"].items())
    groups = "".join("<item><groupId>%s</groupId><groupName>%s</groupName>"
                     "</item>" % (escape(g), escape(g))
                     for g in inst["groups"])
    x = ["<item>",
         "<instanceId>%s</instanceId>" % inst["id"],
         "<imageId>%s</imageId>" % escape(inst["image"]),
         "<instanceState><code>%d</code><name>%s</name></instanceState>"
         % (STATE_CODES[inst["state"]], inst["state"]),
         "<privateDnsName>%s</privateDnsName>" % inst["dns"],
         "<dnsName/>",
         "<reason>%s</reason>" % escape(inst["reason"]),
         "<amiLaunchIndex>%d</amiLaunchIndex>" % inst["index"],
         "<productCodes/>",
         "<instanceType>%s</instanceType>" % escape(inst["type"]),
         "<launchTime>%s</launchTime>" % iso(inst["launched"]),
         "<placement><availabilityZone>%sa</availabilityZone>"
         "<groupName/><tenancy>default</tenancy></placement>"
         % escape(inst["region"]),
         "<monitoring><state>disabled</state></monitoring>"]
    if inst["subnet"]:
        x.append("<subnetId>%s</subnetId>" % escape(inst["subnet"]))
        x.append("<vpcId>vpc-0f00f00f00f00f00f</vpcId>")
    if inst["state"] != "terminated":
        x.append("<privateIpAddress>%s</privateIpAddress>" % inst["ip"])
    x += ["<groupSet>%s</groupSet>" % groups,
          "<architecture>x86_64</architecture>",
          "<rootDeviceType>ebs</rootDeviceType>",
          "<rootDeviceName>/dev/xvda</rootDeviceName>",
          "<blockDeviceMapping/>",
          "<virtualizationType>hvm</virtualizationType>",
          "<clientToken>%s</clientToken>" % escape(inst["token"])]
    if tags:
        x.append("<tagSet>%s</tagSet>" % tags)
    x.append("<hypervisor>xen</hypervisor>")
    if inst["spot"]:
        x.append("<instanceLifecycle>spot</instanceLifecycle>")
        x.append("<spotInstanceRequestId>%s</spotInstanceRequestId>"
                 % inst["spot"])
    if inst["profile"]:
        x.append("<iamInstanceProfile><arn>%s</arn><id>%s</id>"
                 "</iamInstanceProfile>" % (escape(inst["profile"]),
                                            inst["profile_id"]))
    if inst["state_reason"]:
        x.append("<stateReason><code>%s</code><message>%s</message>"
                 "</stateReason>" % tuple(map(escape,
                                              inst["state_reason"])))
    x.append("</item>")
    return "".join(x)


def reservations_xml(insts):
    order = []
    by = {}
    for i in insts:
        if i["reservation"] not in by:
            by[i["reservation"]] = []
            order.append(i["reservation"])
        by[i["reservation"]].append(i)
    return "".join(
        "<item><reservationId>%s</reservationId><ownerId>%s</ownerId>"
        "<groupSet/><instancesSet>%s</instancesSet></item>"
        % (r, ACCOUNT, "".join(instance_xml(i) for i in by[r]))
        for r in order)


def ec2_run_instances(w, p, now):
    image = p.get("ImageId")
    if not image:
        raise AwsError("MissingParameter", "The request must contain the "
                       "parameter ImageId")
    if not re.match(r"^ami-[0-9a-f]{8,17}$", image):
        raise AwsError("InvalidAMIID.Malformed",
                       "Invalid id: \"%s\" (expecting \"ami-...\")" % image)
    try:
        lo = int(p.get("MinCount", ""))
        hi = int(p.get("MaxCount", ""))
    except ValueError:
        raise AwsError("MissingParameter", "The request must contain the "
                       "parameters MinCount and MaxCount")
    if lo < 1 or hi < lo:
        raise AwsError("InvalidParameterValue", "Invalid value '%d' for "
                       "minCount/maxCount" % lo)
    token = p.get("ClientToken", "")
    mine = {k: v for k, v in p.items() if k != "ClientToken"}
    if token and token in w.tokens:
        params, rid = w.tokens[token]
        if params != mine:
            raise AwsError("IdempotentParameterMismatch",
                           "Arguments on this idempotent request are "
                           "inconsistent with arguments used in previous "
                           "request(s).")
        return rid, [i for i in w.instances.values()
                     if i["reservation"] == rid]
    try:
        user_data = base64.b64decode(p.get("UserData", ""), validate=True)
    except ValueError:
        raise AwsError("InvalidParameterValue",
                       "Invalid BASE64 encoding of user data.")
    tags = {}
    for spec in qlist(p, "TagSpecification"):
        if spec.get("ResourceType") != "instance":
            continue
        for t in qlist(spec, "Tag"):
            if not t.get("Key"):
                raise AwsError("InvalidParameterValue",
                               "Tag keys must not be empty")
            tags[t["Key"]] = t.get("Value", "")
    spot = p.get("InstanceMarketOptions.MarketType") == "spot"
    profile = p.get("IamInstanceProfile.Arn") or ""
    if not profile and p.get("IamInstanceProfile.Name"):
        profile = "arn:aws:iam::%s:instance-profile/%s" % (
            ACCOUNT, p["IamInstanceProfile.Name"])
    m = re.search(rb"ECS_CLUSTER=([A-Za-z0-9_-]+)", user_data)
    rid = "r-" + hexid(17)
    out = []
    for n in range(hi):
        iid = "i-" + hexid(17)
        octets = (len(w.instances) // 250 + 1, len(w.instances) % 250 + 2)
        inst = {
            "id": iid, "reservation": rid, "image": image,
            "type": p.get("InstanceType", "m1.small"), "state": "pending",
            "launched": now, "running_at": None, "stop_at": None,
            "index": n, "tags": dict(tags), "user_data": user_data,
            "cluster": m.group(1).decode() if m else None, "ci": None,
            "subnet": p.get("SubnetId", ""),
            "groups": scalars(p, "SecurityGroupId"),
            "profile": profile,
            "profile_id": "AIPA" + hexid(17).upper() if profile else "",
            "spot": "sir-" + hexid(8) if spot else "",
            "token": token, "reason": "", "state_reason": None,
            "ip": "10.0.%d.%d" % octets, "region": w.opts.region,
            "dns": "ip-10-0-%d-%d.ec2.internal" % octets,
        }
        w.instances[iid] = inst
        out.append(inst)
    if token:
        w.tokens[token] = (mine, rid)
    w.dirty = True
    return rid, out


def ec2_filter(inst, name, values):
    def any_match(got):
        return any(fnmatch.fnmatchcase(g, v) for g in got for v in values)
    if name.startswith("tag:"):
        k = name[4:]
        return k in inst["tags"] and any_match([inst["tags"][k]])
    simple = {"tag-key": list(inst["tags"]),
              "tag-value": list(inst["tags"].values()),
              "instance-state-name": [inst["state"]],
              "instance-id": [inst["id"]],
              "instance-type": [inst["type"]],
              "instance-lifecycle": ["spot"] if inst["spot"] else [],
              "reservation-id": [inst["reservation"]]}
    if name not in simple:
        raise AwsError("InvalidParameterValue",
                       "The filter '%s' is invalid" % name)
    return any_match(simple[name])


def ec2_describe_instances(w, p, now):
    ids = scalars(p, "InstanceId")
    filters = [(f.get("Name", ""), scalars(f, "Value"))
               for f in qlist(p, "Filter")]
    limit = p.get("MaxResults")
    if limit is not None:
        if ids:
            raise AwsError("InvalidParameterCombination",
                           "The parameter instancesSet cannot be used with "
                           "the parameter maxResults")
        try:
            limit = int(limit)
        except ValueError:
            limit = 0
        if not 5 <= limit <= 1000:
            raise AwsError("InvalidParameterValue",
                           "Value ( %s ) for parameter maxResults is "
                           "invalid. Expecting a value between 5 and 1000."
                           % p["MaxResults"])
    for i in ids:
        if i not in w.instances:
            if not re.match(r"^i-[0-9a-f]{8,17}$", i):
                raise AwsError("InvalidInstanceID.Malformed",
                               "Invalid id: \"%s\"" % i)
            raise AwsError("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % i)
    found = [i for i in w.instances.values()
             if (not ids or i["id"] in ids) and
             all(ec2_filter(i, n, v) for n, v in filters)]
    start = 0
    if p.get("NextToken"):
        try:
            start = int(base64.b64decode(p["NextToken"]).decode()
                        .split(":")[1])
        except (ValueError, IndexError):
            raise AwsError("InvalidParameterValue",
                           "The token '%s' is invalid." % p["NextToken"])
    page = found[start:start + limit] if limit else found[start:]
    body = "<reservationSet>%s</reservationSet>" % reservations_xml(page)
    if limit and start + limit < len(found):
        tok = base64.b64encode(("instances:%d" % (start + limit)).encode())
        body += "<nextToken>%s</nextToken>" % tok.decode()
    return body


def ec2_instances(w, p):
    ids = scalars(p, "InstanceId") or scalars(p, "ResourceId")
    out = []
    for i in ids:
        if i not in w.instances:
            raise AwsError("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % i)
        out.append(w.instances[i])
    return out


def ec2_terminate_instances(w, p, now):
    if not scalars(p, "InstanceId"):
        raise AwsError("MissingParameter", "The request must contain the "
                       "parameter InstanceId")
    items = []
    stamp = time.strftime("%Y-%m-%d %H:%M:%S GMT", time.gmtime(now))
    for inst in ec2_instances(w, p):
        before = inst["state"]
        w.terminate(inst, "User initiated (%s)" % stamp,
                    "Client.UserInitiatedShutdown",
                    "Client.UserInitiatedShutdown: User initiated shutdown",
                    now)
        items.append(
            "<item><instanceId>%s</instanceId><currentState><code>%d"
            "</code><name>%s</name></currentState><previousState><code>%d"
            "</code><name>%s</name></previousState></item>"
            % (inst["id"], STATE_CODES[inst["state"]], inst["state"],
               STATE_CODES[before], before))
    return "<instancesSet>%s</instancesSet>" % "".join(items)


def ec2_create_tags(w, p, now):
    if not scalars(p, "ResourceId"):
        raise AwsError("MissingParameter", "The request must contain the "
                       "parameter resourceIdSet")
    tags = [(t.get("Key", ""), t.get("Value", "")) for t in qlist(p, "Tag")]
    if not tags or any(not k for k, _ in tags):
        raise AwsError("InvalidParameterValue", "Tag keys must not be "
                       "empty")
    for inst in ec2_instances(w, p):
        for k, v in tags:
            if k.startswith("aws:"):
                raise AwsError("InvalidParameterValue", "Tag keys starting "
                               "with 'aws:' are reserved for internal use")
            inst["tags"][k] = v
    w.dirty = True
    return "<return>true</return>"


def ec2_run(w, p, now):
    rid, insts = ec2_run_instances(w, p, now)
    return ("<reservationId>%s</reservationId><ownerId>%s</ownerId>"
            "<groupSet/><instancesSet>%s</instancesSet>"
            % (rid, ACCOUNT, "".join(instance_xml(i) for i in insts)))


EC2_ACTIONS = {
    "RunInstances": ec2_run,
    "DescribeInstances": ec2_describe_instances,
    "TerminateInstances": ec2_terminate_instances,
    "CreateTags": ec2_create_tags,
}


# --------------------------------------------------------------------- ECS

def cluster_name(w, ref, must_exist=True):
    name = ref or "default"
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    if must_exist and name not in w.clusters:
        raise AwsError("ClusterNotFoundException", "Cluster not found.")
    return name


def find_ci(w, cluster, ref):
    cid = ref.rsplit("/", 1)[-1]
    ci = w.cis.get(cid)
    return ci if ci and ci["cluster"] == cluster else None


def find_taskdef(w, ref):
    if not isinstance(ref, str) or not ref:
        raise AwsError("ClientException", "Unable to describe task "
                       "definition.")
    name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
    family, _, rev = name.partition(":")
    revs = w.taskdefs.get(family, [])
    if rev:
        for td in revs:
            if str(td["revision"]) == rev:
                return td
    else:
        active = [td for td in revs if td["status"] == "ACTIVE"]
        if active:
            return active[-1]
    raise AwsError("ClientException", "Unable to describe task definition.")


def need(body, key, kind=str):
    v = body.get(key)
    if v is None:
        raise AwsError("InvalidParameterException",
                       "%s can not be blank." % key)
    if not isinstance(v, kind):
        raise AwsError("SerializationException", None)
    return v


def ecs_register_task_definition(w, b, now):
    family = need(b, "family")
    if not re.match(r"^[A-Za-z0-9_-]{1,255}$", family):
        raise AwsError("ClientException", "Family contains invalid "
                       "characters.")
    defs = need(b, "containerDefinitions", list)
    if not defs:
        raise AwsError("ClientException", "Container list cannot be "
                       "empty.")
    out = []
    for c in defs:
        if not isinstance(c, dict) or not c.get("name"):
            raise AwsError("ClientException", "Container.name should not "
                           "be null or empty.")
        if not c.get("image"):
            raise AwsError("ClientException", "Container.image should not "
                           "be null or empty.")
        if not b.get("memory") and not c.get("memory") and \
                not c.get("memoryReservation"):
            raise AwsError("ClientException", "Invalid setting for "
                           "container '%s'. At least one of 'memory' or "
                           "'memoryReservation' must be specified."
                           % c["name"])
        c = dict(c)
        for k, v in (("cpu", 0), ("portMappings", []), ("essential", True),
                     ("environment", []), ("mountPoints", []),
                     ("volumesFrom", [])):
            c.setdefault(k, v)
        out.append(c)
    revs = w.taskdefs.setdefault(family, [])
    rev = len(revs) + 1
    td = {k: v for k, v in b.items() if k != "tags"}
    td.update({
        "taskDefinitionArn": w.arn("task-definition",
                                   "%s:%d" % (family, rev)),
        "containerDefinitions": out, "family": family, "revision": rev,
        "volumes": b.get("volumes", []), "status": "ACTIVE",
        "placementConstraints": b.get("placementConstraints", []),
        "compatibilities": ["EXTERNAL", "EC2"],
        "requiresAttributes": [
            {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
            {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"}],
        "registeredAt": now,
        "registeredBy": "arn:aws:iam::%s:user/beekeeper" % ACCOUNT,
    })
    revs.append(td)
    w.dirty = True
    return {"taskDefinition": td, "tags": b.get("tags", [])}


def ecs_describe_task_definition(w, b, now):
    return {"taskDefinition": find_taskdef(w, b.get("taskDefinition")),
            "tags": []}


def reserved(td, c):
    """CPU units and MiB a container holds on its instance."""
    return c.get("cpu") or 0, c.get("memory") or \
        c.get("memoryReservation") or 0


def ci_usage(w, ci):
    cpu = mem = 0
    for t in w.tasks.values():
        if t["ci"] == ci["id"] and t["lastStatus"] != "STOPPED":
            cpu += t["_cpu"]
            mem += t["_mem"]
    return cpu, mem


def task_json(w, t):
    return {k: v for k, v in t.items()
            if not k.startswith("_") and k != "ci" and v is not None}


def ecs_start_task(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    td = find_taskdef(w, need(b, "taskDefinition"))
    refs = need(b, "containerInstances", list)
    if not 1 <= len(refs) <= 10:
        raise AwsError("InvalidParameterException", "instanceIds can have "
                       "at most 10 items.")
    ovr = b.get("overrides") or {}
    by_name = {o.get("name"): o for o in ovr.get("containerOverrides", [])}
    for name in by_name:
        if name not in [c["name"] for c in td["containerDefinitions"]]:
            raise AwsError("InvalidParameterException", "Override for "
                           "container named %s is not a container in the "
                           "TaskDefinition." % name)
    cpu = sum(reserved(td, c)[0] for c in td["containerDefinitions"])
    mem = sum(reserved(td, c)[1] for c in td["containerDefinitions"])
    if td.get("memory"):
        mem = max(mem, int(td["memory"]))
    if td.get("cpu"):
        cpu = max(cpu, int(td["cpu"]))
    tasks, failures = [], []
    for ref in refs:
        ci = find_ci(w, cluster, ref)
        if ci is None or ci["status"] == "INACTIVE":
            failures.append({"arn": ref, "reason": "MISSING"})
            continue
        used_cpu, used_mem = ci_usage(w, ci)
        if used_cpu + cpu > ci["cpu"]:
            failures.append({"arn": ci["arn"], "reason": "RESOURCE:CPU"})
            continue
        if used_mem + mem > ci["memory"]:
            failures.append({"arn": ci["arn"], "reason": "RESOURCE:MEMORY"})
            continue
        tid = hexid(32)
        arn = w.arn("task", cluster + "/" + tid)
        t = {
            "taskArn": arn, "clusterArn": w.arn("cluster", cluster),
            "taskDefinitionArn": td["taskDefinitionArn"],
            "containerInstanceArn": ci["arn"], "ci": ci["id"],
            "overrides": {"containerOverrides":
                          ovr.get("containerOverrides", []),
                          "inferenceAcceleratorOverrides": []},
            "lastStatus": "PENDING", "desiredStatus": "RUNNING",
            "cpu": str(cpu), "memory": str(mem),
            "containers": [{
                "containerArn": w.arn("container",
                                      cluster + "/" + tid + "/" +
                                      str(uuid.uuid4())),
                "taskArn": arn, "name": c["name"], "image": c["image"],
                "lastStatus": "PENDING", "networkBindings": [],
                "networkInterfaces": [], "cpu": str(c.get("cpu", 0)),
            } for c in td["containerDefinitions"]],
            "startedBy": b.get("startedBy"), "version": 1,
            "stoppedReason": None, "stopCode": None,
            "createdAt": now, "startedAt": None, "stoppingAt": None,
            "stoppedAt": None, "group": b.get("group") or
            "family:" + td["family"],
            "launchType": "EC2", "attachments": [],
            "availabilityZone": w.opts.region + "a", "tags": [],
            "_cpu": cpu, "_mem": mem, "_td": td, "_id": tid,
            "_by_name": by_name, "_stop": threading.Event(), "_procs": [],
        }
        w.tasks[tid] = t
        tasks.append(t)
        threading.Thread(target=run_task, args=(w, t), daemon=True).start()
    w.dirty = True
    return {"tasks": [task_json(w, t) for t in tasks], "failures": failures}


def find_task(w, cluster, ref):
    t = w.tasks.get(ref.rsplit("/", 1)[-1])
    if t and t["clusterArn"] == w.arn("cluster", cluster):
        return t
    return None


def ecs_describe_tasks(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    refs = need(b, "tasks", list)
    if not refs or len(refs) > 100:
        raise AwsError("InvalidParameterException", "Tasks cannot be empty"
                       if not refs else "Too many tasks were provided. "
                       "Maximum is 100.")
    out, failures = [], []
    for ref in refs:
        t = find_task(w, cluster, ref)
        if t is None:
            failures.append({"arn": ref if ref.startswith("arn:") else
                             w.arn("task", cluster + "/" + ref),
                             "reason": "MISSING"})
        else:
            out.append(task_json(w, t))
    return {"tasks": out, "failures": failures}


def ecs_stop_task(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    t = find_task(w, cluster, need(b, "task"))
    if t is None:
        raise AwsError("InvalidParameterException", "The referenced task "
                       "was not found.")
    stop_task(w, t, b.get("reason") or "Task stopped by user",
              "UserInitiated")
    return {"task": task_json(w, t)}


def ci_json(w, ci):
    cpu, mem = ci_usage(w, ci)
    running = sum(1 for t in w.tasks.values()
                  if t["ci"] == ci["id"] and t["lastStatus"] == "RUNNING")
    pending = sum(1 for t in w.tasks.values()
                  if t["ci"] == ci["id"] and t["lastStatus"] == "PENDING")

    def res(c, m):
        return [{"name": "CPU", "type": "INTEGER", "doubleValue": 0.0,
                 "longValue": 0, "integerValue": c},
                {"name": "MEMORY", "type": "INTEGER", "doubleValue": 0.0,
                 "longValue": 0, "integerValue": m},
                {"name": "PORTS", "type": "STRINGSET", "doubleValue": 0.0,
                 "longValue": 0, "integerValue": 0,
                 "stringSetValue": ["22", "2375", "2376", "51678",
                                    "51679"]},
                {"name": "PORTS_UDP", "type": "STRINGSET",
                 "doubleValue": 0.0, "longValue": 0, "integerValue": 0,
                 "stringSetValue": []}]
    return {
        "containerInstanceArn": ci["arn"], "ec2InstanceId": ci["instance"],
        "version": ci["version"],
        "versionInfo": {"agentVersion": "1.68.2", "agentHash": "fake",
                        "dockerVersion": "DockerVersion: 20.10.23"},
        "remainingResources": res(ci["cpu"] - cpu, ci["memory"] - mem),
        "registeredResources": res(ci["cpu"], ci["memory"]),
        "status": ci["status"], "agentConnected": ci["connected"],
        "runningTasksCount": running, "pendingTasksCount": pending,
        "attributes": [{"name": "ecs.instance-type", "value": ci["type"]},
                       {"name": "ecs.os-type", "value": "linux"}],
        "registeredAt": ci["registered"], "attachments": [], "tags": [],
    }


def page_token(b, n):
    tok = b.get("nextToken")
    if not tok:
        return 0
    try:
        start = int(base64.b64decode(tok).decode().split(":")[1])
    except (ValueError, IndexError):
        raise AwsError("InvalidParameterException", "Invalid token "
                       "specified.")
    return min(start, n)


def ecs_list_container_instances(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    if b.get("filter"):
        raise AwsError("InvalidParameterException", "The filter parameter "
                       "is not supported by this double.")
    status = b.get("status")
    if status is not None and status not in (
            "ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING",
            "REGISTRATION_FAILED"):
        raise AwsError("InvalidParameterException", "Invalid status.")
    limit = b.get("maxResults", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise AwsError("InvalidParameterException", "maxResults must be "
                       "between 1 and 100.")
    arns = [c["arn"] for c in w.cis.values()
            if c["cluster"] == cluster and c["status"] != "INACTIVE" and
            (status is None or c["status"] == status)]
    start = page_token(b, len(arns))
    out = {"containerInstanceArns": arns[start:start + limit]}
    if start + limit < len(arns):
        out["nextToken"] = base64.b64encode(
            ("ci:%d" % (start + limit)).encode()).decode()
    return out


def ecs_describe_container_instances(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    refs = need(b, "containerInstances", list)
    if not refs or len(refs) > 100:
        raise AwsError("InvalidParameterException", "containerInstances "
                       "must hold 1 to 100 items.")
    out, failures = [], []
    for ref in refs:
        ci = find_ci(w, cluster, ref)
        if ci is None:
            failures.append({"arn": ref, "reason": "MISSING"})
        else:
            out.append(ci_json(w, ci))
    return {"containerInstances": out, "failures": failures}


def ecs_update_container_instances_state(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    refs = need(b, "containerInstances", list)
    status = need(b, "status")
    if status not in ("ACTIVE", "DRAINING"):
        raise AwsError("InvalidParameterException", "Container instances "
                       "status can only be updated to ACTIVE or DRAINING.")
    out, failures = [], []
    for ref in refs:
        ci = find_ci(w, cluster, ref)
        if ci is None or ci["status"] == "INACTIVE":
            failures.append({"arn": ref, "reason": "MISSING"})
            continue
        if ci["status"] != status:
            ci["status"] = status
            ci["version"] += 1
            w.dirty = True
        out.append(ci_json(w, ci))
    return {"containerInstances": out, "failures": failures}


def ecs_list_tasks(w, b, now):
    cluster = cluster_name(w, b.get("cluster"))
    ref = b.get("containerInstance")
    ci = find_ci(w, cluster, ref) if ref else None
    if ref and ci is None:
        raise AwsError("InvalidParameterException", "The referenced "
                       "container instance was not found.")
    status = b.get("desiredStatus", "RUNNING")
    if status not in ("RUNNING", "PENDING", "STOPPED"):
        raise AwsError("InvalidParameterException", "Invalid "
                       "desiredStatus.")
    limit = b.get("maxResults", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise AwsError("InvalidParameterException", "maxResults must be "
                       "between 1 and 100.")
    want = "STOPPED" if status == "STOPPED" else "RUNNING"
    arns = [t["taskArn"] for t in w.tasks.values()
            if t["clusterArn"] == w.arn("cluster", cluster) and
            (ci is None or t["ci"] == ci["id"]) and
            t["desiredStatus"] == want and
            (not b.get("startedBy") or t.get("startedBy") ==
             b.get("startedBy"))]
    start = page_token(b, len(arns))
    out = {"taskArns": arns[start:start + limit]}
    if start + limit < len(arns):
        out["nextToken"] = base64.b64encode(
            ("task:%d" % (start + limit)).encode()).decode()
    return out


ECS_ACTIONS = {
    "ListTasks": ecs_list_tasks,
    "RegisterTaskDefinition": ecs_register_task_definition,
    "DescribeTaskDefinition": ecs_describe_task_definition,
    "StartTask": ecs_start_task,
    "DescribeTasks": ecs_describe_tasks,
    "StopTask": ecs_stop_task,
    "ListContainerInstances": ecs_list_container_instances,
    "DescribeContainerInstances": ecs_describe_container_instances,
    "UpdateContainerInstancesState": ecs_update_container_instances_state,
}


# ------------------------------------------------------------ task runner

def stop_task(w, t, reason, code):
    """Ask a task to stop (the lock held): it stops at once if it has not
    started, else its containers get SIGTERM, then SIGKILL 2 s later."""
    if t["lastStatus"] == "STOPPED" or t["desiredStatus"] == "STOPPED":
        return
    t["desiredStatus"] = "STOPPED"
    t["stoppedReason"] = reason
    t["stopCode"] = code
    t["stoppingAt"] = time.time()
    t["version"] += 1
    t["_stop"].set()
    for proc in t["_procs"]:
        _signal(proc, signal.SIGTERM)
        timer = threading.Timer(2.0, _signal, (proc, signal.SIGKILL))
        timer.daemon = True
        timer.start()
    w.dirty = True


def _signal(proc, sig):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass


# A container's first process dies with the task's thread, so a double
# killed with SIGKILL leaves no command running (util-linux's setpriv sets
# PR_SET_PDEATHSIG, then execs it).
REAPER = ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] \
    if os.access("/usr/bin/setpriv", os.X_OK) else []


def container_argv(cdef, override):
    command = override.get("command", cdef.get("command")) or []
    entry = cdef.get("entryPoint") or []
    if not entry and len(command) == 1:
        return ["/bin/sh", "-c", command[0]]
    return entry + command


def container_env(cdef, override, home):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
           "/sbin:/bin", "HOME": home}
    for e in cdef.get("environment", []) + override.get("environment", []):
        if e.get("name"):
            env[e["name"]] = e.get("value", "")
    return env


def log_target(w, cdef, tid):
    lc = cdef.get("logConfiguration") or {}
    if lc.get("logDriver") != "awslogs":
        return None
    o = lc.get("options") or {}
    group = o.get("awslogs-group")
    if not group:
        return None
    prefix = o.get("awslogs-stream-prefix")
    stream = "%s/%s/%s" % (prefix, cdef["name"], tid) if prefix else tid
    return group, stream


def append_event(w, target, line):
    group, stream = target
    now = int(time.time() * 1000)
    with w.lock:
        events = w.groups.setdefault(group, {}).setdefault(stream, [])
        events.append({"timestamp": now, "message": line,
                       "ingestionTime": now})
        w.dirty = True


def pump(w, proc, target):
    for raw in iter(proc.stdout.readline, b""):
        if target:
            append_event(w, target, raw.decode("utf-8", "replace")
                         .rstrip("\n"))
    proc.stdout.close()


def run_task(w, t):
    """A task's life: wait --task-delay, run its containers, record how
    they ended."""
    home = None
    readers = []
    stopped_early = t["_stop"].wait(w.opts.task_delay)
    with w.lock:
        if stopped_early or t["desiredStatus"] == "STOPPED":
            finish(w, t)
            return
        home = tempfile.mkdtemp(prefix="aws-task-")
        t["_home"] = home
        failed = None
        for c, cdef in zip(t["containers"], t["_td"]["containerDefinitions"]):
            ovr = t["_by_name"].get(cdef["name"], {})
            target = log_target(w, cdef, t["_id"])
            if target:
                w.groups.setdefault(target[0], {}).setdefault(target[1], [])
            try:
                proc = subprocess.Popen(
                    REAPER + container_argv(cdef, ovr), cwd=home,
                    env=container_env(cdef, ovr, home),
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as e:
                failed = "CannotStartContainerError: %s" % e
                c["reason"] = failed
                break
            proc._container = c
            proc._essential = cdef.get("essential", True)
            t["_procs"].append(proc)
            r = threading.Thread(target=pump, args=(w, proc, target),
                                 daemon=True)
            r.start()
            readers.append(r)
            c["lastStatus"] = "RUNNING"
        if failed:
            stop_task(w, t, failed, "TaskFailedToStart")
        else:
            t["lastStatus"] = "RUNNING"
            t["startedAt"] = time.time()
            t["version"] += 1
        w.dirty = True
        procs = list(t["_procs"])
    codes = {}
    pending = list(procs)
    while pending:
        for proc in list(pending):
            rc = proc.poll()
            if rc is None:
                continue
            pending.remove(proc)
            codes[id(proc)] = rc if rc >= 0 else 128 - rc
            if proc._essential:
                with w.lock:
                    stop_task(w, t, "Essential container in task exited",
                              "EssentialContainerExited")
        if pending:
            time.sleep(0.02)
    for r in readers:
        r.join(5)
    with w.lock:
        for proc in procs:
            proc._container["exitCode"] = codes[id(proc)]
        finish(w, t)
    shutil.rmtree(home, ignore_errors=True)


def finish(w, t):
    """The task has ended (the lock held)."""
    now = time.time()
    t["lastStatus"] = "STOPPED"
    t["desiredStatus"] = "STOPPED"
    t["stoppingAt"] = t["stoppingAt"] or now
    t["stoppedAt"] = now
    t["executionStoppedAt"] = now
    for c in t["containers"]:
        c["lastStatus"] = "STOPPED"
    t["version"] += 1
    w.dirty = True


# -------------------------------------------------------------------- Logs

def logs_create_log_group(w, b, now):
    name = need(b, "logGroupName")
    if name in w.groups:
        raise AwsError("ResourceAlreadyExistsException",
                       "The specified log group already exists")
    w.groups[name] = {}
    w.dirty = True
    return {}


def logs_get_log_events(w, b, now):
    group = need(b, "logGroupName")
    stream = need(b, "logStreamName")
    if group not in w.groups:
        raise AwsError("ResourceNotFoundException",
                       "The specified log group does not exist.")
    if stream not in w.groups[group]:
        raise AwsError("ResourceNotFoundException",
                       "The specified log stream does not exist.")
    events = [e for e in w.groups[group][stream]
              if ("startTime" not in b or e["timestamp"] >= b["startTime"])
              and ("endTime" not in b or e["timestamp"] < b["endTime"])]
    n = len(events)
    limit = b.get("limit", 10000)
    if not isinstance(limit, int) or not 1 <= limit <= 10000:
        raise AwsError("InvalidParameterException", "1 validation error "
                       "detected: Value at 'limit' failed to satisfy "
                       "constraint: Member must have value between 1 and "
                       "10000")
    tok = b.get("nextToken")
    if tok:
        m = re.match(r"^([fb])/(\d{56})(/s)?$", tok)
        if not m or int(m.group(2)) > n:
            raise AwsError("InvalidParameterException",
                           "The specified nextToken is invalid.")
        at = int(m.group(2))
        lo, hi = (at, min(n, at + limit)) if m.group(1) == "f" else \
            (max(0, at - limit), at)
    elif b.get("startFromHead"):
        lo, hi = 0, min(n, limit)
    else:
        lo, hi = max(0, n - limit), n
    return {"events": events[lo:hi],
            "nextForwardToken": "f/%056d/s" % hi,
            "nextBackwardToken": "b/%056d/s" % lo}


LOGS_ACTIONS = {
    "CreateLogGroup": logs_create_log_group,
    "GetLogEvents": logs_get_log_events,
}


# ------------------------------------------------------------------ server

def log_params(service, action, params):
    """The request's key parameters, fit for a log: no user data, no
    environment values."""
    out = {}
    for k, v in params.items():
        if k in ("Action", "Version"):
            continue
        if k == "UserData":
            v = "(%d bytes)" % len(v)
        elif k in ("containerDefinitions", "overrides"):
            v = re.sub(r'("value":\s*)"(?:[^"\\]|\\.)*"', r'\1"..."',
                       json.dumps(v))
        elif not isinstance(v, (str, int, float, bool)) or v is None:
            v = json.dumps(v)[:200]
        elif isinstance(v, str) and len(v) > 200:
            v = v[:200] + "..."
        out[k] = v
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonEC2-double"
    # Headers and body go out in separate writes: without this a client
    # sending calls back to back on one connection waits for its delayed
    # ACK (up to 200 ms) on each.
    disable_nagle_algorithm = True
    sys_version = ""

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype, extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    # -- the instance metadata service (IMDSv2)

    def do_PUT(self):
        self.body()
        if self.path != "/latest/api/token":
            return self.answer(404, "Not Found", "text/plain")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.answer(400, "Bad Request", "text/plain")
        token = "imds-" + uuid.uuid4().hex
        with self.server.world.lock:
            self.server.imds_tokens[token] = time.time() + int(ttl)
        self.answer(200, token, "text/plain",
                    {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def imds_get(self):
        prefix = "/latest/meta-data/iam/security-credentials/"
        token = self.headers.get("X-aws-ec2-metadata-token", "")
        with self.server.world.lock:
            valid = self.server.imds_tokens.get(token, 0) > time.time()
        if not valid:
            return self.answer(401, "Unauthorized", "text/plain")
        opts = self.server.world.opts
        role = self.path[len(prefix):]
        if role == "":
            return self.answer(200, opts.imds_role, "text/plain")
        if role != opts.imds_role:
            return self.answer(404, "Not Found", "text/plain")
        now = datetime.datetime.now(datetime.timezone.utc)
        exp = now + datetime.timedelta(seconds=opts.imds_ttl)
        self.answer(200, json.dumps({
            "Code": "Success",
            "LastUpdated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": opts.access_key,
            "SecretAccessKey": opts.secret_key,
            "Token": opts.session_token or "imds-session-token",
            "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }, indent=2), "text/plain")

    def do_GET(self):
        if self.path.startswith("/latest/"):
            if self.path.startswith(
                    "/latest/meta-data/iam/security-credentials/"):
                return self.imds_get()
            return self.answer(404, "Not Found", "text/plain")
        if self.path == "/_fake/state":
            w = self.server.world
            with w.lock:
                w.advance()
                data = json.dumps(w.snapshot(), default=str)
            self.answer(200, data, "application/json")
        else:
            self.answer(404, '{"message":"Not Found"}', "application/json")

    def do_POST(self):
        body = self.body()
        if self.path.startswith("/_fake/"):
            self.control(body)
        else:
            self.aws(body)

    # -- control

    def control(self, body):
        w = self.server.world
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.answer(400, json.dumps({"message": str(e)}),
                               "application/json")
        now = time.time()
        with w.lock:
            w.advance(now)
            out, status = {}, 200
            if self.path == "/_fake/fault":
                action, error = req.get("action"), req.get("error")
                count = req.get("count", 1)
                if not isinstance(action, str) or \
                        not isinstance(error, str) or \
                        not isinstance(count, int) or count < 0:
                    out = {"message": "need action, error (strings) and "
                           "count (a number >= 0)"}
                    status = 400
                else:
                    w.faults[action] = [error, count]
            elif self.path in ("/_fake/spot-interrupt", "/_fake/vanish"):
                inst = w.instances.get(req.get("instance"))
                if inst is None:
                    out, status = {"message": "no such instance"}, 400
                elif self.path == "/_fake/vanish":
                    w.host_gone(inst, "TerminationNotice")
                    w.deregister(inst)
                    del w.instances[inst["id"]]
                elif not inst["spot"]:
                    out, status = {"message": "not a spot instance"}, 400
                else:
                    w.terminate(inst, "Server.SpotInstanceTermination",
                                "Server.SpotInstanceTermination",
                                "Server.SpotInstanceTermination: Spot "
                                "instance termination", now)
            elif self.path == "/_fake/reset":
                for t in w.tasks.values():
                    stop_task(w, t, "reset", "UserInitiated")
                w.reset()
            else:
                out, status = {"message": "Not Found"}, 404
            w.dirty = True
            w.save()
        self.answer(status, json.dumps(out), "application/json")

    # -- AWS

    def aws(self, body):
        w = self.server.world
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith(ECS_PREFIX):
            service, action = "ecs", target[len(ECS_PREFIX):]
        elif target.startswith(LOGS_PREFIX):
            service, action = "logs", target[len(LOGS_PREFIX):]
        else:
            service, action = "ec2", ""
        params = {}
        rid = str(uuid.uuid4())
        try:
            if target and service == "ec2":
                service, action = "json", target
                raise AwsError("UnknownOperationException", None)
            if service == "ec2":
                parsed = urllib.parse.parse_qs(body.decode("utf-8",
                                                           "replace"),
                                               keep_blank_values=True)
                params = {k: v[0] for k, v in parsed.items()}
                action = params.get("Action", "")
            else:
                try:
                    params = json.loads(body or b"{}")
                    if not isinstance(params, dict):
                        raise ValueError
                except ValueError:
                    raise AwsError("SerializationException", None)
            self.check_signature(service, body)
            with w.lock:
                w.advance()
                out = self.dispatch(service, action, params, rid)
                w.save()
            status, outcome = 200, "ok"
        except AwsError as e:
            status, outcome = self.error(service, e, rid)
            out = None
        if out is not None:
            if service == "ec2":
                self.answer(200, '<?xml version="1.0" encoding="UTF-8"?>\n'
                            '<%sResponse xmlns="%s"><requestId>%s'
                            '</requestId>%s</%sResponse>'
                            % (action, EC2_NS, rid, out, action),
                            "text/xml;charset=UTF-8")
            else:
                self.answer(200, json.dumps(out),
                            "application/x-amz-json-1.1",
                            {"x-amzn-RequestId": rid})
        self.log(service, action, params, status, outcome)

    def check_signature(self, service, body):
        w = self.server.world
        o = w.opts
        path, _, query = self.path.partition("?")
        try:
            verify(self.command, path, query, self.headers.items(), body,
                   o.access_key, o.secret_key, o.region,
                   service, time.time(),
                   o.session_token)
        except SigError as e:
            ec2 = {"incomplete": ("IncompleteSignature", 400),
                   "missing": ("AuthFailure", 401),
                   "key": ("AuthFailure", 401),
                   "token": ("AuthFailure", 401),
                   "expired": ("RequestExpired", 400),
                   "mismatch": ("SignatureDoesNotMatch", 403)}
            js = {"incomplete": ("IncompleteSignatureException", 400),
                  "missing": ("MissingAuthenticationTokenException", 400),
                  "key": ("UnrecognizedClientException", 403),
                  "token": ("UnrecognizedClientException", 403),
                  "expired": ("InvalidSignatureException", 400),
                  "mismatch": ("InvalidSignatureException", 403)}
            code, status = (ec2 if service == "ec2" else js)[e.kind]
            message = e.message
            if service == "ec2" and e.kind in ("key", "missing", "token"):
                message = "AWS was not able to validate the provided " \
                          "access credentials"
            raise AwsError(code, message, status)

    def dispatch(self, service, action, params, rid):
        w = self.server.world
        table = {"ec2": EC2_ACTIONS, "ecs": ECS_ACTIONS,
                 "logs": LOGS_ACTIONS}.get(service, {})
        if action not in table:
            if service == "ec2":
                raise AwsError("InvalidAction", "The action %s is not valid "
                               "for this web service." % action)
            raise AwsError("UnknownOperationException", None)
        if service == "ec2" and params.get("Version") != "2016-11-15":
            raise AwsError("InvalidParameterValue", "Invalid API version "
                           "'%s'" % params.get("Version"))
        fault = w.faults.get(action)
        if fault and fault[1] > 0:
            fault[1] -= 1
            w.dirty = True
            code = fault[0]
            if code == "500":
                raise AwsError("500", "", 500)
            status = (EC2_STATUS if service == "ec2" else
                      JSON_STATUS).get(code, 400)
            raise AwsError(code, "Fault injected by the AWS double: %s"
                           % code, status)
        return table[action](w, params, time.time())

    def error(self, service, e, rid):
        if e.code == "500":
            self.answer(500, "<html><body><h1>500 Internal Server Error"
                        "</h1></body></html>", "text/html")
            return 500, "500"
        if service == "ec2":
            self.answer(e.status, '<?xml version="1.0" encoding="UTF-8"?>\n'
                        "<Response><Errors><Error><Code>%s</Code>"
                        "<Message>%s</Message></Error></Errors>"
                        "<RequestID>%s</RequestID></Response>"
                        % (escape(e.code), escape(e.message), rid),
                        "text/xml;charset=UTF-8")
        else:
            body = {"__type": ("com.amazon.coral.service#" + e.code
                               if e.code in CORAL else e.code)}
            if e.message is not None:
                body["message"] = e.message
            self.answer(e.status, json.dumps(body),
                        "application/x-amz-json-1.1",
                        {"x-amzn-RequestId": rid})
        return e.status, e.code

    def log(self, service, action, params, status, outcome):
        path = self.server.world.opts.log
        if not path:
            return
        auth = self.headers.get("Authorization", "")
        m = re.search(r"Credential=([^/,\s]*)", auth)
        line = json.dumps({
            "time": iso(time.time()), "service": service, "action": action,
            "key": m.group(1) if m else None,
            "params": log_params(service, action, params),
            "status": status, "outcome": outcome})
        with self.server.log_lock, open(path, "a") as f:
            f.write(line + "\n")


def ticker(w, stop):
    """Let time pass without requests, so --state stays current."""
    while not stop.wait(0.1):
        with w.lock:
            w.advance()
            w.save()


def main():
    ap = argparse.ArgumentParser(prog="aws.py")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--state")
    ap.add_argument("--access-key", default="AKIDEXAMPLE")
    ap.add_argument("--secret-key",
                    default="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    ap.add_argument("--session-token")
    ap.add_argument("--region", default="us-east-1")
    for name, default in (("boot", 0.5), ("register", 0.5), ("task", 0.2),
                          ("terminate", 0.5)):
        ap.add_argument("--%s-delay" % name, type=float, default=default,
                        metavar="S")
    ap.add_argument("--imds-role", default="beekeeper-test")
    ap.add_argument("--imds-ttl", type=int, default=21600, metavar="S")
    ap.add_argument("--self-test", metavar="DIR")
    opts = ap.parse_args()
    if opts.self_test:
        return self_test(opts.self_test)
    for name in ("boot", "register", "task", "terminate"):
        if getattr(opts, name + "_delay") < 0:
            ap.error("--%s-delay: must not be negative" % name)
    w = World(opts)
    # A daemon may open a connection per call at once (120 StartTasks):
    # the default backlog of 5 drops the rest's SYNs, retried seconds later.
    http.server.ThreadingHTTPServer.request_queue_size = 256
    server = http.server.ThreadingHTTPServer(("127.0.0.1", opts.port),
                                             Handler)
    server.daemon_threads = True
    server.world = w
    server.imds_tokens = {}
    server.log_lock = threading.Lock()
    stop = threading.Event()
    threading.Thread(target=ticker, args=(w, stop), daemon=True).start()

    def on_signal(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("listening on 127.0.0.1:%d" % server.server_address[1],
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stop.set()
        with w.lock:
            for t in w.tasks.values():
                for proc in t["_procs"]:
                    _signal(proc, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
