#!/bin/sh
#
# The aws pool benchmark, run by `make bench` from the build directory.
# Each part runs beekeeperd with one aws pool (c5.large, one slot an
# instance, max 1000) against its own AWS double (tests/fakes/aws.py)
# whose instances take an hour to boot, so none is ever ready:
#
#   launch      BENCH_TASKS one-task builds (default 50), pushed one by
#               one, each 100 ms after the last was answered: each queued
#               task finds no free slot and launches an instance of its
#               own.  From the task's queued_at (the store)
#               to its RunInstances in the double's log: p50, p95, max, and
#               by stage, split where the daemon logs "launching".
#               Baseline: BENCH_CALLS bare signed RunInstances (default
#               50) like the pool's, to the same double before the daemon
#               starts, 100 ms apart on one kept-alive connection as the
#               daemon's libcurl sends them; the ratio.  Beside it bare
#               DescribeInstances the same way, back to back (where the
#               double adds a delayed ACK), and through aws-call, a process
#               a call (where the process start dominates).
#   reconcile   BENCH_INSTANCES instances (default 1000) tagged for the
#               daemon's pool with a valid lease, made before it starts:
#               its first pass adopts them all; the next BENCH_PASSES
#               passes (default 5, from the third on; each one only
#               compares and renews the leases) are read from /metrics
#               (beekeeper_aws_reconcile_milliseconds, the last pass).
#               Baseline: the same with 10 instances; the ratio.  Beside
#               them the daemon's CPU time a pass interval, from
#               /proc/PID/stat over as many intervals with no /metrics
#               request (all it does in 2 s: a pass, its lease renewals,
#               two pool ticks and ListContainerInstances); the double's
#               share (the pass's DescribeInstances sent bare, 0.5 s apart,
#               over the pass); the time of a GET /metrics; and the first
#               pass, adopting, from the daemon's log and from /metrics.
#
# Reading them: queued_at and the launch's name come from the daemon's
# loop clock, read once a turn; the log lines and the double's read the
# clock as they are written.  For the same reason the reconcile gauge ends
# when the turn that handles the last page begins: it counts the wait for
# EC2, not the parsing of that page nor, in the first pass, the adoptions'
# writes to the store, which the CPU column and the log's figure show.
#
# The launch target is a p95 under 100 ms.  Missing it is reported, not
# failed: this is a measurement.  It exits 1 only when something does not
# run: a server does not start, a launch or an adoption is missing.
#
# Environment: BEEKEEPERD (default ./beekeeperd), AWS_CALL (default
# ./tests/tools/aws-call), BENCH_TASKS, BENCH_CALLS, BENCH_INSTANCES,
# BENCH_PASSES, SQLITE3 (default sqlite3), PYTHON (default
# /usr/bin/python3, which runs the double and the bare client).

set -u
LC_ALL=C
export LC_ALL

srcdir=$(dirname "$0")/..
daemon=${BEEKEEPERD:-./beekeeperd}
call=${AWS_CALL:-./tests/tools/aws-call}
tasks=${BENCH_TASKS:-50}
calls=${BENCH_CALLS:-50}
instances=${BENCH_INSTANCES:-1000}
passes=${BENCH_PASSES:-5}
sqlite=${SQLITE3:-sqlite3}
python=${PYTHON:-/usr/bin/python3}
double=$srcdir/tests/fakes/aws.py
name=bench-$$
target_ms=100
# Instances in the reconcile baseline.
base_instances=10

die()
{
	echo "aws.sh: $*" >&2
	exit 1
}

# A positive integer, or die.
check_count()
{
	case $2 in
	'' | *[!0-9]*) die "$1 must be a positive integer: '$2'" ;;
	esac
	[ "$2" -gt 0 ] || die "$1 must be a positive integer: '$2'"
}

check_count BENCH_TASKS "$tasks"
check_count BENCH_CALLS "$calls"
check_count BENCH_INSTANCES "$instances"
check_count BENCH_PASSES "$passes"
[ "$instances" -le 1000 ] ||
    die "BENCH_INSTANCES must be at most 1000, the pool's max"
