#!/bin/sh
# 71-aws-client: the daemon's AWS client against the AWS double, whose
# SigV4 verifier and parsers are written apart from ours (and are checked
# by the AWS CLI in 70-aws-double): signed calls to EC2, ECS and
# CloudWatch Logs are accepted; credentials come from the environment,
# a profile of the shared files, or the instance metadata service;
# throttling and 5xx answers are retried and then succeed; other errors
# are not retried and come back as a sentence with AWS's code; the pools'
# RunInstances carries its tags and spot options; DescribeInstances is
# read across pages; a task started on the container instance the caller
# chose runs, and its log is read back.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CALL=$top_builddir/tests/tools/aws-call
BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
[ -x "$CALL" ] || skip_all "no $CALL (make check builds it)"
"$BK_PYTHON" -c 'import http.server' 2>/dev/null ||
    skip_all "no $BK_PYTHON to run the AWS double"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
plan 32

KEY=AKIDEXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
bk_tmpdir
bk_aws_start aws --boot-delay 0.2 --register-delay 0.2 --task-delay 0.1
bk_aws_wait aws
: >"$BK_DIR/empty"

# ac ARG...: aws-call against the double with the keys in the
# environment (C_KEY, C_SECRET override them; C_ENV adds one more
# variable; C_CREDS is the shared credentials file); its output in OUT
# (stderr in BK_DIR/err), its exit status in RC.
ac() {
	env -i PATH=/usr/bin:/bin HOME="$BK_DIR" \
	    AWS_CONFIG_FILE="$BK_DIR/empty" \
	    AWS_SHARED_CREDENTIALS_FILE="${C_CREDS:-$BK_DIR/empty}" \
	    AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9/ \
	    AWS_ACCESS_KEY_ID="${C_KEY-$KEY}" \
	    AWS_SECRET_ACCESS_KEY="${C_SECRET-$SECRET}" ${C_ENV:+"$C_ENV"} \
	    "$CALL" -e "$BK_AWS_URL" "$@" >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	cat "$BK_DIR/err" >>"$BK_DIR/all.err"
}
fault() {
	curl -s -o /dev/null -X POST -d "$1" "$BK_AWS_URL/_fake/fault"
}
# line N: line N of OUT.
line() {
	printf '%s\n' "$OUT" | sed -n "${1}p"
}

# ------------------------------------------------------------- signing

ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200 attempts 1$" "EC2 accepts our signature"
like "$OUT" "<DescribeInstancesResponse" "and answers its XML"
ac raw ecs ListContainerInstances '{"cluster":"none"}'
like "$(line 1)" "^error ClusterNotFoundException attempts 1: " \
    "ECS accepts our signature (and says there is no such cluster)"
ac raw logs GetLogEvents '{"logGroupName":"/g","logStreamName":"s"}'
like "$(line 1)" "^error ResourceNotFoundException attempts 1: " \
    "CloudWatch Logs accepts it (and says the stream is missing)"
C_SECRET=not-the-secret ac raw ec2 DescribeInstances
like "$(line 1)" "^error SignatureDoesNotMatch attempts 1: EC2 DescribeInstances failed: SignatureDoesNotMatch \\(HTTP 403\\): " \
    "a wrong secret: refused, not retried, in a sentence"
C_ENV=AWS_SESSION_TOKEN=token-$$ ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200" "a session token is sent and signed"

# ---------------------------------------------------------- credentials

C_KEY='' C_SECRET='' ac raw ec2 DescribeInstances
like "$(line 1)" "^error - attempts 1: EC2 DescribeInstances failed: no AWS credentials: none in the environment or for profile default in the shared files, and the instance metadata service at http://127.0.0.1:9 did not answer" \
    "no credentials anywhere: a sentence that names every place looked"
C_KEY='' ac raw ec2 DescribeInstances
like "$OUT" "AWS_SECRET_ACCESS_KEY is set in the environment but AWS_ACCESS_KEY_ID is not" \
    "half the keys in the environment: which one is missing"
cat >"$BK_DIR/credentials" <<EOF
[default]
aws_access_key_id = wrong
aws_secret_access_key = wrong
[ci]
aws_access_key_id = $KEY
aws_secret_access_key = $SECRET
EOF
C_KEY='' C_SECRET='' C_CREDS=$BK_DIR/credentials C_ENV=AWS_PROFILE=ci \
    ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200" "AWS_PROFILE picks a profile of the shared file"
