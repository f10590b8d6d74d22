/*
 * The aws driver's machines: each instance of an aws pool is an EC2
 * instance that joins the ECS cluster (aws.cluster) through its user
 * data, and is ready once its container instance registers there. Its
 * tasks are ECS tasks placed on it by aws-task.c.
 *
 * What this file keeps true:
 * - Every instance is launched with the tags beekeeper:daemon (ours),
 *   beekeeper:pool and beekeeper:lease-expires, and the lease is renewed
 *   on every reconcile pass while the daemon runs, so an instance whose
 *   daemon died is found and ended by `beekeeper reap`.
 * - Reconcile, at start and every aws.reconcile_interval, compares what
 *   EC2 has under our daemon tag with what the pools have: an unknown
 *   instance with a valid lease is adopted, one without is terminated;
 *   one we have that EC2 reports gone or ended by someone else is lost,
 *   and its tasks run again. No pool launches before the first pass, so
 *   a restart in the middle of a scale-up adopts what it launched instead
 *   of launching it twice.
 * - An instance the pool let go of stays in our list until EC2 says it is
 *   terminated; a TerminateInstances that failed is sent again by the
 *   next pass, so nothing we started is left running.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define AWS_POLL_MS		1000
#define AWS_RECONCILE_RETRY_MS	5000
#define AWS_LEASE_BATCH		500
#define AWS_CONSISTENT_MS	15000

static struct awsd	*awsd_the;

static void	awsd_reconcile(struct ev_loop *, void *);
static void	awsd_poll(struct ev_loop *, void *);

struct awsd *
awsd_get(void)
{
	return (awsd_the);
}

const struct config *
awsd_config(struct awsd *a)
{
	return (pools_config(a->pools));
}

static struct ainst *
awsd_find(struct awsd *a, const char *ec2_id)
{
	struct ainst	*ai;

	TAILQ_FOREACH(ai, &a->insts, entry) {
		if (ai->ec2_id != NULL && strcmp(ai->ec2_id, ec2_id) == 0)
			return (ai);
	}
	return (NULL);
}

static void
ainst_free(struct ainst *ai)
{
	TAILQ_REMOVE(&ai->a->insts, ai, entry);
	if (ai->call != 0)
		aws_cancel(ai->a->aws, ai->call);
	free(ai->ec2_id);
	free(ai->ci_arn);
	free(ai->token);
	free(ai);
}

/* Wake the poll now rather than at its next second. */
void
awsd_poll_soon(struct awsd *a)
{
	if (a->poll_due)
		return;
	a->poll_due = 1;
	ev_timer_del(a->poll);
	a->poll = ev_timer_add(a->loop, 0, awsd_poll, a);
}

static void
awsd_terminated(struct aws *aws, const struct aws_reply *r, void *arg)
{
	struct ainst	*ai = arg;

	ai->call = 0;
	if (!r->ok) {
		log_warn("aws: %s: %s; the next reconcile tries again",
		    ai->ec2_id, r->error);
		return;
	}
	ai->terminated = 1;
}

/* End an instance the pool no longer has. */
static void
ainst_terminate(struct ainst *ai)
{
	const char	*ids[1];
	char		*form;

	if (ai->ec2_id == NULL || ai->call != 0)
		return;	/* RunInstances is out: its answer ends it */
	ids[0] = ai->ec2_id;
	form = ec2_ids_params(ids, 1, 0);
	ai->call = aws_call(ai->a->aws, AWS_EC2, "TerminateInstances", form,
	    awsd_terminated, ai);
	free(form);
}

static char *
awsd_user_data(const struct config *conf)
{
	char	*ud;

	/* The ECS-optimised AMIs read their cluster from this file. */
	xasprintf(&ud, "#!/bin/sh\necho ECS_CLUSTER=%s >> /etc/ecs/ecs.config\n"
	    "echo ECS_CONTAINER_STOP_TIMEOUT=10s >> /etc/ecs/ecs.config\n",
	    conf->aws_cluster);
	return (ud);
}

static void	awsd_run_instance(struct ainst *, int);