[ -x "$daemon" ] || die "$daemon not built: run make bench"
[ -x "$call" ] || die "$call not built: run make bench"
[ -r "$double" ] || die "$double: not readable"
for prog in "$sqlite" git curl openssl; do
	command -v "$prog" >/dev/null 2>&1 || die "$prog not found"
done
"$python" -c 'import http.server' 2>/dev/null ||
    die "$python cannot run the AWS double"
case $(date +%s%N) in
*[!0-9]*) die "date +%s%N does not give nanoseconds (GNU date needed)" ;;
esac
[ -r "/proc/$$/stat" ] || die "no /proc/PID/stat to read CPU times from"
hz=$(getconf CLK_TCK) || die "getconf CLK_TCK failed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/beekeeper-bench.XXXXXX") ||
    die "cannot make a temporary directory"
# The daemon and the double, while they run.
pid=
apid=
trap '[ -z "$pid" ] || stop beekeeperd >/dev/null 2>&1
    [ -z "$apid" ] || stop_double
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
[ ${#secret} -eq 64 ] || die "cannot read /dev/urandom"
(umask 077 && printf '%s' "$secret" >"$tmp/secret") ||
    die "cannot write $tmp/secret"

# The keys of AWS's documentation, which the double accepts; nothing else
# of the environment (shared files, instance metadata) may answer.
: >"$tmp/empty"
AWS_ACCESS_KEY_ID=AKIDEXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
AWS_CONFIG_FILE=$tmp/empty
AWS_SHARED_CREDENTIALS_FILE=$tmp/empty
AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9/
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_CONFIG_FILE \
    AWS_SHARED_CREDENTIALS_FILE AWS_EC2_METADATA_SERVICE_ENDPOINT

# The bare client: signs with the same keys (AWS's published SigV4, written
# apart from the daemon's signer) and times calls in one process, since a
# process per call (aws-call) costs more to start here than the call.  WAY
# is how the calls follow each other: "new", a new connection each, back
# to back; or S, one kept-alive connection (as the daemon's libcurl keeps
# its), S seconds between calls.  Each timed command prints the ms of each
# call.
#   describe PORT N WAY [DAEMON]
#                           N DescribeInstances: of every instance, or as a
#                           reconcile pass of DAEMON sends it; then
#                           "instances COUNT" of the last answer
#   launch PORT N WAY DAEMON POOL
#                           N RunInstances as the pools send theirs (user
#                           data, client token POOL-bare-K), tagged for
#                           DAEMON's POOL, the lease 10 minutes ahead
#   runs LOG DAEMONLOG      each RunInstances of the aws pool "default",
#                           by N: "N DECIDED LAUNCHING ANSWERED", N and
#                           DECIDED from its ClientToken, the instance's
#                           name aws-default-N-MS (MS: the daemon's loop
#                           clock); LAUNCHING when the daemon logged
#                           "launching" it; ANSWERED when the double logged
#                           the call, just after it answered (ms)
#   span LOG FROM TO        the ms from the daemon's first log line holding
#                           FROM to its first after that holding TO
cat >"$tmp/client.py" <<'EOF'
import base64, calendar, hashlib, hmac, http.client, json, re, sys, time
import urllib.parse

KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CTYPE = "application/x-www-form-urlencoded; charset=utf-8"


def headers(port, body):
    t = time.gmtime()
    amz, day = time.strftime("%Y%m%dT%H%M%SZ", t), time.strftime("%Y%m%d", t)
    creq = "\n".join(["POST", "/", "", "content-type:" + CTYPE,
                      "host:127.0.0.1:%d" % port, "x-amz-date:" + amz, "",
                      "content-type;host;x-amz-date",
                      hashlib.sha256(body).hexdigest()])
    scope = day + "/us-east-1/ec2/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + SECRET).encode()
    for part in (day, "us-east-1", "ec2", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": CTYPE, "X-Amz-Date": amz,
            "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=%s"
            % (KEY, scope, sig)}


def calls(port, n, way, params):
    """n calls of params(k) the WAY way: the ms of each, the last answer."""
    conn, out = None, []
    for k in range(n):
        if way != "new" and k > 0:
            time.sleep(float(way))
        body = urllib.parse.urlencode(
            [("Version", "2016-11-15")] + params(k)).encode()
        t0 = time.monotonic()
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/", body, headers(port, body))
        r = conn.getresponse()
        data = r.read()
        out.append((time.monotonic() - t0) * 1000)
        if way == "new":
            conn.close()
            conn = None
        if r.status != 200:
            sys.exit("HTTP %d: %s" % (r.status, data[:300]))
    return out, data


def describe(daemon):
    p = [("Action", "DescribeInstances")]
    if daemon is None:
        return p
    p += [("Filter.1.Name", "tag:beekeeper:daemon"),
          ("Filter.1.Value.1", daemon),
          ("Filter.2.Name", "instance-state-name")]
    for i, s in enumerate(("pending", "running", "shutting-down",
                           "stopping", "stopped")):
        p.append(("Filter.2.Value.%d" % (i + 1), s))
    return p + [("MaxResults", "1000")]


def launch(daemon, pool, lease, k):
    ud = "#!/bin/sh\necho ECS_CLUSTER=beekeeper >> /etc/ecs/ecs.config\n" \
        "echo ECS_CONTAINER_STOP_TIMEOUT=10s >> /etc/ecs/ecs.config\n"
    p = [("Action", "RunInstances"), ("ImageId", "ami-0123456789abcdef0"),
         ("InstanceType", "c5.large"), ("MinCount", "1"),
         ("MaxCount", "1"), ("ClientToken", "%s-bare-%d" % (pool, k)),
         ("UserData", base64.b64encode(ud.encode()).decode())]
    for i, kind in ((1, "instance"), (2, "volume")):
        p.append(("TagSpecification.%d.ResourceType" % i, kind))
        for j, (key, v) in enumerate((("beekeeper:daemon", daemon),
                                      ("beekeeper:pool", pool),
                                      ("beekeeper:lease-expires", lease),
                                      ("Name", pool))):
            p.append(("TagSpecification.%d.Tag.%d.Key" % (i, j + 1), key))
            p.append(("TagSpecification.%d.Tag.%d.Value" % (i, j + 1), v))
    return p


def ms_of(iso):
    return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S")) \
        * 1000 + int(iso[20:23])


cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "describe":
    daemon = args[3] if len(args) > 3 else None
    ms, data = calls(int(args[0]), int(args[1]), args[2],
                     lambda k: describe(daemon))
    print("\n".join("%.3f" % m for m in ms))
    print("instances %d" % data.count(b"<instanceId>"))
elif cmd == "launch":
    lease = str(int(time.time()) + 600)
    ms, _ = calls(int(args[0]), int(args[1]), args[2],
                  lambda k: launch(args[3], args[4], lease, k))
    print("\n".join("%.3f" % m for m in ms))
elif cmd == "runs":
    launching = {}
    for line in open(args[1]):
        m = re.match(r"^(\S+) \S+ info: pool default: launching "
                     r"aws-default-([0-9]+)-", line)
        if m:
            launching[int(m.group(2))] = ms_of(m.group(1))
    rows = []
    for line in open(args[0]):
        j = json.loads(line)
        m = re.match(r"^aws-default-([0-9]+)-([0-9]+)$",
                     j["params"].get("ClientToken", ""))
        if j["action"] == "RunInstances" and j["outcome"] == "ok" and m:
            n = int(m.group(1))
            rows.append((n, int(m.group(2)), launching.get(n, -1),
                         ms_of(j["time"])))
    for r in sorted(rows):
        print("%d %d %d %d" % r)
elif cmd == "span":
    t0 = None
    for line in open(args[0]):
        if t0 is None and args[1] in line:
            t0 = ms_of(line)
        elif t0 is not None and args[2] in line:
            print(ms_of(line) - t0)
            break
    else:
        sys.exit("no '%s' then '%s' in %s" % (args[1], args[2], args[0]))
EOF

# client ARG...: run the bare client.
client()
{
	"$python" "$tmp/client.py" "$@"
}

# start_double NAME: the double, its log in $tmp/NAME.log; sets aport.
start_double()
{
	TMPDIR=$tmp "$python" "$double" --port 0 --log "$tmp/$1.log" \
	    --boot-delay 3600 >"$tmp/$1.out" 2>"$tmp/$1.err" &
	pid=$!
	if ! wait_port "$tmp/$1.out"; then
		apid=$pid
		pid=
		die "the AWS double did not start: $(tail -n 5 "$tmp/$1.err")"
	fi
	apid=$pid
	aport=$port
	pid=
}

# stop_double: SIGTERM the double and reap it.
stop_double()
{
	kill -TERM "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null
	apid=
}

# start_daemon NAME LEASE INTERVAL: beekeeperd on state directory NAME,
# its aws section pointed at the double; sets port, and db.
start_daemon()
{
	mkdir -p "$tmp/$1" || die "cannot make $tmp/$1"
	cat >"$tmp/$1.yml" <<EOF
listen: 127.0.0.1:0
public_url: http://127.0.0.1:8080
state_dir: $tmp/$1
github:
  webhook_secret_file: $tmp/secret
projects:
  auto_approve: true
bus:
  publish: tcp://127.0.0.1:*
  control: tcp://127.0.0.1:*
aws:
  region: us-east-1
  endpoint_url: http://127.0.0.1:$aport
  daemon_name: $name
  lease: $2
  reconcile_interval: $3
profiles:
  default:
    driver: aws
    instance_type: c5.large
    ami: ami-0123456789abcdef0
    slots: 1
    min: 0
    max: 1000
    boot_timeout: 1h
EOF
	db=$tmp/$1/beekeeper.db
	"$daemon" -d -f "$tmp/$1.yml" >/dev/null 2>"$tmp/$1.log" &
	pid=$!
	wait_port "$tmp/$1.log" ||
	    die "beekeeperd did not start: $(tail -n 5 "$tmp/$1.log")"
}

# stop_daemon NAME: stop it, or die with its log's last lines.
stop_daemon()
{
	stop beekeeperd || die "beekeeperd exited with status $status:" \
	    "$(tail -n 5 "$tmp/$1.log")"
}

# wait_log NAME PATTERN SECONDS: wait for PATTERN in the daemon's log.
wait_log()
{
	deadline=$(($(date +%s) + $3))
	until grep -q "$2" "$tmp/$1.log"; do
		kill -0 "$pid" 2>/dev/null ||
		    die "beekeeperd exited: $(tail -n 5 "$tmp/$1.log")"
		[ "$(date +%s)" -lt "$deadline" ] ||
		    die "beekeeperd did not log '$2' in $3 s"
		sleep 0.05
	done
}

# sql QUERY: run QUERY on the daemon's store.
sql()
{
	"$sqlite" -cmd '.timeout 5000' "$db" "$1"
}

# stats FILE: "p50 p95 max" of the numbers in FILE (nearest rank).
stats()
{
	sort -n "$1" | awk '
		{ v[NR] = $1 }
		function rank(q,  r) {
			r = int(q * NR)
			if (r < q * NR)
				r++
			return v[r < 1 ? 1 : r]
		}
		END { printf "%.1f %.1f %.1f\n", rank(0.5), rank(0.95), v[NR] }'
}

# ms T0 T1: nanoseconds to milliseconds.
ms()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'
}

# ---------------------------------------------------------------- launch

# The repository: the pipeline on main, then one empty commit on a branch
# of its own for each build, with its signed push, made before any timing.
repo=$tmp/repo
git init -q -b main "$repo" || die "git init failed"
git -C "$repo" config user.name Bench
git -C "$repo" config user.email bench@example.org
printf 'push:\n  - t:\n      run: "true"\n' >"$repo/beekeeper.yml"
git -C "$repo" add -A
git -C "$repo" commit -q -m pipeline || die "git commit failed"
n=1
while [ "$n" -le "$tasks" ]; do
	if ! git -C "$repo" checkout -q -b "b-$n" main ||
	    ! git -C "$repo" commit -q --allow-empty -m "launch-$n"; then
		die "cannot commit on b-$n"
	fi
	sha=$(git -C "$repo" rev-parse HEAD)
	cat >"$tmp/launch-$n.json" <<JSON
{"ref":"refs/heads/b-$n","before":"0000000000000000000000000000000000000000",
"after":"$sha","created":true,"deleted":false,
"head_commit":{"id":"$sha","message":"launch-$n"},
"repository":{"full_name":"bench/aws","clone_url":"file://$repo","html_url":"file://$repo"},
"sender":{"login":"bench"}}
JSON
	mac=$(openssl dgst -sha256 -hmac "$secret" "$tmp/launch-$n.json") ||
	    die "openssl failed"
	printf '%s\n' "X-GitHub-Event: push" "X-GitHub-Delivery: launch-$n" \
	    "X-Hub-Signature-256: sha256=${mac##*= }" \
	    "Content-Type: application/json" >"$tmp/launch-$n.hdr"
	n=$((n + 1))
done
git -C "$repo" checkout -q main

start_double launch-aws

# The baselines, on the double before the daemon starts: bare calls in
# one process on one connection, 100 ms apart as the launches come:
# RunInstances as the pool's (tagged for another daemon, so the benchmark's
# never sees them), the baseline; DescribeInstances; DescribeInstances back
# to back, where the double's answer, its headers and its body written
# apart, waits for the client's delayed ACK (about 40 ms on Linux); and
# aws-call, a process a call, as a shell script would call AWS.
client launch "$aport" "$calls" 0.1 "$name-bare" default \
    >"$tmp/base-run.ms" || die "the bare RunInstances failed"
client describe "$aport" "$calls" 0.1 >"$tmp/base-desc.out" ||
    die "the bare DescribeInstances failed"
client describe "$aport" "$calls" 0 >"$tmp/base-b2b.out" ||
    die "the bare DescribeInstances failed"
sed '$d' "$tmp/base-desc.out" >"$tmp/base-desc.ms"
sed '$d' "$tmp/base-b2b.out" >"$tmp/base-b2b.ms"
: >"$tmp/base-call.ms"
n=1
while [ "$n" -le "$calls" ]; do
	t0=$(date +%s%N)
	"$call" -e "http://127.0.0.1:$aport" raw ec2 DescribeInstances \
	    >"$tmp/call.out" 2>&1 || die "aws-call failed: $(cat "$tmp/call.out")"
	t1=$(date +%s%N)
	grep -q '^ok 200 ' "$tmp/call.out" ||
	    die "aws-call failed: $(head -n 1 "$tmp/call.out")"
	ms "$t0" "$t1" >>"$tmp/base-call.ms"
	n=$((n + 1))
done

start_daemon launch 30m 1m
# No pool launches before the first reconcile pass.
wait_log launch "first reconcile done" 30

n=1
while [ "$n" -le "$tasks" ]; do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	    -H "@$tmp/launch-$n.hdr" --data-binary "@$tmp/launch-$n.json" \
	    "http://127.0.0.1:$port/github/webhook")
	case $code in
	2??) ;;
	*) die "the push launch-$n was answered $code" ;;
	esac
	sleep 0.1
	n=$((n + 1))
