#!/bin/sh
# 70-aws-double.sh: the AWS double (tests/fakes/aws.py) is checked by a real
# client written by others, Debian's AWS CLI (/usr/bin/aws): every EC2, ECS
# and CloudWatch Logs action the daemon uses, answered in a shape the CLI
# parses; instance, container instance and task lifecycles (a task's
# command really runs, its output lands in its awslogs stream); faults on
# demand as the CLI's own errors; SigV4 refusals for a wrong secret, key or
# session token. The signature verifier is first checked on two vectors of
# AWS's SigV4 test suite (tests/data/sigv4/v4). Waiting is done by polling
# the double's /_fake/state, which costs no CLI start (seconds each, on a
# busy machine).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

BK_PYTHON=${BK_PYTHON:-/usr/bin/python3}
AWS_CLI=${BK_AWS_CLI:-/usr/bin/aws}
[ -x "$BK_PYTHON" ] || skip_all "no Debian python3 at $BK_PYTHON"
[ -x "$AWS_CLI" ] ||
    skip_all "no AWS CLI at $AWS_CLI (Debian's awscli, scripts/deps --test)"
command -v curl >/dev/null 2>&1 || skip_all "curl not found"
# About 65 starts of the CLI, 1 to 5 s each on a loaded machine.
: "${BK_TEST_TIMEOUT:=900}"

FAKE=$top_srcdir/tests/fakes/aws.py
KEY=AKIDEXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
AMI=ami-0123456789abcdef0

plan 84

bk_tmpdir
OUT=$BK_DIR/cli.out
ERR=$BK_DIR/cli.err
: >"$BK_DIR/aws-config"
: >"$BK_DIR/aws-credentials"

# awsc ARG...: the real CLI against the double (A_URL, else BK_AWS_URL),
# with no user configuration, one attempt, the credentials KEY and SECRET
# (A_KEY, A_SECRET, A_TOKEN override them); its output in OUT and ERR.
awsc() {
	env -i PATH=/usr/bin:/bin HOME="$BK_DIR" LANG=C.UTF-8 \
	    AWS_CONFIG_FILE="$BK_DIR/aws-config" \
	    AWS_SHARED_CREDENTIALS_FILE="$BK_DIR/aws-credentials" \
	    AWS_ACCESS_KEY_ID="${A_KEY:-$KEY}" \
	    AWS_SECRET_ACCESS_KEY="${A_SECRET:-$SECRET}" \
	    ${A_TOKEN:+"AWS_SESSION_TOKEN=$A_TOKEN"} \
	    AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard AWS_PAGER= \
	    AWS_EC2_METADATA_DISABLED=true \
	    "$AWS_CLI" --endpoint-url "${A_URL:-$BK_AWS_URL}" \
	    --region us-east-1 --output json "$@" >"$OUT" 2>"$ERR"
}

