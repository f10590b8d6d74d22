/*
 * The aws driver's tasks: each is an ECS task that the daemon places
 * itself, with StartTask, on the container instance the pool chose, from
 * a task definition per image (registered once, logging to
 * CloudWatch Logs). Its command fetches the commit's tree from the
 * task's CODE_URL, then runs `run:` with /bin/sh -c, as the local driver
 * does.
 *
 * One poll a second asks DescribeTasks about every running task (up to
 * 100 a call) and copies new log events (GetLogEvents, at most
 * AWS_LOGS_PER_POLL tasks a poll, in turn) into the same file the local
 * driver writes, STATE_DIR/logs/BUILD/TASK.log, with secrets masked, so
 * log pages, the console and GitHub's links work alike. A task that
 * stopped has the rest of its log copied before its end is reported.
 *
 * How a stopped task ended: exit status 0 passed, another failed; the
 * daemon's own StopTask says cancelled or timed out; a host that went
 * away (spot interruption, termination) is an infrastructure retry of the
 * task, and its instance is lost; a container that could not start is an
 * error with ECS's words.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define AWS_DESCRIBE_MAX	100
#define AWS_LOGS_PER_POLL	10

/*
 * Before `run:`, in the task's container: a fresh directory holding the
 * commit's tree from CODE_URL (the archive has one top directory). Exit
 * status 125 and a sentence if that fails.
 */
#define AWS_TASK_PRELUDE \
	"d=$(mktemp -d 2>/dev/null || echo /tmp/beekeeper-$$) && " \
	"mkdir -p \"$d\" && cd \"$d\" || " \
	"{ echo 'beekeeper: could not make a workspace' >&2; exit 125; }\n" \
	"{ curl -fsSL \"$CODE_URL\" 2>/dev/null || " \
	"wget -qO- \"$CODE_URL\"; } | tar -xzf - --strip-components=1 || " \
	"{ echo \"beekeeper: could not fetch the commit's tree from " \
	"$CODE_URL\" >&2; exit 125; }\n"

enum arun_end {
	ARUN_NONE,
	ARUN_DONE,		/* end_state, end_status, end_reason */
	ARUN_RETRY		/* end_reason: why the machine went */
};

struct arun {
	struct awsd		*a;
	struct task		*t;
	struct ainst		*ai;
	char			*arn;
	char			*stream;
	char			*next;		/* GetLogEvents' token */
	struct mask		*mask;
	int			 fd;
	struct ev_timer		*timeout;
	uint64_t		 call;		/* StartTask or logs */
	int			 cancelled;
	int			 timed_out;
	int			 stop_sent;
	enum arun_end		 end;
	enum task_state		 end_state;
	int			 end_status;
	char			*end_reason;
	TAILQ_ENTRY(arun)	 entry;
};

static void	arun_start(struct arun *);

/* The task's image, or its profile's for a file that names none. */
static const char *
arun_image(struct awsd *a, const struct task *t)
{
	const struct profile	*pr;

	if (t->image != NULL)
		return (t->image);
	pr = config_profile(awsd_config(a), t->profile);
	return (pr != NULL && pr->image != NULL ? pr->image :
	    "buildpack-deps:bookworm");
}
static void	arun_logs(struct arun *);

static void
arun_free(struct arun *r)
{
	struct buf	 out;

	TAILQ_REMOVE(&r->a->runs, r, entry);
	if (r->call != 0)
		aws_cancel(r->a->aws, r->call);
	if (r->timeout != NULL)
		ev_timer_del(r->timeout);
	if (r->fd != -1) {
		buf_init(&out, 0);
		/* No mask: it never started, so nothing was written. */
		if (r->mask != NULL && mask_flush(r->mask, &out) == 0 &&
		    out.len > 0 &&
		    write(r->fd, out.data, out.len) < 0)
			log_warn("aws: task log: %s", strerror(errno));
		buf_release(&out);
		close(r->fd);
	}
	mask_free(r->mask);
	if (r->t != NULL)
		r->t->run_state = NULL;
	free(r->arn);
	free(r->stream);
	free(r->next);
	free(r->end_reason);
	free(r);
}

