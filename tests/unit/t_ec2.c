/*
 * EC2's parameters and answers: what RunInstances, DescribeInstances,
 * TerminateInstances and CreateTags are sent (decoded again and looked
 * up by name, as EC2 reads them), and the instances read back from
 * answers shaped as the EC2 API reference shows them.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon.h"
#include "tap.h"

/* The decoded value of name in an encoded form, or NULL. */
static char *
form_get(const char *form, const char *name)
{
	const char	*p = form, *e, *eq;
	char		*out, *k, h[3];
	size_t		 n;

	while (*p != '\0') {
		e = p + strcspn(p, "&");
		eq = memchr(p, '=', e - p);
		if (eq != NULL) {
			k = xstrndup(p, eq - p);
			if (strcmp(k, name) == 0) {
				free(k);
				out = xmalloc(e - eq);
				for (n = 0, eq++; eq < e; eq++) {
					if (*eq == '%' && e - eq >= 3) {
						h[0] = eq[1];
						h[1] = eq[2];
						h[2] = '\0';
						out[n++] = (char)strtol(h, NULL,
						    16);
						eq += 2;
					} else
						out[n++] = *eq;
				}
				out[n] = '\0';
				return (out);
			}
			free(k);
		}
		p = *e == '&' ? e + 1 : e;
	}
	return (NULL);
}

static void
is_param(const char *form, const char *name, const char *want)
{
	char	*got = form_get(form, name), label[160];

	snprintf(label, sizeof label, "%s=%s", name, want != NULL ? want :
	    "(absent)");
	is_str(got, want, label);
	free(got);
}

static void
check_run(void)
{
	static const char *const groups[] = { "sg-1", "sg-2", NULL };
	struct ec2_launch	 l;
	unsigned char		 ud[256];
	char			*form, *b64;
	int			 n;

	memset(&l, 0, sizeof l);
	l.daemon = "ci.example.org";
	l.pool = "linux";
	l.image = "ami-0123";
	l.type = "c5.large";
	l.subnet = "subnet-9";
	l.security_groups = groups;
	l.iam_profile = "arn:aws:iam::123456789012:instance-profile/bk";
	l.user_data = "#!/bin/sh\necho ECS_CLUSTER=beekeeper >> "
	    "/etc/ecs/ecs.config\n";
	l.spot = 1;
	l.spot_max_price = "0.05";
	l.client_token = "bk-linux-7";
	l.lease_expires = 1795000000;
	form = ec2_run_params(&l);
	is_param(form, "ImageId", "ami-0123");
	is_param(form, "InstanceType", "c5.large");
	is_param(form, "MinCount", "1");
	is_param(form, "MaxCount", "1");
	is_param(form, "ClientToken", "bk-linux-7");
	is_param(form, "SubnetId", "subnet-9");
	is_param(form, "SecurityGroupId.1", "sg-1");
	is_param(form, "SecurityGroupId.2", "sg-2");
	is_param(form, "IamInstanceProfile.Arn",
	    "arn:aws:iam::123456789012:instance-profile/bk");
	is_param(form, "InstanceMarketOptions.MarketType", "spot");
	is_param(form, "InstanceMarketOptions.SpotOptions.MaxPrice", "0.05");
	is_param(form, "TagSpecification.1.ResourceType", "instance");
	is_param(form, "TagSpecification.1.Tag.1.Key", "beekeeper:daemon");
	is_param(form, "TagSpecification.1.Tag.1.Value", "ci.example.org");
	is_param(form, "TagSpecification.1.Tag.2.Key", "beekeeper:pool");
	is_param(form, "TagSpecification.1.Tag.2.Value", "linux");
	is_param(form, "TagSpecification.1.Tag.3.Key",
	    "beekeeper:lease-expires");
	is_param(form, "TagSpecification.1.Tag.3.Value", "1795000000");
	is_param(form, "TagSpecification.2.ResourceType", "volume");
	is_param(form, "TagSpecification.2.Tag.2.Value", "linux");
	ok(strstr(form, "beekeeper%3Adaemon") != NULL,
	    "':' in a value is percent-encoded");
	b64 = form_get(form, "UserData");
	n = b64 != NULL ? EVP_DecodeBlock(ud, (unsigned char *)b64,
	    strlen(b64)) : -1;
	ok(n > 0 && strncmp((char *)ud, l.user_data, strlen(l.user_data)) ==
	    0, "UserData is the script in base64");
	free(b64);
	free(form);

	l.spot = 0;
	l.iam_profile = "bk-role";
	l.subnet = NULL;
	form = ec2_run_params(&l);
	is_param(form, "InstanceMarketOptions.MarketType", NULL);
	is_param(form, "IamInstanceProfile.Name", "bk-role");
	is_param(form, "SubnetId", NULL);
	free(form);
}

