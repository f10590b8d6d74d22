#!/bin/sh
# 01-config: "beekeeperd -n" checks a config file. A good one exits 0 and
# prints the effective config without any secret (the webhook secret, the
# GitHub token, the secrets: of the tasks); a bad one exits 1 and says
# "FILE:LINE: reason" on stderr.
#
# The bad cases are data: each tests/data/config/NAME.yml has a
# NAME.expect whose lines are fixed strings that must all appear in the
# daemon's stderr (the first is "@CONFIG@:LINE:"). In both files @DIR@ is
# a temporary directory, @SECRET@ a 0600 secret file, @SECRET_0644@ a
# secret file readable by everyone, @CONFIG@ the config file's path.
#
# aws.region defaults to AWS_REGION, else AWS_DEFAULT_REGION: both are
# unset here, so that a developer's shell cannot change what a case
# means, and set only for the checks of that default.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -x "$BEEKEEPERD" ] || skip_all "no daemon at $BEEKEEPERD"
cases=$(cd "$BK_DATA/config" && ls -- *.yml 2>/dev/null)
[ -n "$cases" ] || skip_all "no cases in $BK_DATA/config"
ncases=$(printf '%s\n' "$cases" | wc -l)

unset AWS_REGION AWS_DEFAULT_REGION

plan $((43 + 3 * ncases))

bk_tmpdir
mkdir -p "$BK_STATE"
secret644=$BK_DIR/secret-0644
(umask 022 && printf '%s' "$BK_SECRET" >"$secret644")
chmod 0644 "$secret644"

# ---------------------------------------------------------- a good config

BK_MAX_DELIVERY_SIZE=1K BK_LEGACY_SIGNATURES=true bk_write_config \
    "pid_file: $BK_DIR/run.pid" \
    "variables:" \
    "  - name: PIP_INDEX_URL" \
    "    value: https://pypi.example/simple/" \
    "    project: beeware/toga" \
    "secrets:" \
    "  - name: TWINE_PASSWORD" \
    "    file: $BK_SECRET_FILE" \
    "    image: beekeeper/python"
out=$("$BEEKEEPERD" -n -f "$BK_CONFIG" 2>"$BK_DIR/err")
is "$?" 0 "-n on a good config exits 0"
err=$(cat "$BK_DIR/err")
# Values may be quoted and followed by a comment.
end='"?[[:space:]]*(#.*)?$'
like "$out" "^listen: *\"?127\.0\.0\.1:0$end" "-n prints listen"
like "$out" "^state_dir: *\"?$BK_STATE$end" "-n prints state_dir"
like "$out" "^pid_file: *\"?$BK_DIR/run\.pid$end" "-n prints pid_file"
like "$out" '^github:' "-n prints the github section"
like "$out" "^ +legacy_signatures: *\"?(true|yes)$end" \
    "-n prints legacy_signatures as set"
like "$out" "^ +max_delivery_size: *\"?(1K|1024)$end" \
    "-n prints max_delivery_size as set"
like "$out" "^ +auto_approve: *\"?(false|no)$end" "-n prints auto_approve"
case "$out$err" in
*"$BK_SECRET"*)	not_ok "-n never prints the secret" "$out" ;;
*)		pass "-n never prints the secret" ;;
esac
like "$out" "^ +value: *\"?https://pypi\.example/simple/$end" \
    "-n prints a variable's value"
like "$out" "^ +file: *\"?$BK_SECRET_FILE\"?[[:space:]]*#.*not shown" \
    "-n prints a secret's file, saying its value is not shown"
ok "-n does not start a daemon (no pid file)" test ! -e "$BK_DIR/run.pid"