/* Report how the task ended, and let go of it. */
static void
arun_finish(struct arun *r)
{
	struct engine		*e = pools_engine(r->a->pools);
	const struct profile	*pr;
	struct task		*t = r->t;
	enum arun_end		 end = r->end;
	enum task_state		 state = r->end_state;
	int			 status = r->end_status;
	char			*reason = r->end_reason;

	r->end_reason = NULL;
	if (r->cancelled && !(end == ARUN_DONE && state == TASK_PASSED)) {
		end = ARUN_DONE;
		state = TASK_CANCELLED;
		free(reason);
		reason = xstrdup("cancelled");
	}
	if (end == ARUN_RETRY && r->ai->spot && (pr = config_profile(
	    awsd_config(r->a), t->profile)) != NULL && pr->spot_fallback)
		t->on_demand = 1;
	arun_free(r);
	if (end == ARUN_RETRY)
		engine_task_retry(e, t, reason);
	else
		engine_task_done(e, t, state, status, reason);
	free(reason);
}

static void
arun_end(struct arun *r, enum task_state state, int status,
    const char *reason)
{
	r->end = ARUN_DONE;
	r->end_state = state;
	r->end_status = status;
	free(r->end_reason);
	r->end_reason = reason != NULL ? xstrdup(reason) : NULL;
}

/* An error before ECS ran anything: the task ends with AWS's sentence. */
static void
arun_error(struct arun *r, const char *why)
{
	arun_end(r, TASK_ERRORED, -1, why);
	arun_finish(r);
}

static struct aws_taskdef *
aws_taskdef(struct awsd *a, const char *image)
{
	size_t	 i;

	for (i = 0; i < a->ndefs; i++) {
		if (strcmp(a->defs[i].image, image) == 0)
			return (&a->defs[i]);
	}
	a->defs = xreallocarray(a->defs, a->ndefs + 1, sizeof *a->defs);
	memset(&a->defs[a->ndefs], 0, sizeof *a->defs);
	a->defs[a->ndefs].image = xstrdup(image);
	return (&a->defs[a->ndefs++]);
}

void
aws_task_defs_free(struct awsd *a)
{
	size_t	 i;

	for (i = 0; i < a->ndefs; i++) {
		free(a->defs[i].image);
		free(a->defs[i].arn);
		free(a->defs[i].error);
	}
	free(a->defs);
	a->defs = NULL;
	a->ndefs = 0;
}

static void
aws_registered(struct aws *aws, const struct aws_reply *reply, void *arg)
{
	struct awsd		*a = awsd_get();
	struct aws_taskdef	*d;
	struct arun		*r, *next;
	json_t			*j;
	const char		*arn = NULL;
	char			*image = arg;

	d = aws_taskdef(a, image);
	free(image);
	j = reply->ok ? json_loadb(reply->body, reply->len, 0, NULL) : NULL;
	arn = json_string_value(json_object_get(json_object_get(j,
	    "taskDefinition"), "taskDefinitionArn"));
	d->registering = 0;
	free(d->error);
	d->error = NULL;
	if (arn != NULL)
		d->arn = xstrdup(arn);
	else
		d->error = xstrdup(reply->ok ? "ECS RegisterTaskDefinition "
		    "answered no taskDefinitionArn" : reply->error);
	json_decref(j);
	for (r = TAILQ_FIRST(&a->runs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->arn != NULL || r->call != 0 || r->end != ARUN_NONE ||
		    strcmp(arun_image(a, r->t), d->image) != 0)
			continue;
		if (r->cancelled)
			arun_finish(r);
		else if (d->arn != NULL)
			arun_start(r);
		else
			arun_error(r, d->error);
	}
}

