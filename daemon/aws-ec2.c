/*
 * EC2's side of the AWS pools: the Query API's parameters for the four
 * actions the daemon uses (RunInstances, DescribeInstances,
 * TerminateInstances, CreateTags) and the instances in their answers.
 * Pure: aws.c sends, the AWS driver decides.
 *
 * Every instance the daemon launches carries three tags from its first
 * moment (TagSpecifications, not a later CreateTags that a crash could
 * skip): beekeeper:daemon (which daemon owns it), beekeeper:pool and
 * beekeeper:lease-expires (seconds since the epoch; renewed while the
 * daemon runs, so a sweep can end what a dead daemon left behind).
 */

#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "daemon.h"

#define EC2_ANSWER_MAX		(16 * 1024 * 1024)

/* Errors after which a spot launch may be tried again on demand. */
static const char *ec2_capacity_codes[] = {
	"InsufficientInstanceCapacity", "InsufficientCapacity",
	"SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
	"UnfulfillableCapacity", "InsufficientFreeAddressesInSubnet",
};

int
ec2_capacity_error(const char *code)
{
	size_t	 i;

	for (i = 0; code != NULL && i < nitems(ec2_capacity_codes); i++) {
		if (strcmp(code, ec2_capacity_codes[i]) == 0)
			return (1);
	}
	return (0);
}

static void
ec2_param(struct buf *b, const char *name, const char *value)
{
	if (b->len > 0)
		buf_addstr(b, "&");
	sigv4_uri_encode(b, name);
	buf_addstr(b, "=");
	sigv4_uri_encode(b, value);
}

static void
ec2_paramf(struct buf *b, const char *value, const char *fmt, ...)
{
	va_list	 ap;
	char	*name;

	va_start(ap, fmt);
	xvasprintf(&name, fmt, ap);
	va_end(ap);
	ec2_param(b, name, value);
	free(name);
}

/* RunInstances of one instance, tagged, spot if asked. */
char *
ec2_run_params(const struct ec2_launch *l)
{
	struct buf	 b;
	unsigned char	*ud = NULL;
	char		 lease[32];
	size_t		 i, n = 0, len;

	buf_init(&b, 0);
	ec2_param(&b, "ImageId", l->image);
	ec2_param(&b, "InstanceType", l->type);
	ec2_param(&b, "MinCount", "1");
	ec2_param(&b, "MaxCount", "1");
	if (l->client_token != NULL)
		ec2_param(&b, "ClientToken", l->client_token);
	if (l->subnet != NULL)
		ec2_param(&b, "SubnetId", l->subnet);
	for (i = 0; l->security_groups != NULL &&
	    l->security_groups[i] != NULL; i++)
		ec2_paramf(&b, l->security_groups[i], "SecurityGroupId.%zu",
		    i + 1);
	if (l->iam_profile != NULL)
		ec2_param(&b, strncmp(l->iam_profile, "arn:", 4) == 0 ?
		    "IamInstanceProfile.Arn" : "IamInstanceProfile.Name",
		    l->iam_profile);
	if (l->key_name != NULL)
		ec2_param(&b, "KeyName", l->key_name);
	if (l->user_data != NULL) {
		len = strlen(l->user_data);
		ud = xmalloc(4 * ((len + 2) / 3) + 1);
		EVP_EncodeBlock(ud, (const unsigned char *)l->user_data,
		    (int)len);
		ec2_param(&b, "UserData", (char *)ud);
		free(ud);
	}
	if (l->spot) {
		ec2_param(&b, "InstanceMarketOptions.MarketType", "spot");
		ec2_param(&b, "InstanceMarketOptions.SpotOptions."
		    "SpotInstanceType", "one-time");
		ec2_param(&b, "InstanceMarketOptions.SpotOptions."
		    "InstanceInterruptionBehavior", "terminate");
		if (l->spot_max_price != NULL)
			ec2_param(&b, "InstanceMarketOptions.SpotOptions."
			    "MaxPrice", l->spot_max_price);
	}
	/* The same tags on the instance and its volumes. */
	snprintf(lease, sizeof lease, "%lld", (long long)l->lease_expires);
	for (i = 1; i <= 2; i++) {
		ec2_paramf(&b, i == 1 ? "instance" : "volume",
		    "TagSpecification.%zu.ResourceType", i);
		n = 0;
		ec2_paramf(&b, EC2_TAG_DAEMON, "TagSpecification.%zu.Tag.%zu."
		    "Key", i, ++n);
		ec2_paramf(&b, l->daemon, "TagSpecification.%zu.Tag.%zu.Value",
		    i, n);
		ec2_paramf(&b, EC2_TAG_POOL, "TagSpecification.%zu.Tag.%zu.Key",
		    i, ++n);
		ec2_paramf(&b, l->pool, "TagSpecification.%zu.Tag.%zu.Value",
		    i, n);
		ec2_paramf(&b, EC2_TAG_LEASE, "TagSpecification.%zu.Tag.%zu."
		    "Key", i, ++n);
		ec2_paramf(&b, lease, "TagSpecification.%zu.Tag.%zu.Value",
		    i, n);
		ec2_paramf(&b, "Name", "TagSpecification.%zu.Tag.%zu.Key", i,
		    ++n);
		ec2_paramf(&b, l->name != NULL ? l->name : l->pool,
		    "TagSpecification.%zu.Tag.%zu.Value", i, n);
	}
	return (buf_detach(&b, NULL));
}

/*
 * DescribeInstances of this daemon's instances that are not yet
 * terminated, a page of at most max (0: 500) at a time (next: the
 * previous page's token).
 */