# The effective config is itself a config that means the same.
printf '%s\n' "$out" >"$BK_DIR/effective.yml"
"$BEEKEEPERD" -n -f "$BK_DIR/effective.yml" >"$BK_DIR/again" 2>&1
rc=$?
printf '%s\n' "$out" | grep -v '^#' >"$BK_DIR/want"
grep -v '^#' "$BK_DIR/again" >"$BK_DIR/got"
if [ "$rc" -eq 0 ] && cmp -s "$BK_DIR/got" "$BK_DIR/want"; then
	pass "-n output read back with -n gives the same config"
else
	not_ok "-n output read back with -n gives the same config" \
	    "exit $rc" "$(diff -u "$BK_DIR/want" "$BK_DIR/got")"
fi

# A GitHub token is a secret like the others.
bk_config_text | awk -v f="$BK_SECRET_FILE" \
    '{ print } /^github:$/ { print "  token_file: " f }' >"$BK_DIR/token.yml"
out=$("$BEEKEEPERD" -n -f "$BK_DIR/token.yml" 2>"$BK_DIR/err")
is "$?" 0 "-n on a config with a token exits 0"
err=$(cat "$BK_DIR/err")
like "$out" "^ +token_file: *\"?$BK_SECRET_FILE\"?[[:space:]]*#.*not shown" \
    "-n prints token_file, saying the token is not shown"
like "$out" "^ +api_url: *\"?https://api\.github\.com$end" \
    "-n prints the default api_url"
case "$out$err" in
*"$BK_SECRET"*)	not_ok "-n never prints the token" "$out" ;;
*)		pass "-n never prints the token" ;;
esac
"$BEEKEEPERD" -n -f "$BK_DIR/token.yml" 2>&1 | grep -v '^#' >"$BK_DIR/want"
printf '%s\n' "$out" >"$BK_DIR/effective.yml"
"$BEEKEEPERD" -n -f "$BK_DIR/effective.yml" 2>&1 | grep -v '^#' \
    >"$BK_DIR/got"
same_text "$BK_DIR/got" "$BK_DIR/want" \
    "-n output with a token read back with -n gives the same config"

# ------------------------------------------------------------------- aws

bk_config_text \
    "aws:" \
    "  region: eu-west-1" \
    "  endpoint_url: http://127.0.0.1:9/" \
    "  lease: 10m" \
    "  spot_factor: 0.5" \
    "  prices:" \
    "    c5.xlarge: 0.2" \
    "    m5.large: 0.1" \
    "profiles:" \
    "  default: { slots: 1, breaker_failures: 5 }" \
    "  fast:" \
    "    driver: aws" \
    "    instance_type: c5.xlarge" \
    "    ami: ami-0123456789abcdef0" \
    "    security_groups: [sg-0123456789abcdef0, sg-0fedcba9]" \
    "    iam_instance_profile: beekeeper-ci" \
    "    spot: true" \
    "    memory: 2048" >"$BK_DIR/aws.yml"
out=$("$BEEKEEPERD" -n -f "$BK_DIR/aws.yml" 2>"$BK_DIR/err")
is "$?" 0 "-n on a config with an aws profile exits 0"
like "$out" '^aws:' "-n prints the aws section"
like "$out" "^  region: *\"?eu-west-1$end" "-n prints aws.region"
like "$out" "^  endpoint_url: *\"?http://127\.0\.0\.1:9$end" \
    "-n prints aws.endpoint_url without its trailing /"
like "$out" "^  cluster: *\"?beekeeper$end" "-n prints the default cluster"
like "$out" "^  log_group: *\"?/beekeeper/tasks$end" \
    "-n prints the default log_group"
host=$(uname -n)
like "$out" "^  daemon_name: *\"?($host|beekeeperd)$end" \
    "-n prints daemon_name, from the host name"
like "$out" "^  lease: *\"?(10m|600000ms)$end" "-n prints aws.lease as set"
like "$out" "^  reconcile_interval: *\"?(1m|60s|60000ms)$end" \
    "-n prints the default reconcile_interval"