static void
aws_register(struct awsd *a, struct aws_taskdef *d, const struct task *t)
{
	const struct config	*conf = awsd_config(a);
	const struct profile	*pr = config_profile(conf, t->profile);
	struct ecs_taskdef	 td;
	char			*body, *family;

	family = ecs_family("beekeeper", arun_image(a, t));
	memset(&td, 0, sizeof td);
	td.family = family;
	td.image = arun_image(a, t);
	td.memory_mb = pr != NULL ? pr->memory_mb : 1024;
	td.log_group = conf->aws_log_group;
	td.region = conf->aws_region;
	body = ecs_register_body(&td);
	aws_call(a->aws, AWS_ECS, "RegisterTaskDefinition", body,
	    aws_registered, xstrdup(arun_image(a, t)));
	free(body);
	free(family);
	d->registering = 1;
}

static void
arun_timed_out(struct ev_loop *loop, void *arg)
{
	struct arun	*r = arg;

	r->timeout = NULL;
	r->timed_out = 1;
	aws_task_cancel(NULL, r->t);
}

static void
arun_started(struct aws *aws, const struct aws_reply *reply, void *arg)
{
	struct arun	*r = arg;
	struct ecs_task	*v = NULL;
	size_t		 n = 0;
	char		*failure = NULL, *cause = NULL, *why;

	r->call = 0;
	if (!reply->ok) {
		arun_error(r, reply->error);
		return;
	}
	if (ecs_tasks_parse(reply->body, reply->len, &v, &n, &failure,
	    &cause) != 0 || n != 1) {
		xasprintf(&why, "ECS StartTask placed no task on %s: %s",
		    r->ai->ec2_id, cause != NULL ? cause : failure != NULL ?
		    failure : "no reason given");
		if (failure != NULL && strcmp(failure, "MISSING") == 0) {
			/* Its container instance is gone: so is it. */
			r->end = ARUN_RETRY;
			r->end_reason = why;
			why = NULL;
			arun_finish(r);
		} else
			arun_error(r, why);
		free(why);
		free(failure);
		free(cause);
		ecs_tasks_free(v, n);
		return;
	}
	r->arn = xstrdup(v[0].arn);
	r->stream = ecs_log_stream(r->arn);
	ecs_tasks_free(v, n);
	free(failure);
	engine_task_started(pools_engine(r->a->pools), r->t, 0);
	if (r->t->timeout_ms > 0)
		r->timeout = ev_timer_add(r->a->loop, r->t->timeout_ms,
		    arun_timed_out, r);
	if (r->cancelled)
		aws_task_cancel(NULL, r->t);
}

/* StartTask on the instance the pool chose. */
static void
arun_start(struct arun *r)
{
	const struct config	*conf = awsd_config(r->a);
	struct aws_taskdef	*d = aws_taskdef(r->a, arun_image(r->a, r->t));
	const char		**masks = NULL;
	const char		**env;
	size_t			 nmasks = 0, n = 0, i;
	json_t			*vars, *v;
	const char		*k;
	char			*cmd, *body, *group;

	vars = task_env(conf, pools_engine(r->a->pools), r->t, &masks,
	    &nmasks);
	r->mask = mask_create(masks, nmasks);
	free(masks);
	env = xcalloc(json_object_size(vars) + 1, sizeof *env);
	json_object_foreach(vars, k, v) {
		xasprintf((char **)&env[n], "%s=%s", k, json_string_value(v));
		n++;
	}
	json_decref(vars);
	xasprintf(&cmd, "%s%s", AWS_TASK_PRELUDE, r->t->run);
	xasprintf(&group, "beekeeper:%s", pool_name(r->ai->pool));
	body = ecs_start_body(conf->aws_cluster, d->arn, r->ai->ci_arn, cmd,
	    env, n, group);
	for (i = 0; i < n; i++) {
		/* secrets among them */
		explicit_bzero((char *)env[i], strlen(env[i]));
		free((char *)env[i]);
	}
	free(env);
	r->call = aws_call(r->a->aws, AWS_ECS, "StartTask", body,
	    arun_started, r);
	explicit_bzero(body, strlen(body));
	free(body);
	free(group);
	free(cmd);
}