# py FILE CODE: the value of CODE's last expression (statements may come
# first) over the JSON in FILE, "d"; strings as they are, anything else as
# JSON.
py() {
	"$BK_PYTHON" -c 'import ast, json, sys
ns = {"d": json.load(open(sys.argv[1]))}
code = ast.parse("\n".join(l.strip() for l in sys.argv[2].splitlines()))
last = code.body.pop()
exec(compile(code, "code", "exec"), ns)
v = eval(compile(ast.Expression(last.value), "code", "eval"), ns)
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

# j EXPR: EXPR over the CLI's last output.
j() {
	py "$OUT" "$1"
}

# st EXPR: EXPR over the double's (A_URL's, else BK_AWS_URL's)
# /_fake/state now.
st() {
	curl -s "${A_URL:-$BK_AWS_URL}/_fake/state" >"$BK_DIR/now.json" &&
	    py "$BK_DIR/now.json" "$1"
}

# st_true EXPR: EXPR over /_fake/state is true.
st_true() {
	[ "$(st "bool($1)")" = true ]
}

# cli_ok DESC: the last CLI call exited 0; else its stderr as diagnostics.
cli_ok() {
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		pass "$1"
	else
		not_ok "$1" "aws exited $_rc:" "$(cat "$ERR")"
	fi
}

# cli_fails ERE DESC: the last CLI call failed with a message matching ERE.
cli_fails() {
	_rc=$?
	if [ "$_rc" -ne 0 ] && grep -Eq -e "$1" "$ERR"; then
		pass "$2"
	else
		not_ok "$2" "aws exited $_rc, stderr:" "$(cat "$ERR")"
	fi
}

# fault JSON: arm a fault through the control endpoint.
fault() {
	curl -s -o /dev/null -X POST -d "$1" "$BK_AWS_URL/_fake/fault"
}

# task_of ID: the state's task whose ARN ends in ID, as a Python expression.
task_of() {
	echo "[t for t in d['tasks'] if t['taskArn'].endswith('/$1')][0]"
}

# ------------------------------------------------------- the verifier

for _c in post-x-www-form-urlencoded get-vanilla-with-session-token; do
	_got=$("$BK_PYTHON" "$FAKE" --self-test "$BK_DATA/sigv4/v4/$_c" 2>&1)
	is "$_got" "ok canonical-request
ok string-to-sign
ok signature
ok tampered-refused" \
	    "SigV4 vector $_c: canonical request, string to sign and signature byte for byte; a wrong secret refused"
done

"$BK_PYTHON" "$FAKE" --boot-delay -1 >/dev/null 2>"$BK_DIR/opt.err"
is "$?:$(tail -n 1 "$BK_DIR/opt.err")" \
    "2:aws.py: error: --boot-delay: must not be negative" \
    "a negative delay: exit 2 with the reason"

# --------------------------------------------------------------- EC2

bk_aws_start aws --boot-delay 15 --register-delay 0.5 --task-delay 0.3
bk_aws_wait aws
pass "the double prints its port once bound"

USER_DATA=$(printf '#!/bin/sh\necho ECS_CLUSTER=bees >>/etc/ecs/ecs.config\n')
run_spot() {
	awsc ec2 run-instances --image-id "$AMI" --instance-type t3.small \
	    --count 1 --client-token "$1" --user-data "$USER_DATA" \
	    --tag-specifications "ResourceType=instance,Tags=[{Key=beekeeper:pool,Value=$2},{Key=beekeeper:daemon,Value=test}]" \
	    --instance-market-options 'MarketType=spot,SpotOptions={SpotInstanceType=one-time}' \
	    --iam-instance-profile Name=beekeeper-task --subnet-id subnet-0abc \
	    --security-group-ids sg-0abc
}
run_spot tok-1 alpha
cli_ok "run-instances with tags, spot, user data, a profile, subnet and group"
I1=$(j 'd["Instances"][0]["InstanceId"]')
is "$(j 'i = d["Instances"][0]; " ".join([i["State"]["Name"],
    str(i["State"]["Code"]), i["InstanceLifecycle"], i["InstanceType"],
    {t["Key"]: t["Value"] for t in i["Tags"]}["beekeeper:pool"],
    i["IamInstanceProfile"]["Arn"], i["SubnetId"],
    i["SecurityGroups"][0]["GroupId"], d["ReservationId"][:2]])')" \
    "pending 0 spot t3.small alpha arn:aws:iam::123456789012:instance-profile/beekeeper-task subnet-0abc sg-0abc r-" \
    "... the CLI reads the reservation: pending, spot, the tags and the rest"
is "$(st 'd["instances"][0]["cluster"]')" bees \
    "... the user data arrived base64-encoded and names the cluster"

awsc ec2 describe-instances --filters Name=tag:beekeeper:pool,Values=alpha
is "$(j '[(i["InstanceId"], i["State"]["Name"]) for r in d["Reservations"]
    for i in r["Instances"]]')" "[[\"$I1\", \"pending\"]]" \
    "describe-instances by tag finds it, pending"

run_spot tok-1 alpha
is "$(j 'd["Instances"][0]["InstanceId"]'):$(st 'len(d["instances"])')" \
    "$I1:1" "the same ClientToken again: the same instance, no new one"
run_spot tok-1 beta
cli_fails '\(IdempotentParameterMismatch\) when calling the RunInstances operation' \
    "... with other parameters: IdempotentParameterMismatch"

# Pagination: 7 instances in one reservation, pages of 5.
awsc ec2 run-instances --image-id "$AMI" --instance-type t3.micro \
    --count 7 --tag-specifications \
    'ResourceType=instance,Tags=[{Key=beekeeper:pool,Value=page}]'