done

# Every task queued, and as many of the pool's RunInstances answered.
deadline=$(($(date +%s) + 60))
while :; do
	q=$(sql "SELECT count(*) FROM tasks WHERE queued_at IS NOT NULL")
	r=$(grep '"action": "RunInstances"' "$tmp/launch-aws.log" |
	    grep '"ClientToken": "aws-default-' | grep -c '"outcome": "ok"')
	[ "$q" -ge "$tasks" ] && [ "$r" -ge "$tasks" ] && break
	kill -0 "$pid" 2>/dev/null ||
	    die "beekeeperd exited: $(tail -n 5 "$tmp/launch.log")"
	[ "$(date +%s)" -lt "$deadline" ] ||
	    die "in 60 s, $q of $tasks tasks queued, $r RunInstances answered"
	sleep 0.1
done
stop_daemon launch
stop_double

# The k-th task queued goes with the k-th launch, exactly: no instance is
# ever ready and each has one slot, so the pool counts requested and
# booting instances as coming capacity, and the k-th queued task is the
# first that capacity does not cover: the pool launches its k-th instance
# (named aws-default-k-MS, MS its wall clock then, and that name is the
# ClientToken) in the loop turn that queued it, or the next when the turn
# queued more than one.  The tasks sort by queued_at (ms), then by id; the
# launches by k.  A launch decided before its task was queued would say
# the pairing is wrong, and stops the benchmark.
sql "SELECT queued_at FROM tasks ORDER BY queued_at, id" >"$tmp/queued" ||
    die "cannot read $db"