static void
awsd_launched(struct aws *aws, const struct aws_reply *r, void *arg)
{
	struct ainst		*ai = arg;
	const struct profile	*pr;
	struct ec2_instance	*v = NULL;
	size_t			 n = 0;
	char			*cause = NULL;

	ai->call = 0;
	if (ai->in == NULL) {
		/* The pool let go of it while the call was out. */
		if (r->ok && ec2_instances_parse(r->body, r->len, &v, &n, NULL,
		    &cause) == 0 && n > 0) {
			ai->ec2_id = xstrdup(v[0].id);
			ainst_terminate(ai);
		} else if (!r->ok)
			ainst_free(ai);
		ec2_instances_free(v, n);
		free(cause);
		return;
	}
	pr = pool_profile(ai->pool);
	if (!r->ok) {
		if (ai->spot && pr != NULL && pr->spot_fallback &&
		    ec2_capacity_error(r->code)) {
			log_info("aws: pool %s: no spot capacity (%s); "
			    "launching on-demand", pool_name(ai->pool), r->code);
			awsd_run_instance(ai, 0);
			return;
		}
		pool_instance_failed(ai->in, r->error);
		ainst_free(ai);
		return;
	}
	if (ec2_instances_parse(r->body, r->len, &v, &n, NULL, &cause) != 0 ||
	    n == 0) {
		xasprintf(&cause, "EC2 RunInstances answered no instance%s%s",
		    cause != NULL ? ": " : "", cause != NULL ? cause : "");
		pool_instance_failed(ai->in, cause);
		free(cause);
		ainst_free(ai);
		return;
	}
	ai->ec2_id = xstrdup(v[0].id);
	ai->known_at = ev_now(ai->a->loop);
	ec2_instances_free(v, n);
	pool_instance_booting(ai->in, ai->ec2_id, ai->spot);
	awsd_poll_soon(ai->a);
}

/* RunInstances for ai, spot or not; the client token makes it once only. */
static void
awsd_run_instance(struct ainst *ai, int spot)
{
	const struct config	*conf = awsd_config(ai->a);
	const struct profile	*pr = pool_profile(ai->pool);
	struct ec2_launch	 l;
	char			*form, *ud;

	ai->spot = spot;
	free(ai->token);
	/* An on-demand launch in a spot pool is another request. */
	xasprintf(&ai->token, "%s%s", instance_id(ai->in),
	    !spot && pr->spot ? "-od" : "");
	ud = awsd_user_data(conf);
	memset(&l, 0, sizeof l);
	l.daemon = conf->aws_daemon;
	l.pool = pool_name(ai->pool);
	l.name = instance_id(ai->in);
	l.image = pr->ami;
	l.type = pr->instance_type;
	l.subnet = pr->subnet;
	l.security_groups = (const char *const *)pr->security_groups;
	l.iam_profile = pr->iam_profile;
	l.key_name = pr->key_name;
	l.user_data = ud;
	l.spot = spot;
	l.spot_max_price = pr->spot_max_price;
	l.client_token = ai->token;
	l.lease_expires = (ev_time(ai->a->loop) + (int64_t)conf->aws_lease_ms) /
	    1000;
	form = ec2_run_params(&l);
	ai->call = aws_call(ai->a->aws, AWS_EC2, "RunInstances", form,
	    awsd_launched, ai);
	free(form);
	free(ud);
}

static int
aws_launch(struct pool *p, struct instance *in, char **cause)
{
	const struct profile	*pr = pool_profile(p);
	struct awsd		*a = awsd_the;
	struct ainst		*ai;

	if (a == NULL || pr == NULL) {
		xasprintf(cause, "the aws driver is not running: %s",
		    a == NULL ? "restart beekeeperd after adding the first "
		    "aws profile" : "no profile");
		return (-1);
	}
	ai = xcalloc(1, sizeof *ai);
	ai->a = a;
	ai->in = in;
	ai->pool = p;
	TAILQ_INSERT_TAIL(&a->insts, ai, entry);
	instance_set_driver_state(in, ai);
	awsd_run_instance(ai, pr->spot && !instance_on_demand(in));
	return (0);
}

