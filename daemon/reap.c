/*
 * beekeeperd -R: the sweep that ends what a dead daemon left behind. Every
 * EC2 instance this daemon launches carries a lease (aws-ec2.c) that the
 * running daemon keeps renewing; when the daemon is gone the leases run
 * out, and this sweep, run from cron through "beekeeper reap", terminates
 * the instances of our beekeeper:daemon tag whose lease has expired or
 * that have none. It needs no state directory and no running daemon: the
 * tags are the whole truth.
 *
 * It runs once, in a loop of its own, one call after another: list every
 * page first, then terminate, so that a listing cut short by an error
 * terminates nothing. A dry run never sends TerminateInstances.
 *
 * Output, for cron mail and for grep: one line per instance, then a
 * summary line, on stdout; a failure is one sentence on stderr and exit
 * status 1.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"

#define REAP_PAGE		1000	/* DescribeInstances' largest page */
#define REAP_BATCH		1000	/* TerminateInstances' most ids */

enum reap_verdict {
	REAP_KEEP,
	REAP_TERMINATE,
	REAP_FAILED		/* to terminate, but AWS said no */
};

struct reap_inst {
	char			*id;
	char			*pool;
	int64_t			 lease;		/* s; 0: none */
	int64_t			 seen;		/* s, when it was listed */
	enum reap_verdict	 verdict;
};

struct reap {
	struct ev_loop		*loop;
	struct aws		*aws;
	struct reap_inst	*v;
	size_t			 n;
	size_t			 cap;
};

/* One call's answer, copied out of the callback. */
struct reap_answer {
	int		 done;
	int		 ok;
	char		*error;
	char		*body;
	size_t		 len;
};

static void
reap_answer_cb(struct aws *a, const struct aws_reply *r, void *arg)
{
	struct reap_answer	*an = arg;

	(void)a;
	an->done = 1;
	an->ok = r->ok;
	if (!r->ok) {
		an->error = xstrdup(r->error);
		return;
	}
	an->body = xmalloc(r->len + 1);
	memcpy(an->body, r->body, r->len);
	an->body[r->len] = '\0';
	an->len = r->len;
}

static void
reap_answer_release(struct reap_answer *an)
{
	free(an->error);
	free(an->body);
	memset(an, 0, sizeof *an);
}

/*
 * One call, waited for in the loop. aws.c answers every call exactly once,
 * after its own retries and time-outs, so there is no deadline here.
 */
static void
reap_call(struct reap *r, const char *action, const char *form,
    struct reap_answer *an)
{
	memset(an, 0, sizeof *an);
	aws_call(r->aws, AWS_EC2, action, form, reap_answer_cb, an);
	while (!an->done)
		ev_run_once(r->loop, 1);
}

/* The states an instance can still cost money in, or come back from. */
static int
reap_live(const char *state)
{
	static const char	*live[] = { "pending", "running", "stopping",
	    "stopped" };
	size_t			 i;

	for (i = 0; state != NULL && i < nitems(live); i++) {
		if (strcmp(state, live[i]) == 0)
			return (1);
	}
	return (0);
}

static void
reap_add(struct reap *r, const struct ec2_instance *in, int64_t now)
{
	struct reap_inst	*ri;

	if (r->n == r->cap) {
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
		r->v = xreallocarray(r->v, r->cap, sizeof *r->v);
	}
	ri = &r->v[r->n++];
	ri->id = xstrdup(in->id);
	ri->pool = xstrdup(in->pool != NULL ? in->pool : "-");
	ri->lease = in->lease_expires;
	ri->seen = now;
	ri->verdict = in->lease_expires <= now ? REAP_TERMINATE : REAP_KEEP;
}

/* Every page of our instances into r; 0, or -1 and why. */
static int
reap_list(struct reap *r, const char *daemon, char **cause)
{
	struct reap_answer	 an;
	struct ec2_instance	*v;
	size_t			 n, i;
	char			*form, *next = NULL;
	int64_t			 now;

	do {
		form = ec2_describe_params(daemon, next, REAP_PAGE);
		free(next);
		next = NULL;
		reap_call(r, "DescribeInstances", form, &an);
		free(form);
		if (!an.ok) {
			*cause = an.error;
			an.error = NULL;
			return (-1);
		}
		/* A lease is judged against the clock of its own page. */
		now = ev_time(r->loop) / 1000;
		if (ec2_instances_parse(an.body, an.len, &v, &n, &next,
		    cause) != 0) {
			reap_answer_release(&an);
			return (-1);
		}
		reap_answer_release(&an);
		for (i = 0; i < n; i++) {
			if (reap_live(v[i].state))
				reap_add(r, &v[i], now);
		}
		ec2_instances_free(v, n);
	} while (next != NULL);
	return (0);
}