is "$(j 'len(d["Instances"])')" 7 "run-instances --count 7: seven instances"
cp "$BK_DIR/aws.log" "$BK_DIR/aws.log.before"
awsc ec2 describe-instances --page-size 5 \
    --filters Name=tag:beekeeper:pool,Values=page
is "$(j 'ids = [i["InstanceId"] for r in d["Reservations"]
    for i in r["Instances"]]; "%d %d" % (len(ids), len(set(ids)))')" "7 7" \
    "describe-instances --page-size 5: the CLI follows NextToken, all 7 once"
LOGNEW=$(tail -n +"$(($(wc -l <"$BK_DIR/aws.log.before") + 1))" \
    "$BK_DIR/aws.log")
is "$(printf '%s\n' "$LOGNEW" | "$BK_PYTHON" -c 'import json, sys
for l in sys.stdin:
    p = json.loads(l)["params"]
    print(p.get("MaxResults"), "NextToken" in p)')" "5 False
5 True" "... in two requests of MaxResults 5, the second with the token"
awsc ec2 describe-instances --no-paginate --max-results 5 \
    --filters Name=tag:beekeeper:pool,Values=page
is "$(j '"%d %s" % (sum(len(r["Instances"]) for r in d["Reservations"]),
    bool(d.get("NextToken")))')" "5 True" \
    "one page of --max-results 5: 5 instances and a NextToken"
awsc ec2 describe-instances --no-paginate --max-results 3
cli_fails '\(InvalidParameterValue\) when calling the DescribeInstances operation.*maxResults' \
    "MaxResults below 5: InvalidParameterValue, as EC2"
P1=$(st '[i["id"] for i in d["instances"] if i["tags"].get("beekeeper:pool") == "page"][0]')

awsc ec2 create-tags --resources "$I1" \
    --tags Key=beekeeper:lease-expires,Value=2030-01-01T00:00:00Z
cli_ok "create-tags"
awsc ec2 describe-instances --instance-ids "$I1"
is "$(j '{t["Key"]: t["Value"] for t in
    d["Reservations"][0]["Instances"][0]["Tags"]}["beekeeper:lease-expires"]')" \
    2030-01-01T00:00:00Z "... the tag is visible"
awsc ec2 describe-instances --instance-ids i-0000000000000dead
cli_fails '\(InvalidInstanceID\.NotFound\).*i-0000000000000dead' \
    "an unknown instance id: InvalidInstanceID.NotFound"

awsc ec2 terminate-instances --instance-ids "$P1"
like "$(j 'i = d["TerminatingInstances"][0]; " ".join([i["InstanceId"],
    i["PreviousState"]["Name"], i["CurrentState"]["Name"],
    str(i["CurrentState"]["Code"])])')" "^$P1 (pending|running) shutting-down 32\$" \
    "terminate-instances: previous and current state"
bk_wait_for 20 st_true "[i for i in d['instances'] if i['id'] == '$P1' and i['state'] == 'terminated']"
awsc ec2 describe-instances \
    --filters Name=instance-state-name,Values=terminated \
    Name=instance-id,Values="$P1"
is "$(j '[i["InstanceId"] + " " + i["StateReason"]["Code"]
    for r in d["Reservations"] for i in r["Instances"]]')" \
    "[\"$P1 Client.UserInitiatedShutdown\"]" \
    "... then terminated, found by state and id filters"

# --------------------------------------------------------------- ECS

TD_CONTAINERS='[{"name":"main","image":"debian:12","memory":128,
"command":["echo from the definition"],
"environment":[{"name":"WHO","value":"definition"},{"name":"FOO","value":"bar"}],
"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/beekeeper/tasks",
"awslogs-region":"us-east-1","awslogs-stream-prefix":"bk"}}}]'
awsc ecs register-task-definition --family bk-test \
    --container-definitions "$TD_CONTAINERS"
is "$(j 'd["taskDefinition"]["taskDefinitionArn"]')" \
    "arn:aws:ecs:us-east-1:123456789012:task-definition/bk-test:1" \
    "register-task-definition: revision 1"
awsc ecs register-task-definition --family bk-test \
    --container-definitions "$TD_CONTAINERS"