int
aws_task_run(struct instance *in, struct task *t, char **cause)
{
	struct ainst		*ai = instance_driver_state(in);
	struct awsd		*a = awsd_get();
	const struct config	*conf;
	struct aws_taskdef	*d;
	struct arun		*r;
	char			*dir, *path;

	if (a == NULL || ai == NULL || ai->ci_arn == NULL) {
		xasprintf(cause, "instance %s has no ECS container instance",
		    instance_id(in));
		return (-1);
	}
	conf = awsd_config(a);
	xasprintf(&dir, "%s/logs/%lld", conf->state_dir,
	    (long long)t->build->id);
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		xasprintf(cause, "%s: %s", dir, strerror(errno));
		free(dir);
		return (-1);
	}
	xasprintf(&path, "%s/%lld.log", dir, (long long)t->id);
	free(dir);
	r = xcalloc(1, sizeof *r);
	r->a = a;
	r->t = t;
	r->ai = ai;
	if ((r->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
	    O_CLOEXEC, 0640)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		free(r);
		return (-1);
	}
	free(path);
	if (t->timeout_ms == 0) {
		const struct profile *pr = config_profile(conf, t->profile);

		t->timeout_ms = pr != NULL ? pr->task_timeout_ms : 0;
	}
	TAILQ_INSERT_TAIL(&a->runs, r, entry);
	t->run_state = r;
	d = aws_taskdef(a, arun_image(a, t));
	if (d->arn != NULL)
		arun_start(r);
	else if (!d->registering)
		aws_register(a, d, t);	/* again, if it failed before */
	return (0);
}

static void
arun_stopped_call(struct aws *aws, const struct aws_reply *reply, void *arg)
{
	char	*arn = arg;

	if (!reply->ok)
		log_warn("aws: stopping %s: %s", arn, reply->error);
	free(arn);
}

/* StopTask; the end comes through the poll, as any other. */
void
aws_task_cancel(struct instance *in, struct task *t)
{
	struct arun	*r = t->run_state;
	char		*body;

	if (r == NULL)
		return;
	if (!r->timed_out)
		r->cancelled = 1;
	if (r->arn == NULL) {
		/* Not started yet: registering or StartTask is out. */
		if (r->call == 0 && r->end == ARUN_NONE)
			arun_finish(r);
		return;
	}
	if (r->stop_sent)
		return;
	r->stop_sent = 1;
	body = ecs_stop_body(awsd_config(r->a)->aws_cluster, r->arn,
	    r->timed_out ? "beekeeper: the task timed out" :
	    "beekeeper: cancelled");
	aws_call(r->a->aws, AWS_ECS, "StopTask", body, arun_stopped_call,
	    xstrdup(r->arn));
	free(body);
}

/*
 * The daemon stops: the task is left as it is (the store still says
 * running, so the next start retries it; adoption stops the old one).
 */
void
aws_task_abandon(struct instance *in, struct task *t)
{
	struct arun	*r = t->run_state;

	if (r != NULL) {
		r->t = NULL;
		t->run_state = NULL;
		arun_free(r);
	}
}

/* The instance is gone: its runs end with no report (the pool's). */
void
aws_task_release_all(struct ainst *ai)
{
	struct arun	*r, *next;

	for (r = TAILQ_FIRST(&ai->a->runs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->ai == ai)
			arun_free(r);
	}
}

void
aws_task_free_all(struct awsd *a)
{
	struct arun	*r;

	while ((r = TAILQ_FIRST(&a->runs)) != NULL)
		arun_free(r);
}

/* ---------------------------------------------------------- logs */

static void
arun_got_logs(struct aws *aws, const struct aws_reply *reply, void *arg)
{
	struct arun	*r = arg;
	struct buf	 in, out;
	char		*next = NULL, *cause = NULL;
	int		 more = 0;

	r->call = 0;
	buf_init(&in, 0);
	if (!reply->ok) {
		/* No stream yet is normal until the container writes. */
		if (reply->code == NULL || strcmp(reply->code,
		    "ResourceNotFoundException") != 0)
			log_warn("aws: task log: %s", reply->error);
	} else if (ecs_log_events_parse(reply->body, reply->len, &in, &next,
	    &more, &cause) != 0) {
		log_warn("aws: task log: %s", cause);
		free(cause);
	} else {
		buf_init(&out, 0);
		if (in.len > 0 && mask_feed(r->mask, in.data, in.len,
		    &out) == 0 && out.len > 0 &&
		    write(r->fd, out.data, out.len) < 0)
			log_warn("aws: task log: %s", strerror(errno));
		buf_release(&out);
		free(r->next);
		r->next = next;
	}
	buf_release(&in);
	if (r->end == ARUN_NONE)
		return;
	/* Stopped: copy the rest, then report. */
	if (reply->ok && more)
		arun_logs(r);
	else
		arun_finish(r);
}