/*
 * TerminateInstances of the expired, REAP_BATCH at a time. A batch that
 * fails is marked and said on stderr, and the next is still tried: each
 * instance left running costs money. 0, or -1 if any batch failed.
 */
static int
reap_terminate(struct reap *r)
{
	struct reap_answer	 an;
	const char		**ids;
	size_t			*at, i, n, start = 0, k;
	char			*form;
	int			 rc = 0;

	ids = xcalloc(REAP_BATCH, sizeof *ids);
	at = xcalloc(REAP_BATCH, sizeof *at);
	while (start < r->n) {
		for (n = 0, i = start; i < r->n && n < REAP_BATCH; i++) {
			if (r->v[i].verdict != REAP_TERMINATE)
				continue;
			at[n] = i;
			ids[n++] = r->v[i].id;
		}
		start = i;
		if (n == 0)
			break;
		form = ec2_ids_params(ids, n, 0);
		reap_call(r, "TerminateInstances", form, &an);
		free(form);
		if (!an.ok) {
			fprintf(stderr, "beekeeperd: %s; not terminated:",
			    an.error);
			for (k = 0; k < n; k++) {
				fprintf(stderr, " %s", ids[k]);
				r->v[at[k]].verdict = REAP_FAILED;
			}
			fprintf(stderr, "\n");
			rc = -1;
		}
		reap_answer_release(&an);
	}
	free(ids);
	free(at);
	return (rc);
}

static void
reap_stamp(int64_t s, char *out, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)s;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, len, "%lld", (long long)s);
}

static void
reap_print(const struct reap_inst *ri, int dry_run)
{
	const char	*verb;
	char		 stamp[32];

	if (ri->verdict == REAP_KEEP) {
		reap_stamp(ri->lease, stamp, sizeof stamp);
		printf("keep %s pool %s lease until %s (in %lld s)\n", ri->id,
		    ri->pool, stamp, (long long)(ri->lease - ri->seen));
		return;
	}
	if (ri->verdict == REAP_FAILED)
		verb = "not terminated";
	else
		verb = dry_run ? "would terminate" : "terminate";
	printf("%s %s pool %s ", verb, ri->id, ri->pool);
	if (ri->lease == 0) {
		printf("no lease\n");
		return;
	}
	reap_stamp(ri->lease, stamp, sizeof stamp);
	printf("lease expired %s (%lld s ago)\n", stamp,
	    (long long)(ri->seen - ri->lease));
}

static void
reap_release(struct reap *r)
{
	size_t	 i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].pool);
	}
	free(r->v);
	if (r->aws != NULL)
		aws_free(r->aws);
}

/*
 * The sweep, whole: 0 when every expired instance was terminated (or, in a
 * dry run, listed), 1 after an error said on stderr.
 */
int
reap_main(const struct config *conf, int dry_run)
{
	struct reap	 r;
	struct http	*http;
	size_t		 i, kept = 0, ended = 0, failed = 0;
	char		*cause = NULL;
	int		 rc = 0;

	if (conf->aws_region == NULL) {
		fprintf(stderr, "beekeeperd: %s sets no aws.region, nor does "
		    "AWS_REGION in the environment, so there is no region to "
		    "look for instances in\n", conf->path);
		return (1);
	}
	if (conf->aws_daemon == NULL || *conf->aws_daemon == '\0') {
		fprintf(stderr, "beekeeperd: %s has no aws.daemon_name, so "
		    "there is no tag to find our instances by\n", conf->path);
		return (1);
	}
	memset(&r, 0, sizeof r);
	r.loop = ev_create();
	if ((http = http_create(r.loop, &cause)) == NULL) {
		fprintf(stderr, "beekeeperd: %s\n", cause);
		free(cause);
		ev_free(r.loop);
		return (1);
	}
	r.aws = aws_create(r.loop, http, conf->aws_region,
	    conf->aws_endpoint_url, conf->aws_profile, NULL);

	if (reap_list(&r, conf->aws_daemon, &cause) != 0) {
		fprintf(stderr, "beekeeperd: %s\n", cause);
		free(cause);
		rc = 1;
		goto out;
	}
	if (!dry_run && reap_terminate(&r) != 0)
		rc = 1;
	for (i = 0; i < r.n; i++) {
		reap_print(&r.v[i], dry_run);
		switch (r.v[i].verdict) {
		case REAP_KEEP:
			kept++;
			break;
		case REAP_TERMINATE:
			ended++;
			break;
		case REAP_FAILED:
			failed++;
			break;
		}
	}
	printf("%zu instances of daemon %s: %zu kept, %zu %s", r.n,
	    conf->aws_daemon, kept, ended, dry_run ? "would be terminated" :
	    "terminated");
	if (failed > 0)
		printf(", %zu not terminated", failed);
	printf("\n");
	if (fflush(stdout) != 0)
		rc = 1;

out:
	reap_release(&r);
	http_free(http);
	ev_free(r.loop);
	return (rc);
}