awsc ecs describe-task-definition --task-definition bk-test
is "$(j 't = d["taskDefinition"]; c = t["containerDefinitions"][0];
    "%d %s %s %s" % (t["revision"], t["status"], c["essential"],
    c["logConfiguration"]["options"]["awslogs-group"])')" \
    "2 ACTIVE True /beekeeper/tasks" \
    "describe-task-definition by family: the latest revision, awslogs kept"
awsc ecs register-task-definition --family bk-test \
    --container-definitions '[{"name":"main","image":"debian:12"}]'
cli_fails '\(ClientException\).*memoryReservation' \
    "a container without memory: ClientException, as ECS"
awsc ecs describe-task-definition --task-definition nothing-here
cli_fails '\(ClientException\) when calling the DescribeTaskDefinition operation' \
    "an unknown task definition: ClientException"

bk_wait_for 30 st_true "[i for i in d['instances'] if i['id'] == '$I1' and i['state'] == 'running']"
awsc ec2 describe-instances --filters Name=tag:beekeeper:pool,Values=alpha
is "$(j '[i["State"]["Name"] for r in d["Reservations"]
    for i in r["Instances"]]')" '["running"]' \
    "... after --boot-delay the instance is running"

bk_wait_for 20 st_true "d['container_instances']"
awsc ecs list-container-instances --cluster bees
CI=$(j 'd["containerInstanceArns"][0]')
like "$CI" '^arn:aws:ecs:us-east-1:123456789012:container-instance/bees/[0-9a-f]{32}$' \
    "list-container-instances: its container instance registered in the user data's cluster"
awsc ecs describe-container-instances --cluster bees --container-instances "$CI"
is "$(j 'c = d["containerInstances"][0]; r = {x["name"]: x["integerValue"]
    for x in c["remainingResources"]}; "%s %s %s %d %d" % (c["ec2InstanceId"],
    c["status"], c["agentConnected"], c["runningTasksCount"], r["MEMORY"])')" \
    "$I1 ACTIVE True 0 1939" \
    "describe-container-instances: ec2InstanceId, ACTIVE, no tasks, its memory"
awsc ecs list-container-instances --cluster nowhere
cli_fails '\(ClusterNotFoundException\)' "an unknown cluster: ClusterNotFoundException"

# start TASKDEF COMMAND [MORE...]: start-task on CI with one override.
start() {
	_td=$1
	_cmd=$2
	shift 2
	awsc ecs start-task --cluster bees --task-definition "$_td" \
	    --container-instances "$CI" --started-by beekeeper-test \
	    --overrides "{\"containerOverrides\":[{\"name\":\"main\",
\"command\":[$_cmd],\"environment\":[{\"name\":\"WHO\",\"value\":\"override\"}]}]}" \
	    "$@"
}
# shellcheck disable=SC2016 # expanded by the task's shell
start bk-test:1 '"echo hello $WHO $FOO; exit 3"'
T1=$(j 'd["tasks"][0]["taskArn"]')
is "$(j 't = d["tasks"][0]; "%s %s %s %d" % (t["lastStatus"],
    t["desiredStatus"], t["startedBy"], len(d["failures"]))')" \
    "PENDING RUNNING beekeeper-test 0" \
    "start-task on the chosen container instance: PENDING, to run"
T1ID=${T1##*/}
bk_wait_for 20 st_true "$(task_of "$T1ID")['lastStatus'] == 'STOPPED'"
awsc ecs describe-tasks --cluster bees --tasks "$T1" \
    "arn:aws:ecs:us-east-1:123456789012:task/bees/0123456789abcdef0123456789abcdef"
is "$(j 't = d["tasks"][0]; c = t["containers"][0]; "%s %s %s / %s %s" % (
    t["lastStatus"], c["exitCode"], t["stopCode"], t["stoppedReason"],
    [f["reason"] for f in d["failures"]])')" \
    "STOPPED 3 EssentialContainerExited / Essential container in task exited ['MISSING']" \
    "describe-tasks: STOPPED, exit code 3; an unknown task a MISSING failure"
awsc logs get-log-events --log-group-name /beekeeper/tasks \
    --log-stream-name "bk/main/$T1ID" --start-from-head
is "$(j '[e["message"] for e in d["events"]]')" '["hello override bar"]' \
    "get-log-events on bk/main/TASKID: the command's output, with the override's environment"