static void
aws_terminate(struct pool *p, struct instance *in)
{
	struct ainst	*ai = instance_driver_state(in);

	if (ai == NULL)
		return;
	instance_set_driver_state(in, NULL);
	aws_task_release_all(ai);
	ai->in = NULL;
	ainst_terminate(ai);
}

static void
awsd_drained(struct aws *aws, const struct aws_reply *r, void *arg)
{
	char	*id = arg;

	if (!r->ok)
		log_warn("aws: %s: %s", id, r->error);
	free(id);
}

/*
 * ECS is told too, so that nothing else places a task there; the pool
 * already gives it none.
 */
static void
aws_drain(struct instance *in, int on)
{
	struct ainst	*ai = instance_driver_state(in);
	const char	*arns[1];
	char		*body;

	if (ai == NULL || ai->ci_arn == NULL)
		return;
	arns[0] = ai->ci_arn;
	body = ecs_arns_body(awsd_config(ai->a)->aws_cluster,
	    "containerInstances", arns, 1, on ? "DRAINING" : "ACTIVE");
	aws_call(ai->a->aws, AWS_ECS, "UpdateContainerInstancesState", body,
	    awsd_drained, xstrdup(ai->ec2_id));
	free(body);
}

/* No launch before the first reconcile: it may adopt what is needed. */
static int
aws_can_launch(struct pool *p)
{
	return (awsd_the != NULL && awsd_the->reconciled);
}

/* ---------------------------------------------------------- readiness */

/*
 * The container instances of the cluster: a booting instance whose own
 * has registered and whose agent is connected is ready (an adopted one
 * once the tasks it ran before the restart have stopped).
 */
static void
awsd_described_cis(struct aws *aws, const struct aws_reply *r, void *arg)
{
	struct awsd		*a = arg;
	struct ecs_instance	*ci = NULL;
	struct ainst		*ai;
	size_t			 n = 0, i;
	char			*cause = NULL;

	a->ci_call = 0;
	if (!r->ok || ecs_instances_parse(r->body, r->len, &ci, &n,
	    &cause) != 0) {
		log_warn("aws: %s", r->ok ? cause : r->error);
		free(cause);
		return;
	}
	for (i = 0; i < n; i++) {
		if (ci[i].ec2_id == NULL ||
		    (ai = awsd_find(a, ci[i].ec2_id)) == NULL ||
		    ai->in == NULL || instance_is_ready(ai->in))
			continue;
		if (ci[i].status == NULL || strcmp(ci[i].status, "ACTIVE") !=
		    0 || !ci[i].connected)
			continue;
		if (ai->ci_arn == NULL)
			ai->ci_arn = xstrdup(ci[i].arn);
		if (ai->adopted && ci[i].running > 0) {
			aws_task_stop_leftovers(ai);
			continue;
		}
		pool_instance_ready(ai->in);
	}
	ecs_instances_free(ci, n);
}

static void
awsd_listed_cis(struct aws *aws, const struct aws_reply *r, void *arg)
{
	struct awsd	*a = arg;
	char		**arns = NULL, *next = NULL, *body, *cause = NULL;
	size_t		 n = 0, i;

	a->ci_call = 0;
	if (!r->ok || ecs_list_parse(r->body, r->len,
	    "containerInstanceArns", &arns, &n, &next, &cause) != 0) {
		/* A cluster nobody joined yet does not exist: not an error. */
		if (!r->ok && (r->code == NULL || strcmp(r->code,
		    "ClusterNotFoundException") != 0))
			log_warn("aws: %s", r->error);
		free(cause);
		return;
	}
	free(a->ci_next);
	a->ci_next = next;
	if (n > 0) {
		body = ecs_arns_body(awsd_config(a)->aws_cluster,
		    "containerInstances", (const char *const *)arns, n, NULL);
		a->ci_call = aws_call(a->aws, AWS_ECS,
		    "DescribeContainerInstances", body, awsd_described_cis, a);
		free(body);
	}
	for (i = 0; i < n; i++)
		free(arns[i]);
	free(arns);
}