like "$out" "^  spot_factor: *\"?0\.5$end" "-n prints aws.spot_factor"
like "$out" "^    c5\.xlarge: *\"?0\.2$end" "-n prints aws.prices"
like "$out" "^  spot_prices: *\{\}$end" "-n prints no spot_prices"
like "$out" "^    driver: *\"?aws$end" "-n prints driver aws"
like "$out" "^    instance_type: *\"?c5\.xlarge\"?[[:space:]]*#.*0\.2 USD" \
    "-n prints instance_type with its price from aws.prices"
like "$out" "^    ami: *\"?ami-0123456789abcdef0$end" "-n prints ami"
like "$out" "^      - *\"?sg-0fedcba9$end" "-n prints security_groups"
like "$out" "^    iam_instance_profile: *\"?beekeeper-ci$end" \
    "-n prints iam_instance_profile"
like "$out" "^    spot_fallback: *\"?(true|yes)$end" \
    "-n prints the default spot_fallback"
like "$out" "^    boot_timeout: *\"?(10m|600000ms)$end" \
    "-n prints the default boot_timeout"
like "$out" "^    memory: *\"?2048$end" "-n prints memory as set"
like "$out" "^    breaker_failures: *\"?5$end" \
    "-n prints breaker_failures of a local profile"
is "$(printf '%s\n' "$out" | grep -c '^ *instance_type:')" 1 \
    "-n prints the aws keys of aws profiles only"
printf '%s\n' "$out" >"$BK_DIR/effective.yml"
"$BEEKEEPERD" -n -f "$BK_DIR/effective.yml" 2>&1 | grep -v '^#' >"$BK_DIR/got"
printf '%s\n' "$out" | grep -v '^#' >"$BK_DIR/want"
same_text "$BK_DIR/got" "$BK_DIR/want" \
    "-n output with aws read back with -n gives the same config"

# Without aws.region, the environment's, as the AWS tools read it.
grep -v '^  region:' "$BK_DIR/aws.yml" >"$BK_DIR/noregion.yml"
out=$(AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=us-west-2 \
    "$BEEKEEPERD" -n -f "$BK_DIR/noregion.yml" 2>&1)
like "$out" "^  region: *\"?ap-south-1$end" "aws.region defaults to AWS_REGION"
out=$(AWS_DEFAULT_REGION=us-west-2 \
    "$BEEKEEPERD" -n -f "$BK_DIR/noregion.yml" 2>&1)
like "$out" "^  region: *\"?us-west-2$end" \
    "aws.region defaults to AWS_DEFAULT_REGION without AWS_REGION"

# ----------------------------------------------------------- bad configs

subst() {
	sed -e "s|@CONFIG@|$conf|g" -e "s|@DIR@|$BK_DIR|g" \
	    -e "s|@SECRET_0644@|$secret644|g" \
	    -e "s|@SECRET@|$BK_SECRET_FILE|g" "$1"
}

for c in $cases; do
	name=${c%.yml}
	conf=$BK_DIR/$c
	subst "$BK_DATA/config/$c" >"$conf"
	"$BEEKEEPERD" -n -f "$conf" >"$BK_DIR/out" 2>"$BK_DIR/err"
	is "$?" 1 "$name: -n exits 1"
	err=$(cat "$BK_DIR/err")
	like "$err" "^$conf:[0-9]+: [^ ]" "$name: says FILE:LINE: reason"
	missing=
	if [ -f "$BK_DATA/config/$name.expect" ]; then
		while IFS= read -r want; do
			[ -n "$want" ] || continue
			case "$err" in
			*"$want"*) ;;
			*) missing="$missing
	$want" ;;
			esac
		done <<EOF
$(subst "$BK_DATA/config/$name.expect")
EOF
	else
		missing="(no $name.expect)"
	fi
	if [ -z "$missing" ]; then
		pass "$name: the message says what is wrong"
	else
		not_ok "$name: the message says what is wrong" \
		    "missing:$missing" "stderr:" "$err"
	fi
done