awsc logs get-log-events --log-group-name /beekeeper/tasks \
    --log-stream-name bk/main/nothing
cli_fails '\(ResourceNotFoundException\) when calling the GetLogEvents operation' \
    "a missing stream: ResourceNotFoundException"

awsc logs create-log-group --log-group-name /beekeeper/other
cli_ok "create-log-group"
awsc logs create-log-group --log-group-name /beekeeper/other
cli_fails '\(ResourceAlreadyExistsException\) when calling the CreateLogGroup operation' \
    "... twice: ResourceAlreadyExistsException"

# Log tokens: five lines, read forward 2 then 3, then at the end.
# shellcheck disable=SC2016 # expanded by the task's shell
start bk-test:2 '"for i in 1 2 3 4 5; do echo line$i; done"'
T2ID=$(j 'd["tasks"][0]["taskArn"].split("/")[-1]')
bk_wait_for 20 st_true "$(task_of "$T2ID")['lastStatus'] == 'STOPPED'"
G="--log-group-name /beekeeper/tasks --log-stream-name bk/main/$T2ID"
# shellcheck disable=SC2086 # G is two options and their values
awsc logs get-log-events $G --start-from-head --limit 2
F1=$(j 'd["nextForwardToken"]')
is "$(j '[e["message"] for e in d["events"]]')" '["line1", "line2"]' \
    "get-log-events --start-from-head --limit 2: the first two"
# shellcheck disable=SC2086
awsc logs get-log-events $G --next-token "$F1" --limit 3
F2=$(j 'd["nextForwardToken"]')
is "$(j '[e["message"] for e in d["events"]]')" \
    '["line3", "line4", "line5"]' "... its forward token: the next three"
# shellcheck disable=SC2086
awsc logs get-log-events $G --next-token "$F2"
is "$(j '"%d %s" % (len(d["events"]), d["nextForwardToken"] == "'"$F2"'")')" \
    "0 True" "... at the end: no events, the same token back"
# shellcheck disable=SC2086
awsc logs get-log-events $G --limit 2
B1=$(j 'd["nextBackwardToken"]')
is "$(j '[e["message"] for e in d["events"]]')" '["line4", "line5"]' \
    "without --start-from-head: the last two"
# shellcheck disable=SC2086
awsc logs get-log-events $G --next-token "$B1" --limit 2
is "$(j '[e["message"] for e in d["events"]]')" '["line2", "line3"]' \
    "... its backward token: the two before"

# StopTask kills the running command.
start bk-test:2 "\"echo \$\$ >$BK_DIR/t3.pid; exec sleep 61\""
T3=$(j 'd["tasks"][0]["taskArn"]')
bk_wait_for 20 st_true "$(task_of "${T3##*/}")['lastStatus'] == 'RUNNING'"
bk_wait_for 10 test -s "$BK_DIR/t3.pid"
T3PID=$(cat "$BK_DIR/t3.pid")
awsc ecs describe-container-instances --cluster bees --container-instances "$CI"
is "$(j 'c = d["containerInstances"][0]; r = {x["name"]: x["integerValue"]
    for x in c["remainingResources"]}; "%d %d" % (c["runningTasksCount"],
    r["MEMORY"])')" "1 1811" \
    "a running task counts on its container instance and holds its memory"
awsc ecs list-tasks --cluster bees --container-instance "$CI"
is "$(j 'd["taskArns"]')" "[\"$T3\"]" \
    "list-tasks: the task running on a container instance"
awsc ecs stop-task --cluster bees --task "$T3" --reason "cancelled by test"
is "$(j '"%s / %s" % (d["task"]["desiredStatus"], d["task"]["stoppedReason"])')" \
    "STOPPED / cancelled by test" "stop-task: desired STOPPED, with the reason"
bk_wait_for 20 st_true "$(task_of "${T3##*/}")['lastStatus'] == 'STOPPED'"
awsc ecs list-tasks --cluster bees --container-instance "$CI"
is "$(j 'd["taskArns"]')" "[]" "... and once stopped, not any more"
awsc ecs describe-tasks --cluster bees --tasks "$T3"
is "$(j 't = d["tasks"][0]; "%s %s %s" % (t["lastStatus"], t["stopCode"],
    t["containers"][0]["exitCode"])')" "STOPPED UserInitiated 143" \
    "... STOPPED, UserInitiated, exit 143 (SIGTERM)"