static void
check_other_params(void)
{
	static const char *const ids[] = { "i-1", "i-2" };
	char	*form;

	form = ec2_describe_params("ci.example.org", NULL, 0);
	is_param(form, "Filter.1.Name", "tag:beekeeper:daemon");
	is_param(form, "Filter.1.Value.1", "ci.example.org");
	is_param(form, "Filter.2.Name", "instance-state-name");
	is_param(form, "Filter.2.Value.1", "pending");
	is_param(form, "NextToken", NULL);
	is_param(form, "MaxResults", "500");
	free(form);
	form = ec2_describe_params("ci.example.org", "tok/en+=", 5);
	is_param(form, "NextToken", "tok/en+=");
	is_param(form, "MaxResults", "5");
	free(form);
	form = ec2_ids_params(ids, 2, 0);
	is_param(form, "InstanceId.1", "i-1");
	is_param(form, "InstanceId.2", "i-2");
	is_param(form, "Tag.1.Key", NULL);
	free(form);
	form = ec2_ids_params(ids, 2, 1795000600);
	is_param(form, "ResourceId.2", "i-2");
	is_param(form, "Tag.1.Key", "beekeeper:lease-expires");
	is_param(form, "Tag.1.Value", "1795000600");
	free(form);
	ok(ec2_capacity_error("InsufficientInstanceCapacity") &&
	    ec2_capacity_error("SpotMaxPriceTooLow") &&
	    !ec2_capacity_error("UnauthorizedOperation") &&
	    !ec2_capacity_error(NULL), "capacity errors, and not others");
}

static const char run_answer[] =
    "<RunInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
    "2016-11-15/\"><requestId>r</requestId><reservationId>r-1"
    "</reservationId><instancesSet><item><instanceId>i-0abc</instanceId>"
    "<instanceState><code>0</code><name>pending</name></instanceState>"
    "<instanceType>c5.large</instanceType><instanceLifecycle>spot"
    "</instanceLifecycle><launchTime>2026-11-26T10:00:00.000Z"
    "</launchTime><tagSet><item><key>beekeeper:pool</key><value>linux"
    "</value></item><item><key>beekeeper:lease-expires</key><value>"
    "1795000000</value></item></tagSet></item></instancesSet>"
    "</RunInstancesResponse>";

static const char describe_answer[] =
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
    "2016-11-15/\"><reservationSet>"
    "<item><instancesSet><item><instanceId>i-1</instanceId>"
    "<instanceState><name>running</name></instanceState><tagSet><item>"
    "<key>beekeeper:daemon</key><value>ci</value></item><item><key>"
    "beekeeper:lease-expires</key><value>soon</value></item></tagSet>"
    "</item></instancesSet></item>"
    "<item><instancesSet><item><instanceId>i-2</instanceId>"
    "<instanceState><name>terminated</name></instanceState>"
    "<stateReason><code>Server.SpotInstanceTermination</code>"
    "</stateReason></item><item><instanceId>i-3</instanceId></item>"
    "</instancesSet></item>"
    "</reservationSet><nextToken>more</nextToken>"
    "</DescribeInstancesResponse>";

static void
check_parse(void)
{
	static const char	 noid[] = "<RunInstancesResponse><instancesSet>"
	    "<item></item></instancesSet></RunInstancesResponse>";
	struct ec2_instance	*v;
	size_t			 n;
	char			*next, *cause = NULL;

	if (ok(ec2_instances_parse(run_answer, strlen(run_answer), &v, &n,
	    &next, &cause) == 0 && n == 1, "a RunInstances answer")) {
		is_str(v[0].id, "i-0abc", "its instance id");
		is_str(v[0].state, "pending", "its state");
		is_str(v[0].lifecycle, "spot", "spot, by instanceLifecycle");
		is_str(v[0].pool, "linux", "the pool tag");
		ok(v[0].lease_expires == 1795000000, "the lease tag");
		ok(v[0].launched == 1795687200000LL, "launchTime, in ms");
		ok(next == NULL, "no next page");
		ec2_instances_free(v, n);
	}
	if (ok(ec2_instances_parse(describe_answer, strlen(describe_answer),
	    &v, &n, &next, &cause) == 0 && n == 3,
	    "a DescribeInstances page: the instances of every reservation")) {
		is_str(v[0].daemon, "ci", "the daemon tag");
		ok(v[0].lease_expires == 0, "an unreadable lease is none");
		is_str(v[1].reason, "Server.SpotInstanceTermination",
		    "why an instance ended");
		ok(v[2].state == NULL && v[2].pool == NULL,
		    "missing fields are NULL");
		is_str(next, "more", "the next page's token");
		free(next);
		ec2_instances_free(v, n);
	}
	ok(ec2_instances_parse("<Other/>", 8, &v, &n, &next, &cause) == -1 &&
	    cause != NULL && strstr(cause, "Other") != NULL,
	    "an answer of another shape is an error naming it");
	free(cause);
	cause = NULL;
	ok(ec2_instances_parse(noid, strlen(noid), &v, &n, &next,
	    &cause) == -1 && cause != NULL,
	    "an instance without an id is an error");
	free(cause);
}

int
main(void)
{
	check_run();
	check_other_params();
	check_parse();
	done_testing();
}