/* Once a second while an instance boots: one page of the cluster's. */
static void
awsd_poll_instances(struct awsd *a)
{
	struct ainst	*ai;
	char		*body;

	if (a->ci_call != 0)
		return;
	TAILQ_FOREACH(ai, &a->insts, entry) {
		if (ai->in != NULL && ai->ec2_id != NULL &&
		    !instance_is_ready(ai->in))
			break;
	}
	if (ai == NULL)
		return;
	body = ecs_list_instances_body(awsd_config(a)->aws_cluster,
	    a->ci_next);
	a->ci_call = aws_call(a->aws, AWS_ECS, "ListContainerInstances", body,
	    awsd_listed_cis, a);
	free(body);
}

static void
awsd_poll(struct ev_loop *loop, void *arg)
{
	struct awsd	*a = arg;

	a->poll_due = 0;
	a->poll = ev_timer_add(loop, AWS_POLL_MS, awsd_poll, a);
	awsd_poll_instances(a);
	aws_task_poll(a);
}

/* ---------------------------------------------------------- reconcile */

/* An instance we had is gone: its tasks run again elsewhere. */
void
awsd_lost(struct ainst *ai, const char *why)
{
	struct instance	*in = ai->in;

	if (in == NULL)
		return;
	aws_task_release_all(ai);
	instance_set_driver_state(in, NULL);
	ai->in = NULL;
	ai->terminated = 1;
	pool_instance_lost(in, why);
}

static char *
awsd_gone_why(const struct ec2_instance *v)
{
	char	*why;

	if (v == NULL)
		return (xstrdup("EC2 no longer knows the instance"));
	if (v->reason != NULL && strcmp(v->reason,
	    "Server.SpotInstanceTermination") == 0) {
		xasprintf(&why, "EC2 reclaimed spot instance %s", v->id);
		return (why);
	}
	xasprintf(&why, "instance %s is %s, ended outside beekeeperd%s%s",
	    v->id, v->state, v->reason != NULL ? ": " : "",
	    v->reason != NULL ? v->reason : "");
	return (why);
}

static int
awsd_live_state(const char *state)
{
	return (strcmp(state, "pending") == 0 ||
	    strcmp(state, "running") == 0);
}

/*
 * One instance EC2 has under our tag: adopt it, end it, or check it.
 * Without adopt, an instance to adopt is left for a second call (and
 * 1 returned), so that adoptions go in one transaction apart from
 * losses, which retry tasks in transactions of their own.
 */
static int
awsd_reconcile_one(struct awsd *a, const struct ec2_instance *v,
    int64_t now_s, int adopt)
{
	struct ainst	*ai;
	struct pool	*p;
	char		*why;

	if ((ai = awsd_find(a, v->id)) != NULL) {
		if (adopt)
			return (0);	/* the first call saw to it */
		ai->seen = 1;
		if (!awsd_live_state(v->state)) {
			if (ai->in != NULL) {
				why = awsd_gone_why(v);
				awsd_lost(ai, why);
				free(why);
			}
			if (strcmp(v->state, "terminated") == 0)
				ai->gone = 1;
		} else if (ai->in == NULL)
			ainst_terminate(ai);	/* again */
		return (0);
	}
	if (!awsd_live_state(v->state))
		return (0);
	p = v->pool != NULL ? pools_find(a->pools, v->pool) : NULL;
	if (p == NULL || strcmp(pool_driver_name(p), "aws") != 0 ||
	    v->lease_expires <= now_s) {
		log_warn("aws: terminating %s (pool %s): %s", v->id,
		    v->pool != NULL ? v->pool : "none", p == NULL ?
		    "no such aws pool here" : "its lease has expired");
		ai = xcalloc(1, sizeof *ai);
		ai->a = a;
		ai->ec2_id = xstrdup(v->id);
		ai->seen = 1;
		TAILQ_INSERT_TAIL(&a->insts, ai, entry);
		ainst_terminate(ai);
		return (0);
	}
	if (!adopt)
		return (1);	/* in the second loop, in one transaction */
	ai = xcalloc(1, sizeof *ai);
	ai->a = a;
	ai->ec2_id = xstrdup(v->id);
	ai->known_at = ev_now(a->loop);
	ai->pool = p;
	ai->adopted = 1;
	ai->seen = 1;
	ai->spot = v->lifecycle != NULL && strcmp(v->lifecycle, "spot") == 0;
	TAILQ_INSERT_TAIL(&a->insts, ai, entry);
	ai->in = pool_instance_adopt(p, v->id, ai->spot, v->launched);
	instance_set_driver_state(ai->in, ai);
	log_info("aws: pool %s: adopted %s, launched before a restart",
	    pool_name(p), v->id);
	awsd_poll_soon(a);
	return (0);
}