ok "... and its process is gone" sh -c "! kill -0 '$T3PID' 2>/dev/null"

awsc ecs update-container-instances-state --cluster bees \
    --container-instances "$CI" --status DRAINING
is "$(j 'd["containerInstances"][0]["status"]')" DRAINING \
    "update-container-instances-state DRAINING"
awsc ecs list-container-instances --cluster bees --status DRAINING
is "$(j 'd["containerInstanceArns"]')" "[\"$CI\"]" \
    "list-container-instances --status DRAINING lists it"
awsc ecs update-container-instances-state --cluster bees \
    --container-instances "$CI" --status ACTIVE
is "$(j 'd["containerInstances"][0]["status"]')" ACTIVE "... and back to ACTIVE"

# ------------------------------------------------------------- faults

fault '{"action":"RunInstances","error":"InsufficientInstanceCapacity","count":1}'
awsc ec2 run-instances --image-id "$AMI" --instance-type t3.micro --count 1
cli_fails '^An error occurred \(InsufficientInstanceCapacity\) when calling the RunInstances operation' \
    "a capacity fault: the CLI's InsufficientInstanceCapacity error"
awsc ec2 run-instances --image-id "$AMI" --instance-type t3.micro --count 1 \
    --tag-specifications 'ResourceType=instance,Tags=[{Key=beekeeper:pool,Value=gone}]'
cli_ok "... a count of 1 fails one call only"
I2=$(j 'd["Instances"][0]["InstanceId"]')
fault '{"action":"DescribeInstances","error":"RequestLimitExceeded"}'
awsc ec2 describe-instances
cli_fails '^An error occurred \(RequestLimitExceeded\) when calling the DescribeInstances operation' \
    "RequestLimitExceeded on DescribeInstances"
fault '{"action":"DescribeTasks","error":"ThrottlingException"}'
awsc ecs describe-tasks --cluster bees --tasks "$T1"
cli_fails '^An error occurred \(ThrottlingException\) when calling the DescribeTasks operation' \
    "ThrottlingException on ECS DescribeTasks"
fault '{"action":"GetLogEvents","error":"InternalError"}'
# shellcheck disable=SC2086
awsc logs get-log-events $G
cli_fails '^An error occurred \(InternalError\) when calling the GetLogEvents operation' \
    "InternalError on Logs GetLogEvents"
fault '{"action":"ListContainerInstances","error":"500"}'
awsc ecs list-container-instances --cluster bees
cli_fails '^An error occurred \(500\) when calling the ListContainerInstances operation' \
    "a bare HTTP 500 on ListContainerInstances"
is "$(tail -n 7 "$BK_DIR/aws.log" | "$BK_PYTHON" -c 'import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["outcome"] != "ok":
        print(r["action"], r["status"], r["outcome"])')" \
    "RunInstances 500 InsufficientInstanceCapacity
DescribeInstances 503 RequestLimitExceeded
DescribeTasks 400 ThrottlingException
GetLogEvents 500 InternalError
ListContainerInstances 500 500" \
    "the log: each fault with the HTTP status AWS uses"

# -------------------------------------------------------- signatures

A_SECRET=not-the-secret awsc ec2 describe-instances
cli_fails '\(SignatureDoesNotMatch\) when calling the DescribeInstances operation' \
    "EC2, a wrong secret: SignatureDoesNotMatch"
A_SECRET=not-the-secret awsc ecs list-container-instances --cluster bees
cli_fails '\(InvalidSignatureException\) when calling the ListContainerInstances operation' \
    "ECS, a wrong secret: InvalidSignatureException"
A_KEY=AKIDNOTEXAMPLE awsc logs get-log-events --log-group-name x \
    --log-stream-name y
cli_fails '\(UnrecognizedClientException\) when calling the GetLogEvents operation' \
    "Logs, an unknown key: UnrecognizedClientException"
STATUS=$(curl -s -o "$BK_DIR/body" -w '%{http_code}' \
    -d 'Action=DescribeInstances&Version=2016-11-15' "$BK_AWS_URL/")