char *
ec2_describe_params(const char *daemon, const char *next, u_int max)
{
	static const char	*states[] = { "pending", "running",
	    "shutting-down", "stopping", "stopped" };
	struct buf		 b;
	char			 page[16];
	size_t			 i;

	buf_init(&b, 0);
	ec2_param(&b, "Filter.1.Name", "tag:" EC2_TAG_DAEMON);
	ec2_param(&b, "Filter.1.Value.1", daemon);
	ec2_param(&b, "Filter.2.Name", "instance-state-name");
	for (i = 0; i < nitems(states); i++)
		ec2_paramf(&b, states[i], "Filter.2.Value.%zu", i + 1);
	snprintf(page, sizeof page, "%u", max > 0 ? max : 500);
	ec2_param(&b, "MaxResults", page);
	if (next != NULL)
		ec2_param(&b, "NextToken", next);
	return (buf_detach(&b, NULL));
}

/* TerminateInstances, or CreateTags renewing leases, of n instances. */
char *
ec2_ids_params(const char *const *ids, size_t n, int64_t lease_expires)
{
	struct buf	 b;
	char		 lease[32];
	size_t		 i;

	buf_init(&b, 0);
	for (i = 0; i < n; i++)
		ec2_paramf(&b, ids[i], lease_expires > 0 ? "ResourceId.%zu" :
		    "InstanceId.%zu", i + 1);
	if (lease_expires > 0) {
		snprintf(lease, sizeof lease, "%lld", (long long)lease_expires);
		ec2_param(&b, "Tag.1.Key", EC2_TAG_LEASE);
		ec2_param(&b, "Tag.1.Value", lease);
	}
	return (buf_detach(&b, NULL));
}

void
ec2_instances_free(struct ec2_instance *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].state);
		free(v[i].type);
		free(v[i].lifecycle);
		free(v[i].private_ip);
		free(v[i].daemon);
		free(v[i].pool);
		free(v[i].reason);
	}
	free(v);
}

static char *
ec2_dup(const char *s)
{
	return (s != NULL && *s != '\0' ? xstrdup(s) : NULL);
}

static void
ec2_instance_read(const struct xml_node *item, struct ec2_instance *in)
{
	struct xml_node	*tag;
	const char	*k, *v, *t;
	struct tm	 tm;
	long long	 lease;
	char		*end;

	memset(in, 0, sizeof *in);
	in->id = ec2_dup(xml_get(item, "instanceId"));
	in->state = ec2_dup(xml_get(item, "instanceState/name"));
	in->type = ec2_dup(xml_get(item, "instanceType"));
	in->lifecycle = ec2_dup(xml_get(item, "instanceLifecycle"));
	in->private_ip = ec2_dup(xml_get(item, "privateIpAddress"));
	in->reason = ec2_dup(xml_get(item, "stateReason/code"));
	memset(&tm, 0, sizeof tm);
	if ((t = xml_get(item, "launchTime")) != NULL &&
	    strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
		in->launched = (int64_t)timegm(&tm) * 1000;
	for (tag = xml_child(xml_child(item, "tagSet"), "item"); tag != NULL;
	    tag = xml_next(tag)) {
		k = xml_get(tag, "key");
		v = xml_get(tag, "value");
		if (k == NULL || v == NULL)
			continue;
		if (strcmp(k, EC2_TAG_DAEMON) == 0) {
			free(in->daemon);
			in->daemon = xstrdup(v);
		} else if (strcmp(k, EC2_TAG_POOL) == 0) {
			free(in->pool);
			in->pool = xstrdup(v);
		} else if (strcmp(k, EC2_TAG_LEASE) == 0) {
			lease = strtoll(v, &end, 10);
			in->lease_expires = *v != '\0' && *end == '\0' &&
			    lease > 0 ? lease : 0;
		}
	}
}

/*
 * The instances of a RunInstances answer (instancesSet at the root) or
 * of a DescribeInstances page (in each reservation), and the next page's
 * token. 0, or -1 and why.
 */
int
ec2_instances_parse(const char *body, size_t len, struct ec2_instance **out,
    size_t *nout, char **next, char **cause)
{
	struct xml_node		*x, *res, *set, *item;
	struct ec2_instance	*v = NULL;
	size_t			 n = 0, cap = 0;

	*out = NULL;
	*nout = 0;
	if (next != NULL)
		*next = NULL;
	if ((x = xml_parse(body, len, EC2_ANSWER_MAX, cause)) == NULL)
		return (-1);
	res = xml_child(x, "reservationSet") != NULL ?
	    xml_child(xml_child(x, "reservationSet"), "item") : x;
	if (xml_child(x, "reservationSet") == NULL &&
	    xml_child(x, "instancesSet") == NULL) {
		xasprintf(cause, "EC2 answered %s, with neither "
		    "reservationSet nor instancesSet", xml_name(x));
		xml_free(x);
		return (-1);
	}
	for (; res != NULL; res = res == x ? NULL : xml_next(res)) {
		set = xml_child(res, "instancesSet");
		for (item = xml_child(set, "item"); item != NULL;
		    item = xml_next(item)) {
			if (n == cap) {
				cap = cap == 0 ? 8 : cap * 2;
				v = xreallocarray(v, cap, sizeof *v);
			}
			ec2_instance_read(item, &v[n]);
			if (v[n].id == NULL) {
				ec2_instances_free(v, n + 1);
				xml_free(x);
				*cause = xstrdup("EC2 answered an instance "
				    "without an instanceId");
				return (-1);
			}
			n++;
		}
	}
	if (next != NULL)
		*next = ec2_dup(xml_get(x, "nextToken"));
	xml_free(x);
	*out = v;
	*nout = n;
	return (0);
}