static void
awsd_leased(struct aws *aws, const struct aws_reply *r, void *arg)
{
	if (!r->ok)
		log_warn("aws: renewing leases: %s", r->error);
}

/* Push the lease of every live instance aws.lease ahead. */
static void
awsd_renew_leases(struct awsd *a)
{
	const struct config	*conf = awsd_config(a);
	struct ainst		*ai;
	const char		**ids;
	size_t			 n = 0;
	char			*form;
	int64_t			 until;

	until = (ev_time(a->loop) + (int64_t)conf->aws_lease_ms) / 1000;
	ids = xcalloc(AWS_LEASE_BATCH, sizeof *ids);
	TAILQ_FOREACH(ai, &a->insts, entry) {
		if (ai->in == NULL || ai->ec2_id == NULL)
			continue;
		ids[n++] = ai->ec2_id;
		if (n == AWS_LEASE_BATCH || TAILQ_NEXT(ai, entry) == NULL) {
			form = ec2_ids_params(ids, n, until);
			aws_call(a->aws, AWS_EC2, "CreateTags", form,
			    awsd_leased, a);
			free(form);
			n = 0;
		}
	}
	if (n > 0) {
		form = ec2_ids_params(ids, n, until);
		aws_call(a->aws, AWS_EC2, "CreateTags", form, awsd_leased, a);
		free(form);
	}
	free(ids);
}

/* The pass has read every page: what EC2 did not list is gone. */
static void
awsd_reconciled(struct awsd *a)
{
	struct ainst	*ai, *next;
	char		*why;

	for (ai = TAILQ_FIRST(&a->insts); ai != NULL; ai = next) {
		next = TAILQ_NEXT(ai, entry);
		if (ai->ec2_id == NULL || ai->call != 0)
			continue;
		/* EC2 may not list a new instance at once (eventually
		 * consistent): only one known well before the pass began. */
		if (!ai->seen && ai->in != NULL && ai->known_at +
		    AWS_CONSISTENT_MS < a->reconcile_started) {
			why = awsd_gone_why(NULL);
			awsd_lost(ai, why);
			free(why);
		}
		if (ai->in == NULL && (ai->gone || (!ai->seen &&
		    ai->terminated)))
			ainst_free(ai);
	}
	awsd_renew_leases(a);
	if (!a->reconciled)
		log_info("aws: first reconcile done; the pools may launch");
	a->reconciled = 1;
	a->passes++;
	/* The work of the last page too, which the loop's clock misses. */
	a->reconcile_ms = util_mono_ms() - a->reconcile_started;
	pools_schedule(a->pools);
}

static void	awsd_describe_page(struct awsd *, const char *);

static void
awsd_described(struct aws *aws, const struct aws_reply *r, void *arg)
{
	struct awsd		*a = arg;
	struct ec2_instance	*v = NULL;
	size_t			 n = 0, i;
	char			*next = NULL, *cause = NULL;
	int64_t			 now_s = ev_time(a->loop) / 1000;
	size_t			 adopt = 0;

	a->describe_call = 0;
	if (!r->ok || ec2_instances_parse(r->body, r->len, &v, &n, &next,
	    &cause) != 0) {
		log_warn("aws: reconcile: %s", r->ok ? cause : r->error);
		free(cause);
		ev_timer_del(a->reconcile);
		a->reconcile = ev_timer_add(a->loop, AWS_RECONCILE_RETRY_MS,
		    awsd_reconcile, a);
		return;
	}
	for (i = 0; i < n; i++)
		adopt += awsd_reconcile_one(a, &v[i], now_s, 0);
	if (adopt > 0 && pools_begin(a->pools) == 0) {
		for (i = 0; i < n; i++)
			awsd_reconcile_one(a, &v[i], now_s, 1);
		pools_commit(a->pools);
	}
	ec2_instances_free(v, n);
	if (next != NULL)
		awsd_describe_page(a, next);
	else
		awsd_reconciled(a);
	free(next);
}