# A second double that requires the session token its metadata service
# hands out: the call succeeds only with the role's whole credentials.
bk_aws_start imds --session-token "imds-$$"
bk_aws_wait imds
C_KEY='' C_SECRET='' C_ENV=AWS_EC2_METADATA_SERVICE_ENDPOINT=$BK_AWS_URL \
    ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200" \
    "an instance role's credentials, from IMDSv2, token and all"
like "$(cat "$BK_DIR/imds.log")" '"outcome": "ok"' \
    "and the double logged the call as signed correctly"
bk_aws_wait aws

# ------------------------------------------------------ retries, errors

fault '{"action":"DescribeInstances","error":"RequestLimitExceeded","count":2}'
ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200 attempts 3$" \
    "RequestLimitExceeded twice: retried, the third attempt succeeds"
fault '{"action":"ListContainerInstances","error":"ThrottlingException","count":1}'
ac raw ecs ListContainerInstances '{"cluster":"none"}'
like "$(line 1)" "^error ClusterNotFoundException attempts 2: " \
    "ECS's ThrottlingException: retried (then the real answer)"
fault '{"action":"DescribeInstances","error":"500","count":1}'
ac raw ec2 DescribeInstances
like "$(line 1)" "^ok 200 attempts 2$" "a bare 500: retried"
fault '{"action":"RunInstances","error":"InsufficientInstanceCapacity","count":1}'
ac raw ec2 RunInstances "ImageId=ami-1&InstanceType=c5.large&MinCount=1&MaxCount=1"
like "$(line 1)" "^error InsufficientInstanceCapacity attempts 1: EC2 RunInstances failed: InsufficientInstanceCapacity \\(HTTP 500\\): " \
    "InsufficientInstanceCapacity is not retried: the pool decides (spot falls back)"
fault '{"action":"DescribeInstances","error":"RequestLimitExceeded","count":20}'
ac raw ec2 DescribeInstances
like "$(line 1)" "^error RequestLimitExceeded attempts 6: .*after retries" \
    "throttled past six attempts: the error, saying it was retried"
fault '{"action":"DescribeInstances","error":"RequestLimitExceeded","count":0}'

# ------------------------------------------------------------------ EC2

ac run ci.example.org linux spot
I1=$(line 1 | cut -d' ' -f1)
like "$OUT" "^i-[0-9a-f]+ pending linux [0-9]+ spot$" \
    "RunInstances: pending, with the pool tag, a lease and spot"
ac run ci.example.org linux
I2=$(line 1 | cut -d' ' -f1)
like "$OUT" " on-demand$" "and on demand"
for _i in 1 2 3 4 5; do
	ac run ci.example.org other
done
ac run someone.else linux
ac list ci.example.org 5
is "$(printf '%s\n' "$OUT" | grep -c '^i-')" 7 \
    "DescribeInstances by the daemon tag: its 7 instances, not another's"
is "$(line '$')" "pages 2" "read across pages, 5 to a page"
like "$OUT" "$I1 (pending|running) linux" "with their state and pool"
ac lease 900 "$I1" "$I2"
is "$RC" 0 "CreateTags renews two leases"
lease=$(curl -s "$BK_AWS_URL/_fake/state" | "$BK_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print([i for i in d["instances"] if i["id"] == sys.argv[1]][0]["tags"]["beekeeper:lease-expires"])' "$I1")
now=$(date +%s)
ok "the lease is now about 900 s away" \
    test "$((lease - now))" -ge 890 -a "$((lease - now))" -le 910
ac terminate "$I2"
is "$RC" 0 "TerminateInstances"
gone() {
	ac list ci.example.org
	! printf '%s\n' "$OUT" | grep -q "^$I2 "
}
ok "the terminated instance leaves the daemon's list" bk_wait_for 10 gone

# ------------------------------------------------------------------ ECS

ac task linux "$I1" alpine:3 'echo hello from ECS; echo second line; exit 3'
is "$RC" 0 "a task on the container instance we chose runs to its end"
is "$(line 1)" "hello from ECS" "its log, copied from CloudWatch Logs"
is "$(line 2)" "second line" "every line"
is "$(line '$')" "exit 3" "and its exit status"

unlike "$(cat "$BK_DIR/all.err")" \
    "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" \
    "no sanitizer report from any call"
for _d in imds aws; do
	kill -TERM "$(cat "$BK_DIR/$_d.pid")"
	wait "$(cat "$BK_DIR/$_d.pid")"
	is "$?" 0 "the double $_d exits 0 on SIGTERM"
done