client runs "$tmp/launch-aws.log" "$tmp/launch.log" >"$tmp/runs" ||
    die "cannot read the logs"
got=$(wc -l <"$tmp/runs" | tr -d ' ')
[ "$got" -eq "$tasks" ] ||
    die "$got RunInstances with a pool's ClientToken for $tasks tasks"
awk -v n="$tasks" '$1 != NR { exit 1 } END { exit NR != n }' "$tmp/runs" ||
    die "the launches are not numbered 1 to $tasks: $(tr '\n' ' ' \
    <"$tmp/runs")"
paste -d ' ' "$tmp/queued" "$tmp/runs" | awk -v t="$tmp" '
	$3 < $1 { print "launch " $2 " decided " $1 - $3 \
	    " ms before its task was queued"; bad = 1 }
	$4 < 0 { print "launch " $2 " is not in the daemon'"'"'s log"; bad = 1 }
	{
		print $5 - $1 > (t "/answered.ms")
		print $4 - $1 > (t "/stage1.ms")
		print $5 - $4 > (t "/stage2.ms")
		same += $3 == $1
	}
	END { print same > (t "/same-turn"); exit bad }' >&2 ||
    die "the tasks and launches do not pair"

# ------------------------------------------------------------- reconcile

# scrape COUNT: GET /metrics from the daemon, its time in ms added to
# $tmp/scrape-COUNT.ms; sets npass, last (the last pass's ms) and checks
# that the daemon knows COUNT instances once it has passed twice.
scrape()
{
	kill -0 "$pid" 2>/dev/null ||
	    die "beekeeperd exited: $(tail -n 5 "$tmp/rec-$1.log")"
	curl -s --max-time 10 -o "$tmp/metrics" -w '%{time_total}\n' \
	    "http://127.0.0.1:$port/metrics" >"$tmp/scrape.s" ||
	    die "GET /metrics failed"
	awk '{ printf "%.3f\n", $1 * 1000 }' "$tmp/scrape.s" \
	    >>"$tmp/scrape-$1.ms"
	read -r npass last known <<EOF
$(awk '$1 == "beekeeper_aws_reconcile_passes_total" { p = $2 }
	$1 == "beekeeper_aws_reconcile_milliseconds" { m = $2 }
	$1 == "beekeeper_aws_instances_known" { k = $2 }
	END { print p + 0, m + 0, k + 0 }' "$tmp/metrics")
EOF
	[ "$npass" -lt 2 ] || [ "$known" -eq "$1" ] ||
	    die "after $npass passes the daemon knows $known of $1 instances"
}

# reconcile COUNT: COUNT instances of ours, adopted by a daemon whose
# passes come every 2 s; sets pass50 passmax cpu bare made_ms, and of the
# first pass adopt_ms (from the daemon's log: its clock is read as each
# line is written) and adopt_metric (from /metrics, "-" if missed).  The
# instances stay pending (an hour's boot) and are adopted as booting, so
# the pool neither launches nor ends any and no container instance
# registers: every pass sees the same COUNT, and nothing but the passes,
# the lease renewals and a ListContainerInstances a second reaches the
# double.
reconcile()
{
	start_double "rec-$1-aws"
	t0=$(date +%s%N)
	client launch "$aport" "$1" new "$name" default >/dev/null ||
	    die "cannot make $1 instances in the double"
	t1=$(date +%s%N)
	made_ms=$(ms "$t0" "$t1")

	start_daemon "rec-$1" 2m 2s
	: >"$tmp/rec-$1.ms"
	: >"$tmp/scrape-$1.ms"
	deadline=$(($(date +%s) + 60 + 4 * passes))
	seen=0
	adopt_metric=-
	got=0
	# Every 0.5 s: no pass is missed (they are 2 s apart), and the
	# scrapes, which cost the daemon CPU, stay few.
	while [ "$got" -lt "$passes" ]; do
		scrape "$1"
		# The first pass's figure, if this sees it before the second.
		if [ "$seen" -eq 0 ] && [ "$npass" -gt 0 ]; then
			adopt_metric=-
			[ "$npass" -gt 1 ] || adopt_metric=$last
		fi
		if [ "$npass" -gt "$seen" ] && [ "$npass" -ge 3 ]; then
			echo "$last" >>"$tmp/rec-$1.ms"
			got=$((got + 1))
		fi
		seen=$npass
		[ "$(date +%s)" -lt "$deadline" ] ||
		    die "$npass reconcile passes with $1 instances in" \
		    "$((60 + 4 * passes)) s, $((passes + 2)) wanted"
		sleep 0.5
	done
	# Then the CPU time over as many pass intervals, with no scrape: as
	# a pass comes every 2 s, the CPU time per 2 s of wall clock.
	cpu0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	t0=$(date +%s%N)
	sleep $((2 * passes))
	cpu1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	t1=$(date +%s%N)
	cpu=$(awk -v a="$cpu0" -v b="$cpu1" -v ns=$((t1 - t0)) -v hz="$hz" \
	    'BEGIN { printf "%.1f\n", (b - a) * 1000 / hz / (ns / 2e9) }')
	scrape "$1"

	adopted=$(grep -c ': adopted i-' "$tmp/rec-$1.log")
	[ "$adopted" -eq "$1" ] ||
	    die "the daemon adopted $adopted of $1 instances"
	adopt_ms=$(client span "$tmp/rec-$1.log" "listening on" \
	    "aws: first reconcile done") || die "cannot time the first pass"
	stop_daemon "rec-$1"

	client describe "$aport" "$passes" 0.5 "$name" >"$tmp/bare-$1.out" ||
	    die "the bare DescribeInstances failed"
	[ "$(tail -n 1 "$tmp/bare-$1.out")" = "instances $1" ] ||
	    die "the bare DescribeInstances did not list $1 instances"
	sed '$d' "$tmp/bare-$1.out" >"$tmp/bare-$1.ms"
	stop_double

	read -r pass50 _ passmax <<EOF
$(stats "$tmp/rec-$1.ms")
EOF
	read -r bare _ _ <<EOF
$(stats "$tmp/bare-$1.ms")
EOF
	read -r scrape50 _ _ <<EOF
$(stats "$tmp/scrape-$1.ms")
EOF
}

reconcile "$base_instances"
b_pass50=$pass50
b_passmax=$passmax
b_cpu=$cpu
b_bare=$bare
b_adopt_ms=$adopt_ms
b_adopt_metric=$adopt_metric
b_scrape50=$scrape50
reconcile "$instances"

# ------------------------------------------------------------ the figures

read -r k50 k95 kmax <<EOF
$(stats "$tmp/base-run.ms")
EOF
read -r e50 e95 emax <<EOF
$(stats "$tmp/base-desc.ms")
EOF
read -r f50 f95 fmax <<EOF
$(stats "$tmp/base-b2b.ms")
EOF
read -r c50 c95 cmax <<EOF
$(stats "$tmp/base-call.ms")
EOF
read -r a50 a95 amax <<EOF
$(stats "$tmp/answered.ms")
EOF

echo "aws: $tasks one-task builds pushed one by one, 100 ms between, each" \
    "launching an instance; the AWS double"
echo
echo "launch, task queued to RunInstances ($tasks tasks):"
printf '  %-44s %8s %8s %8s\n' "" "p50 ms" "p95 ms" "max ms"
printf '  %-44s %8s %8s %8s\n' "baseline, bare RunInstances, 100 ms apart" \
    "$k50" "$k95" "$kmax"
printf '  %-44s %8s %8s %8s\n' "bare DescribeInstances, 100 ms apart" \
    "$e50" "$e95" "$emax"
printf '  %-44s %8s %8s %8s\n' "bare DescribeInstances, back to back" \
    "$f50" "$f95" "$fmax"
printf '  %-44s %8s %8s %8s\n' "aws-call DescribeInstances, a process each" \
    "$c50" "$c95" "$cmax"
printf '  %-44s %8s %8s %8s\n' "beekeeperd, queued -> RunInstances answered" \
    "$a50" "$a95" "$amax"
awk -v a50="$a50" -v a95="$a95" -v k50="$k50" -v k95="$k95" 'BEGIN {
	printf "  ratio beekeeperd / baseline: p50 %.1f, p95 %.1f\n",
	    (k50 > 0 ? a50 / k50 : 0), (k95 > 0 ? a95 / k95 : 0) }'
echo "  beekeeperd by stage, p50 / p95 ms:"
i=1
for stage in "queued -> \"launching\" logged" \
    "logged -> RunInstances answered"; do
	stats "$tmp/stage$i.ms" | awk -v s="$stage" \
	    '{ printf "    %-40s %8s %8s\n", s, $1, $2 }'
	i=$((i + 1))
done
echo "  launched in the loop turn that queued the task:" \
    "$(cat "$tmp/same-turn") of $tasks"

echo
echo "reconcile, passes 3 to $((passes + 2)), 2 s apart, from /metrics" \
    "(beekeeper_aws_reconcile_milliseconds):"
printf '  %-24s %8s %8s %12s %10s %10s\n' "" "p50 ms" "max ms" \
    "cpu ms/pass" "bare ms" "/metrics"
printf '  %-24s %8s %8s %12s %10s %10s\n' \
    "baseline, $base_instances instances" "$b_pass50" "$b_passmax" \
    "$b_cpu" "$b_bare" "$b_scrape50"
printf '  %-24s %8s %8s %12s %10s %10s\n' "$instances instances" \
    "$pass50" "$passmax" "$cpu" "$bare" "$scrape50"
awk -v p="$pass50" -v b="$b_pass50" -v c="$cpu" -v bc="$b_cpu" \
    -v d="$bare" -v n="$instances" 'BEGIN {
	printf "  ratio %d / baseline: pass %.1f", n, (b > 0 ? p / b : 0)
	if (bc > 0)
		printf ", cpu %.1f", c / bc
	printf "\n  the double'"'"'s share of a pass (its DescribeInstances" \
	    " sent bare, over the pass): %.0f%%\n", (p > 0 ? 100 * d / p : 0) }'
echo "  the first pass, adopting them all, by the daemon's log (/metrics):" \
    "$base_instances: $b_adopt_ms ms ($b_adopt_metric)," \
    "$instances: $adopt_ms ms ($adopt_metric)"
awk -v n="$instances" -v m="$made_ms" 'BEGIN {
	printf "  (%d instances made in %.1f s, a RunInstances each)\n",
	    n, m / 1000 }'

echo
if awk -v a="$a95" -v t="$target_ms" 'BEGIN { exit !(a < t) }'; then
	echo "target: launch p95 < $target_ms ms: met"
else
	echo "target: launch p95 < $target_ms ms: not met"
fi
exit 0