static void
awsd_describe_page(struct awsd *a, const char *next)
{
	char	*form;

	form = ec2_describe_params(awsd_config(a)->aws_daemon, next, 1000);
	a->describe_call = aws_call(a->aws, AWS_EC2, "DescribeInstances", form,
	    awsd_described, a);
	free(form);
}

static void
awsd_reconcile(struct ev_loop *loop, void *arg)
{
	struct awsd	*a = arg;
	struct ainst	*ai;

	a->reconcile = ev_timer_add(loop, awsd_config(a)->aws_reconcile_ms,
	    awsd_reconcile, a);
	if (a->describe_call != 0)
		return;
	TAILQ_FOREACH(ai, &a->insts, entry)
		ai->seen = 0;
	a->reconcile_started = util_mono_ms();
	awsd_describe_page(a, NULL);
}

/* ---------------------------------------------------------- lifecycle */

static void
aws_start(struct pools *ps)
{
	const struct config	*conf = pools_config(ps);
	struct awsd		*a;
	char			*cause = NULL;
	size_t			 i;

	for (i = 0; i < pools_count(ps); i++) {
		if (strcmp(pool_driver_name(pools_at(ps, i)), "aws") == 0)
			break;
	}
	if (i == pools_count(ps))
		return;
	a = xcalloc(1, sizeof *a);
	a->pools = ps;
	a->loop = pools_loop(ps);
	if ((a->http = http_create(a->loop, &cause)) == NULL)
		fatalx("aws: %s", cause);
	a->aws = aws_create(a->loop, a->http, conf->aws_region,
	    conf->aws_endpoint_url, conf->aws_profile, NULL);
	TAILQ_INIT(&a->insts);
	TAILQ_INIT(&a->runs);
	awsd_the = a;
	a->poll = ev_timer_add(a->loop, AWS_POLL_MS, awsd_poll, a);
	a->reconcile = ev_timer_add(a->loop, 0, awsd_reconcile, a);
	log_info("aws: region %s, cluster %s, daemon tag %s%s%s",
	    conf->aws_region, conf->aws_cluster, conf->aws_daemon,
	    conf->aws_endpoint_url != NULL ? ", endpoint " : "",
	    conf->aws_endpoint_url != NULL ? conf->aws_endpoint_url : "");
}

/*
 * The daemon stops: our instances keep running under their leases, for
 * the next start to adopt; the calls still out are dropped.
 */
static void
aws_stop(struct pools *ps)
{
	struct awsd	*a = awsd_the;
	struct ainst	*ai;

	if (a == NULL)
		return;
	aws_task_free_all(a);
	while ((ai = TAILQ_FIRST(&a->insts)) != NULL) {
		if (ai->in != NULL)
			instance_set_driver_state(ai->in, NULL);
		ainst_free(ai);
	}
	ev_timer_del(a->poll);
	ev_timer_del(a->reconcile);
	aws_task_defs_free(a);
	aws_free(a->aws);
	http_free(a->http);
	free(a->ci_next);
	free(a);
	awsd_the = NULL;
}

/* For /metrics and the benchmark: passes, and how long the last took. */
void
awsd_stats(struct awsd *a, uint64_t *passes, uint64_t *last_ms,
    size_t *known)
{
	struct ainst	*ai;

	*passes = a->passes;
	*last_ms = a->reconcile_ms;
	*known = 0;
	TAILQ_FOREACH(ai, &a->insts, entry)
		(*known)++;
}

const struct driver driver_aws = {
	.name = "aws",
	.launch = aws_launch,
	.terminate = aws_terminate,
	.run = aws_task_run,
	.cancel = aws_task_cancel,
	.abandon = aws_task_abandon,
	.drain = aws_drain,
	.can_launch = aws_can_launch,
	.start = aws_start,
	.stop = aws_stop,
	.outlives_daemon = 1,
};