static void
arun_logs(struct arun *r)
{
	char	*body;

	if (r->call != 0 || r->stream == NULL)
		return;
	body = ecs_log_events_body(awsd_config(r->a)->aws_log_group,
	    r->stream, r->next);
	r->call = aws_call(r->a->aws, AWS_LOGS, "GetLogEvents", body,
	    arun_got_logs, r);
	free(body);
}

/* ---------------------------------------------------------- the poll */

static struct arun *
aws_run_by_arn(struct awsd *a, const char *arn)
{
	struct arun	*r;

	TAILQ_FOREACH(r, &a->runs, entry) {
		if (r->arn != NULL && strcmp(r->arn, arn) == 0)
			return (r);
	}
	return (NULL);
}

/* How a STOPPED task ended, in r's end fields. */
static void
arun_stopped(struct arun *r, const struct ecs_task *v)
{
	const char	*code = v->stop_code != NULL ? v->stop_code : "";
	char		*why;

	if (strcmp(code, "SpotInterruption") == 0 ||
	    strcmp(code, "TerminationNotice") == 0 ||
	    (v->stopped_reason != NULL && strncmp(v->stopped_reason,
	    "Host EC2", 8) == 0)) {
		r->end = ARUN_RETRY;
		xasprintf(&r->end_reason, "%s %s: %s",
		    strcmp(code, "SpotInterruption") == 0 ?
		    "EC2 reclaimed spot instance" : "EC2 ended instance",
		    r->ai->ec2_id, v->stopped_reason != NULL ?
		    v->stopped_reason : code);
		return;
	}
	if (r->timed_out) {
		xasprintf(&why, "timed out after %llus",
		    (unsigned long long)r->t->timeout_ms / 1000);
		arun_end(r, TASK_FAILED, -1, why);
		free(why);
	} else if (v->exit_code == 0)
		arun_end(r, TASK_PASSED, 0, NULL);
	else if (v->exit_code > 0) {
		xasprintf(&why, "exited with status %d", v->exit_code);
		arun_end(r, TASK_FAILED, v->exit_code, why);
		free(why);
	} else {
		xasprintf(&why, "ECS stopped the task (%s): %s", code[0] !=
		    '\0' ? code : "no stop code", v->reason != NULL ?
		    v->reason : v->stopped_reason != NULL ? v->stopped_reason :
		    "no reason given");
		arun_end(r, strcmp(code, "TaskFailedToStart") == 0 ?
		    TASK_ERRORED : TASK_FAILED, -1, why);
		free(why);
	}
}

static void
aws_tasks_described(struct aws *aws, const struct aws_reply *reply,
    void *arg)
{
	struct awsd	*a = arg;
	struct ecs_task	*v = NULL;
	struct arun	*r;
	struct ainst	*lost = NULL;
	size_t		 n = 0, i;
	char		*failure = NULL, *cause = NULL, *why = NULL;

	a->tasks_calls--;
	if (!reply->ok || ecs_tasks_parse(reply->body, reply->len, &v, &n,
	    &failure, &cause) != 0) {
		log_warn("aws: %s", reply->ok ? cause : reply->error);
		free(cause);
		return;
	}
	for (i = 0; i < n; i++) {
		if ((r = aws_run_by_arn(a, v[i].arn)) == NULL ||
		    r->end != ARUN_NONE || v[i].last_status == NULL ||
		    strcmp(v[i].last_status, "STOPPED") != 0)
			continue;
		arun_stopped(r, &v[i]);
		if (r->end == ARUN_RETRY && lost == NULL) {
			lost = r->ai;
			why = xstrdup(r->end_reason);
		}
		if (r->call == 0)
			arun_logs(r);
	}
	ecs_tasks_free(v, n);
	free(failure);
	/* Its host went: the instance is lost, its other tasks run again. */
	if (lost != NULL) {
		awsd_lost(lost, why);
		free(why);
	}
}