like "$STATUS $(tr -d '\n' <"$BK_DIR/body")" '^401 .*<Code>AuthFailure</Code>' \
    "an unsigned request: 401 AuthFailure"
if curl --help all 2>/dev/null | grep -q -e --aws-sigv4; then
	STATUS=$(curl -s -o "$BK_DIR/body" -w '%{http_code}' \
	    --aws-sigv4 aws:amz:us-east-1:ec2 --user "$KEY:$SECRET" \
	    -d 'Action=DescribeInstances&Version=2016-11-15' "$BK_AWS_URL/")
	like "$STATUS $(tr -d '\n' <"$BK_DIR/body")" \
	    '^200 .*<DescribeInstancesResponse xmlns="http://ec2\.amazonaws\.com/doc/2016-11-15/">' \
	    "libcurl's signer (curl --aws-sigv4, the daemon's transport) is accepted"
else
	skip "libcurl's signer is accepted" "curl has no --aws-sigv4"
fi
A_TOKEN=session-token-$$ awsc ec2 describe-instances --instance-ids "$I1"
cli_ok "temporary credentials (a session token, signed) are accepted"

MAIN=$BK_AWS_URL
bk_aws_start sts --session-token "session-token-$$"
bk_aws_wait sts
STS=$BK_AWS_URL
BK_AWS_URL=$MAIN
A_URL=$STS A_TOKEN=session-token-$$ awsc ec2 describe-instances
cli_ok "--session-token: the right token is accepted"
A_URL=$STS A_TOKEN=another-token awsc ec2 describe-instances
cli_fails '\(AuthFailure\) when calling the DescribeInstances operation' \
    "... another token: AuthFailure"
A_URL=$STS awsc ecs list-container-instances
cli_fails '\(UnrecognizedClientException\)' \
    "... none: UnrecognizedClientException"

# The instance metadata service (IMDSv2): the CLI, with no key of its own,
# finds an instance role's credentials there and signs with them.
imds() {
	env -i PATH=/usr/bin:/bin HOME="$BK_DIR" LANG=C.UTF-8 \
	    AWS_CONFIG_FILE="$BK_DIR/aws-config" \
	    AWS_SHARED_CREDENTIALS_FILE="$BK_DIR/aws-credentials" \
	    AWS_EC2_METADATA_SERVICE_ENDPOINT="$STS/" \
	    AWS_MAX_ATTEMPTS=1 AWS_PAGER= \
	    "$AWS_CLI" --region us-east-1 --output json "$@" >"$OUT" 2>"$ERR"
}
imds configure export-credentials --format process
cli_ok "the CLI takes a role's credentials from the metadata service"
is "$(j '[d["AccessKeyId"], d["SessionToken"]]')" \
    "[\"$KEY\", \"session-token-$$\"]" "... the role's keys and token"
imds --endpoint-url "$STS" ec2 describe-instances
cli_ok "... and signs with them a request the double accepts"
is "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
    "$STS/latest/api/token")" 400 "IMDS: a token without a lifetime: 400"
is "$(curl -s -o /dev/null -w '%{http_code}' \
    "$STS/latest/meta-data/iam/security-credentials/")" 401 \
    "IMDS: a role without a token: 401 (version 2 only)"

# ------------------------------------------ spot interruption, vanishing

start bk-test:2 '"exec sleep 62"'
T4=$(j 'd["tasks"][0]["taskArn"]')
bk_wait_for 20 st_true "$(task_of "${T4##*/}")['lastStatus'] == 'RUNNING'"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -d "{\"instance\":\"$I1\"}" "$BK_AWS_URL/_fake/spot-interrupt")
is "$STATUS" 200 "/_fake/spot-interrupt on the spot instance"
bk_wait_for 20 st_true "[i for i in d['instances'] if i['id'] == '$I1' and i['state'] == 'terminated'] and $(task_of "${T4##*/}")['lastStatus'] == 'STOPPED'"
awsc ec2 describe-instances --instance-ids "$I1"
is "$(j 'i = d["Reservations"][0]["Instances"][0]; "%s %s" % (
    i["State"]["Name"], i["StateReason"]["Code"])')" \
    "terminated Server.SpotInstanceTermination" \
    "describe-instances: terminated, Server.SpotInstanceTermination"
awsc ecs describe-tasks --cluster bees --tasks "$T4"
is "$(j 't = d["tasks"][0]; "%s %s / %s" % (t["lastStatus"], t["stopCode"],
    t["stoppedReason"])')" \
    "STOPPED SpotInterruption / Host EC2 (instance $I1) terminated." \
    "... its task stopped, as ECS says when a host goes"
