#!/bin/sh
# 73-reap: "beekeeper reap", the sweep from cron, against the AWS double.
# Of the instances tagged with our daemon's name, it terminates those
# whose lease has expired and keeps the others; another daemon's are not
# touched; a dry run lists and terminates nothing; a second sweep finds
# nothing left to do; throttling is retried; an error of AWS, a failed
# TerminateInstances or a config without a region is one sentence on
# stderr and exit 1, and a bad option is exit 2.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CALL=$top_builddir/tests/tools/aws-call
BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
: "${BEEKEEPER:=$top_builddir/beekeeper}"
[ -x "$CALL" ] || skip_all "no $CALL (make check builds it)"
[ -x "$BEEKEEPER" ] || skip_all "no beekeeper at $BEEKEEPER"
[ -x "$BEEKEEPERD" ] || skip_all "no beekeeperd at $BEEKEEPERD"
"$BK_PYTHON" -c 'import http.server' 2>/dev/null ||
    skip_all "no $BK_PYTHON to run the AWS double"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
plan 45

KEY=AKIDEXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
bk_tmpdir
# Terminated instances stay shutting-down for the rest of the test, so
# the second sweep sees them (DescribeInstances still lists them).
bk_aws_start aws --boot-delay 0.1 --terminate-delay 600
bk_aws_wait aws
: >"$BK_DIR/empty"

# in_env CMD ARG...: CMD with only the keys, no shared files, no
# metadata service and no region in the environment; C_ENV adds one more
# variable.
in_env() {
	env -i PATH=/usr/bin:/bin HOME="$BK_DIR" \
	    AWS_CONFIG_FILE="$BK_DIR/empty" \
	    AWS_SHARED_CREDENTIALS_FILE="$BK_DIR/empty" \
	    AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:9/ \
	    AWS_ACCESS_KEY_ID="$KEY" AWS_SECRET_ACCESS_KEY="$SECRET" \
	    ${C_ENV:+"$C_ENV"} "$@" >"$BK_DIR/out" 2>"$BK_DIR/err"
	RC=$?
	OUT=$(cat "$BK_DIR/out")
	ERR=$(cat "$BK_DIR/err")
	cat "$BK_DIR/err" >>"$BK_DIR/all.err"
}
# ac ARG...: aws-call against the double, to set the scene ("--": a
# negative lease is not an option).
ac() {
	in_env "$CALL" -e "$BK_AWS_URL" -- "$@"
	[ "$RC" -eq 0 ] || { echo "Bail out! aws-call $*: $ERR"; exit 1; }
}
# reap ARG...: the tool's sweep (C_CONFIG: another config), beekeeperd
# found as make check says.
reap() {
	# shellcheck disable=SC2153 # set by make check
	in_env BEEKEEPERD="$BEEKEEPERD" "$BEEKEEPER" reap \
	    -f "${C_CONFIG:-$BK_CONFIG}" "$@"
}
fault() {
	curl -s -o /dev/null -X POST -d "$1" "$BK_AWS_URL/_fake/fault"
}
# state ID: the instance's state in the double.
state() {
	curl -s "$BK_AWS_URL/_fake/state" | "$BK_PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print([i for i in d["instances"] if i["id"] == sys.argv[1]][0]["state"])' "$1"
}
# live ID...: none of them is shutting down or terminated.
live() {
	for _i in "$@"; do
		case $(state "$_i") in
		pending|running)	;;
		*)			return 1 ;;
		esac
	done
	return 0
}
# ended ID...: all of them are.
ended() {
	for _i in "$@"; do
		case $(state "$_i") in
		shutting-down|terminated)	;;
		*)				return 1 ;;
		esac
	done
	return 0
}
# terminations: how many TerminateInstances the double answered.
terminations() {
	grep -c '"action": "TerminateInstances"' "$BK_DIR/aws.log"
}
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# Two of daemon A's instances keep their lease, two have let it run out,
# and one of daemon B's has too.
for _p in linux linux other other; do
	ac run A "$_p"
	set -- "$@" "${OUT%% *}"
done
A1=$1 A2=$2 A3=$3 A4=$4
ac run B linux
B1=${OUT%% *}
ac lease -60 "$A3" "$A4" "$B1"
bk_write_config "aws:" "  region: us-east-1" \
    "  endpoint_url: $BK_AWS_URL" "  daemon_name: A"

# ------------------------------------------------------------ dry run

reap --dry-run
is "$RC" 0 "a dry run exits 0"
like "$OUT" "^would terminate $A3 pool other lease expired $ISO \\([0-9]+ s ago\\)$" \
    "it lists an expired instance as one it would terminate"
like "$OUT" "^would terminate $A4 pool other lease expired " "and the other"
like "$OUT" "^keep $A1 pool linux lease until $ISO \\(in [0-9]+ s\\)$" \
    "an instance with a lease ahead is kept, and says until when"
is "$(printf '%s\n' "$OUT" | sed '$d' | grep -c .)" 4 \
    "one line for each of A's instances"
is "$(printf '%s\n' "$OUT" | tail -n 1)" \
    "4 instances of daemon A: 2 kept, 2 would be terminated" \
    "then the summary"
unlike "$OUT" "$B1" "another daemon's instance is not listed"
ok "nothing was terminated" live "$A1" "$A2" "$A3" "$A4" "$B1"
is "$(terminations)" 0 "no TerminateInstances was sent"