/* DescribeTasks of n tasks, at most AWS_DESCRIBE_MAX. */
static void
aws_describe_tasks(struct awsd *a, const char **arns, size_t n)
{
	char	*body;

	body = ecs_describe_tasks_body(awsd_config(a)->aws_cluster, arns, n);
	aws_call(a->aws, AWS_ECS, "DescribeTasks", body, aws_tasks_described,
	    a);
	a->tasks_calls++;
	free(body);
}

/*
 * Once a second: DescribeTasks of every running task, 100 a call (none
 * while the last poll's are still out), and the logs of some.
 */
void
aws_task_poll(struct awsd *a)
{
	struct arun	*r;
	const char	*arns[AWS_DESCRIBE_MAX];
	size_t		 n = 0;
	u_int		 i = 0, logs = 0, count = 0;
	int		 describe = a->tasks_calls == 0;

	TAILQ_FOREACH(r, &a->runs, entry) {
		if (r->arn == NULL || r->end != ARUN_NONE)
			continue;
		count++;
		if (!describe)
			continue;
		arns[n++] = r->arn;
		if (n == AWS_DESCRIBE_MAX) {
			aws_describe_tasks(a, arns, n);
			n = 0;
		}
	}
	if (n > 0)
		aws_describe_tasks(a, arns, n);
	/* Logs of a few running tasks each second, in turn. */
	TAILQ_FOREACH(r, &a->runs, entry) {
		if (r->arn == NULL || r->end != ARUN_NONE)
			continue;
		if (count > AWS_LOGS_PER_POLL && (i++ + a->log_cursor) %
		    ((count + AWS_LOGS_PER_POLL - 1) / AWS_LOGS_PER_POLL) != 0)
			continue;
		if (logs++ < AWS_LOGS_PER_POLL)
			arun_logs(r);
	}
	a->log_cursor++;
}

static void
aws_leftovers_stopped(struct aws *aws, const struct aws_reply *reply,
    void *arg)
{
	struct ainst	*ai = arg;
	char		**arns = NULL, *next = NULL, *cause = NULL, *body;
	size_t		 n = 0, i;

	ai->call = 0;
	if (!reply->ok || ecs_list_parse(reply->body, reply->len, "taskArns",
	    &arns, &n, &next, &cause) != 0) {
		log_warn("aws: %s: listing its tasks: %s", ai->ec2_id,
		    reply->ok ? cause : reply->error);
		free(cause);
		ai->leftovers = 0;
		return;
	}
	for (i = 0; i < n; i++) {
		log_info("aws: %s: stopping %s, left from before a restart",
		    ai->ec2_id, arns[i]);
		body = ecs_stop_body(awsd_config(ai->a)->aws_cluster, arns[i],
		    "beekeeper: the daemon restarted; the task runs again");
		aws_call(ai->a->aws, AWS_ECS, "StopTask", body,
		    arun_stopped_call, xstrdup(arns[i]));
		free(body);
		free(arns[i]);
	}
	free(arns);
	free(next);
	ai->leftovers = 0;
}

/*
 * An adopted instance still runs tasks from before the restart, which
 * the daemon runs again anyway: stop them, so the slots are free when it
 * is ready.
 */
void
aws_task_stop_leftovers(struct ainst *ai)
{
	char	*body;

	if (ai->leftovers || ai->call != 0)
		return;
	ai->leftovers = 1;
	body = ecs_list_tasks_body(awsd_config(ai->a)->aws_cluster,
	    ai->ci_arn);
	ai->call = aws_call(ai->a->aws, AWS_ECS, "ListTasks", body,
	    aws_leftovers_stopped, ai);
	free(body);
}