awsc ecs list-container-instances --cluster bees
is "$(j 'd["containerInstanceArns"]')" "[]" \
    "... its container instance deregistered"

STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -d "{\"instance\":\"$I2\"}" "$BK_AWS_URL/_fake/spot-interrupt")
is "$STATUS" 400 "an on-demand instance cannot be spot-interrupted"
curl -s -o /dev/null -X POST -d "{\"instance\":\"$I2\"}" \
    "$BK_AWS_URL/_fake/vanish"
awsc ec2 describe-instances --filters Name=tag:beekeeper:pool,Values=gone
is "$(j 'd["Reservations"]')" "[]" \
    "/_fake/vanish: the instance is gone from describe-instances"
awsc ec2 describe-instances --instance-ids "$I2"
cli_fails '\(InvalidInstanceID\.NotFound\)' "... and unknown by id"

# ------------------------------------------ no task outlives the double

A_URL=$STS
A_TOKEN=session-token-$$
awsc ec2 run-instances --image-id "$AMI" --instance-type t3.micro --count 2 \
    --user-data "$USER_DATA"
awsc ecs register-task-definition --family bk-test \
    --container-definitions "$TD_CONTAINERS"
bk_wait_for 20 st_true "len(d['container_instances']) == 2"
CI2=$(st 'd["container_instances"][0]["arn"]')
awsc ecs list-container-instances --cluster bees --page-size 1
is "$(j 'a = d["containerInstanceArns"]; "%d %d" % (len(a), len(set(a)))'):$(
    grep -c '"action": "ListContainerInstances", .*"maxResults": 1' \
    "$BK_DIR/sts.log"):$(grep -c '"ListContainerInstances".*"nextToken"' \
    "$BK_DIR/sts.log")" "2 2:2:1" \
    "list-container-instances --page-size 1: both, in two pages by nextToken"
awsc ecs start-task --cluster bees --task-definition bk-test \
    --container-instances "$CI2" --overrides "{\"containerOverrides\":[{
\"name\":\"main\",\"command\":[\"echo \$\$ >$BK_DIR/t5.pid; exec sleep 63\"]}]}"
cli_ok "a task on the second double"
bk_wait_for 20 test -s "$BK_DIR/t5.pid"
T5PID=$(cat "$BK_DIR/t5.pid")
kill -KILL "$(cat "$BK_DIR/sts.pid")"
wait "$(cat "$BK_DIR/sts.pid")" 2>/dev/null
if bk_wait_for 5 sh -c "! kill -0 '$T5PID' 2>/dev/null"; then
	pass "the double killed with SIGKILL: its task's command dies with it"
else
	not_ok "the double killed with SIGKILL: its task's command dies with it" \
	    "pid $T5PID still runs: $(ps -o args= -p "$T5PID")"
	kill -KILL "$T5PID"
fi
A_URL=
A_TOKEN=

# ---------------------------------------------------------- the log

"$BK_PYTHON" -c 'import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert set(r) >= {"service", "action", "params", "status", "outcome"}
    n += 1
assert n > 40, n' "$BK_DIR/aws.log"
is "$?" 0 "the log: one JSON line per request with service, action, params, outcome"
ok "the log never holds the secret, the user data or the signature" \
    sh -c "! grep -q -e '$SECRET' -e ECS_CLUSTER -e Signature= '$BK_DIR/aws.log'"
is "$(py "$BK_DIR/aws.state" '"%d %d" % (len(d["instances"]), len(d["tasks"]))')" \
    "8 4" "--state: the dump holds every instance and task"

curl -s -o /dev/null -X POST "$BK_AWS_URL/_fake/reset"
is "$(st '[len(d[k]) for k in ("instances", "tasks", "task_definitions")]')" \
    "[0, 0, 0]" "/_fake/reset forgets everything"

kill -TERM "$(cat "$BK_DIR/aws.pid")"
wait "$(cat "$BK_DIR/aws.pid")"
is "$?" 0 "the double exits 0 on SIGTERM"