# ---------------------------------------------------------------- sweep

reap
is "$RC" 0 "the sweep exits 0"
like "$OUT" "^terminate $A3 pool other lease expired $ISO \\([0-9]+ s ago\\)$" \
    "it says it terminated an expired instance"
like "$OUT" "^terminate $A4 pool other lease expired " "and the other"
like "$OUT" "^keep $A2 pool linux lease until $ISO \\(in [0-9]+ s\\)$" \
    "it keeps one with a lease ahead"
is "$(printf '%s\n' "$OUT" | tail -n 1)" \
    "4 instances of daemon A: 2 kept, 2 terminated" "the summary"
ok "the expired ones of A are shutting down" ended "$A3" "$A4"
ok "the others, A's with leases and B's expired one, are not" \
    live "$A1" "$A2" "$B1"
is "$(terminations)" 1 "in one TerminateInstances"
like "$(grep TerminateInstances "$BK_DIR/aws.log")" \
    "\"InstanceId.1\": \"$A3\", \"InstanceId.2\": \"$A4\"\\}" \
    "of exactly those two"

reap
is "$RC" 0 "a second sweep exits 0"
is "$(printf '%s\n' "$OUT" | sed -n 's/^\([a-z ]*\) i-.*/\1/p' | sort -u)" \
    keep "it finds nothing to terminate: those shutting down are skipped"
is "$(printf '%s\n' "$OUT" | tail -n 1)" \
    "2 instances of daemon A: 2 kept, 0 terminated" "and counted out"
is "$(terminations)" 1 "and sends no TerminateInstances"

# ------------------------------------------------------------ retries

fault '{"action":"DescribeInstances","error":"RequestLimitExceeded","count":2}'
reap --dry-run
is "$RC" 0 "DescribeInstances throttled twice: the sweep still completes"
is "$(printf '%s\n' "$OUT" | tail -n 1)" \
    "2 instances of daemon A: 2 kept, 0 would be terminated" \
    "with the whole list"
is "$ERR" "" "and nothing on stderr: retries are for -v"

# ------------------------------------------------------------- errors

ac lease -60 "$A1"
fault '{"action":"DescribeInstances","error":"AuthFailure","count":1}'
reap
is "$RC" 1 "AuthFailure: exit 1"
like "$ERR" "^beekeeperd: EC2 DescribeInstances failed: AuthFailure \\(HTTP 401\\)" \
    "with a sentence that names the call and AWS's code"
is "$(printf '%s\n' "$ERR" | grep -c .)" 1 "one line"
is "$OUT" "" "and no output: a listing cut short decides nothing"
ok "nothing was terminated" live "$A1"

fault '{"action":"TerminateInstances","error":"UnauthorizedOperation","count":1}'
reap
is "$RC" 1 "TerminateInstances refused: exit 1"
like "$ERR" "^beekeeperd: EC2 TerminateInstances failed: UnauthorizedOperation .*; not terminated: $A1$" \
    "the sentence names the ids not terminated"
like "$OUT" "^not terminated $A1 pool linux lease expired " \
    "and so does the instance's line"
is "$(printf '%s\n' "$OUT" | tail -n 1)" \
    "2 instances of daemon A: 1 kept, 0 terminated, 1 not terminated" \
    "and the summary"
reap
ok "the next sweep terminates it" ended "$A1"

C_CONFIG=$BK_DIR/no-region.yml
bk_config_text "aws:" "  endpoint_url: $BK_AWS_URL" >"$C_CONFIG"
reap
is "$RC" 1 "a config without aws.region: exit 1"
like "$ERR" "^beekeeperd: .*no-region\\.yml sets no aws\\.region, nor does AWS_REGION in the environment" \
    "and a sentence saying so"
C_ENV=AWS_REGION=us-east-1 reap --dry-run
is "$RC" 0 "AWS_REGION in the environment will do"
C_CONFIG=''

# ---------------------------------------------------------- the tool

reap --bogus
is "$RC" 2 "a bad option: exit 2"
like "$ERR" "^usage: beekeeper reap \\[--dry-run\\] \\[-f file\\]$" \
    "with the usage"
in_env "$BEEKEEPER" reap -f "$BK_CONFIG" --dry-run
like "$OUT" "^1 instances of daemon A: 1 kept, 0 would be terminated$" \
    "without BEEKEEPERD it runs the beekeeperd beside it"
in_env BEEKEEPERD="$BK_DIR/nowhere" "$BEEKEEPER" reap -f "$BK_CONFIG"
is "$RC:$ERR" "1:beekeeper: reap: BEEKEEPERD=$BK_DIR/nowhere: No such file or directory" \
    "a BEEKEEPERD that is not there: said, exit 1"
in_env "$BEEKEEPERD" -R -n -f "$BK_CONFIG"
like "$OUT" "^1 instances of daemon A: 1 kept, 0 would be terminated$" \
    "beekeeperd -R -n is the same dry run"

unlike "$(cat "$BK_DIR/all.err")" \
    "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:" \
    "no sanitizer report from any run"
kill -TERM "$(cat "$BK_DIR/aws.pid")"
wait "$(cat "$BK_DIR/aws.pid")"
is "$?" 0 "the double exits 0 on SIGTERM"
