/*
 * ECS's and CloudWatch Logs' side of the AWS pools: the JSON requests of
 * the actions the daemon uses and what it reads from their answers.
 * Pure: aws.c sends, the AWS driver decides.
 *
 * The daemon places every task itself: StartTask names the container
 * instance the pool chose, so ECS never puts a task where the pool did
 * not count it. A task's output goes to CloudWatch Logs through the
 * awslogs driver, in the stream ECS names PREFIX/CONTAINER/TASK-ID, from
 * which the driver copies it into the daemon's own log files.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"

#define ECS_CONTAINER		"task"
#define ECS_STARTED_BY		"beekeeper"

static char *
ecs_dump(json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return (s);
}

/* The name of an image's task definition family: [A-Za-z0-9_-], 255. */
char *
ecs_family(const char *prefix, const char *image)
{
	struct buf	 b;
	const char	*p;

	buf_init(&b, 0);
	buf_printf(&b, "%s-", prefix);
	for (p = image; *p != '\0' && b.len < 255; p++)
		buf_printf(&b, "%c", (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '_' ? *p : '_');
	return (buf_detach(&b, NULL));
}

/* RegisterTaskDefinition for an image, logging to CloudWatch Logs. */
char *
ecs_register_body(const struct ecs_taskdef *d)
{
	json_t	*c;

	c = json_pack("{s:s, s:s, s:b, s:I, s:{s:s, s:{s:s, s:s, s:s, s:s}}}",
	    "name", ECS_CONTAINER,
	    "image", d->image,
	    "essential", 1,
	    "memoryReservation", (json_int_t)d->memory_mb,
	    "logConfiguration",
	      "logDriver", "awslogs",
	      "options",
		"awslogs-group", d->log_group,
		"awslogs-region", d->region,
		"awslogs-stream-prefix", ECS_STARTED_BY,
		"awslogs-create-group", "true");
	return (ecs_dump(json_pack("{s:s, s:[o], s:s, s:[s]}",
	    "family", d->family,
	    "containerDefinitions", c,
	    "networkMode", "bridge",
	    "requiresCompatibilities", "EC2")));
}

/* StartTask of a definition on one container instance, with a command. */
char *
ecs_start_body(const char *cluster, const char *taskdef,
    const char *container_instance, const char *command,
    const char *const *env, size_t nenv, const char *group)
{
	json_t	*vars = json_array();
	size_t	 i;
	char	*eq;

	for (i = 0; i < nenv; i++) {
		if ((eq = strchr(env[i], '=')) == NULL)
			continue;
		json_array_append_new(vars, json_pack("{s:s%, s:s}",
		    "name", env[i], (size_t)(eq - env[i]), "value", eq + 1));
	}
	return (ecs_dump(json_pack("{s:s, s:s, s:[s], s:s, s:s, "
	    "s:{s:[{s:s, s:[s, s, s], s:o}]}}",
	    "cluster", cluster,
	    "taskDefinition", taskdef,
	    "containerInstances", container_instance,
	    "startedBy", ECS_STARTED_BY,
	    "group", group,
	    "overrides", "containerOverrides",
	      "name", ECS_CONTAINER,
	      "command", "/bin/sh", "-c", command,
	      "environment", vars)));
}

char *
ecs_describe_tasks_body(const char *cluster, const char *const *arns,
    size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(arns[i]));
	return (ecs_dump(json_pack("{s:s, s:o}", "cluster", cluster,
	    "tasks", a)));
}

char *
ecs_stop_body(const char *cluster, const char *arn, const char *reason)
{
	return (ecs_dump(json_pack("{s:s, s:s, s:s}", "cluster", cluster,
	    "task", arn, "reason", reason)));
}

char *
ecs_list_instances_body(const char *cluster, const char *next)
{
	json_t	*j = json_pack("{s:s, s:i}", "cluster", cluster,
	    "maxResults", 100);

	if (next != NULL)
		json_object_set_new(j, "nextToken", json_string(next));
	return (ecs_dump(j));
}

/* The tasks ECS still runs on one container instance. */
char *
ecs_list_tasks_body(const char *cluster, const char *container_instance)
{
	return (ecs_dump(json_pack("{s:s, s:s, s:s, s:i}", "cluster", cluster,
	    "containerInstance", container_instance, "desiredStatus",
	    "RUNNING", "maxResults", 100)));
}

char *
ecs_arns_body(const char *cluster, const char *key,
    const char *const *arns, size_t n, const char *status)
{
	json_t	*a = json_array(), *j;
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(arns[i]));
	j = json_pack("{s:s, s:o}", "cluster", cluster, key, a);
	if (status != NULL)
		json_object_set_new(j, "status", json_string(status));
	return (ecs_dump(j));
}

char *
ecs_log_events_body(const char *group, const char *stream, const char *next)
{
	json_t	*j = json_pack("{s:s, s:s, s:b}", "logGroupName", group,
	    "logStreamName", stream, "startFromHead", 1);

	if (next != NULL)
		json_object_set_new(j, "nextToken", json_string(next));
	return (ecs_dump(j));
}

/* The stream ECS writes a task's output to: PREFIX/CONTAINER/TASK-ID. */
char *
ecs_log_stream(const char *task_arn)
{
	const char	*id = strrchr(task_arn, '/');
	char		*s;

	xasprintf(&s, "%s/%s/%s", ECS_STARTED_BY, ECS_CONTAINER,
	    id != NULL ? id + 1 : task_arn);
	return (s);
}

static char *
ecs_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return (s != NULL && *s != '\0' ? xstrdup(s) : NULL);
}

void
ecs_tasks_free(struct ecs_task *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].arn);
		free(v[i].last_status);
		free(v[i].stopped_reason);
		free(v[i].stop_code);
		free(v[i].container_instance);
		free(v[i].reason);
	}
	free(v);
}

/*
 * The tasks of a StartTask or DescribeTasks answer, and its failures as
 * one sentence (*failure, NULL if none). 0, or -1 and why.
 */
int
ecs_tasks_parse(const char *body, size_t len, struct ecs_task **out,
    size_t *nout, char **failure, char **cause)
{
	json_t		*j, *tasks, *t, *c, *f;
	json_error_t	 jerr;
	struct ecs_task	*v;
	struct buf	 b;
	size_t		 i, n;

	*out = NULL;
	*nout = 0;
	*failure = NULL;
	if ((j = json_loadb(body, len, 0, &jerr)) == NULL ||
	    !json_is_array(tasks = json_object_get(j, "tasks"))) {
		xasprintf(cause, "ECS answered without a tasks list%s%s",
		    j == NULL ? ": " : "", j == NULL ? jerr.text : "");
		json_decref(j);
		return (-1);
	}
	n = json_array_size(tasks);
	v = xcalloc(n + 1, sizeof *v);
	json_array_foreach(tasks, i, t) {
		v[i].arn = ecs_str(t, "taskArn");
		v[i].last_status = ecs_str(t, "lastStatus");
		v[i].stopped_reason = ecs_str(t, "stoppedReason");
		v[i].stop_code = ecs_str(t, "stopCode");
		v[i].container_instance = ecs_str(t, "containerInstanceArn");
		v[i].exit_code = -1;
		c = json_array_get(json_object_get(t, "containers"), 0);
		if (json_is_integer(json_object_get(c, "exitCode")))
			v[i].exit_code = json_integer_value(json_object_get(c,
			    "exitCode"));
		v[i].reason = ecs_str(c, "reason");
	}
	buf_init(&b, 0);
	json_array_foreach(json_object_get(j, "failures"), i, f) {
		buf_printf(&b, "%s%s: %s", b.len > 0 ? "; " : "",
		    json_string_value(json_object_get(f, "arn")) != NULL ?
		    json_string_value(json_object_get(f, "arn")) : "ECS",
		    json_string_value(json_object_get(f, "reason")) != NULL ?
		    json_string_value(json_object_get(f, "reason")) :
		    "a failure without a reason");
	}
	if (b.len > 0)
		*failure = buf_detach(&b, NULL);
	else
		buf_release(&b);
	json_decref(j);
	*out = v;
	*nout = n;
	return (0);
}

void
ecs_instances_free(struct ecs_instance *v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(v[i].arn);
		free(v[i].ec2_id);
		free(v[i].status);
	}
	free(v);
}

/* The container instances of a DescribeContainerInstances answer. */
int
ecs_instances_parse(const char *body, size_t len, struct ecs_instance **out,
    size_t *nout, char **cause)
{
	json_t		*j, *list, *ci;
	json_error_t	 jerr;
	struct ecs_instance *v;
	size_t		 i, n;

	*out = NULL;
	*nout = 0;
	if ((j = json_loadb(body, len, 0, &jerr)) == NULL ||
	    !json_is_array(list = json_object_get(j,
	    "containerInstances"))) {
		xasprintf(cause, "ECS answered without containerInstances");
		json_decref(j);
		return (-1);
	}
	n = json_array_size(list);
	v = xcalloc(n + 1, sizeof *v);
	json_array_foreach(list, i, ci) {
		v[i].arn = ecs_str(ci, "containerInstanceArn");
		v[i].ec2_id = ecs_str(ci, "ec2InstanceId");
		v[i].status = ecs_str(ci, "status");
		v[i].running = json_integer_value(json_object_get(ci,
		    "runningTasksCount"));
		v[i].connected = json_is_true(json_object_get(ci,
		    "agentConnected"));
	}
	json_decref(j);
	*out = v;
	*nout = n;
	return (0);
}

/*
 * The strings of a list in an answer (ListContainerInstances'
 * containerInstanceArns) and the next page's token.
 */
int
ecs_list_parse(const char *body, size_t len, const char *key, char ***out,
    size_t *nout, char **next, char **cause)
{
	json_t		*j, *list, *s;
	size_t		 i, n = 0;

	*out = NULL;
	*nout = 0;
	*next = NULL;
	if ((j = json_loadb(body, len, 0, NULL)) == NULL ||
	    !json_is_array(list = json_object_get(j, key))) {
		xasprintf(cause, "the answer has no list %s", key);
		json_decref(j);
		return (-1);
	}
	*out = xcalloc(json_array_size(list) + 1, sizeof **out);
	json_array_foreach(list, i, s) {
		if (json_is_string(s))
			(*out)[n++] = xstrdup(json_string_value(s));
	}
	*nout = n;
	*next = ecs_str(j, "nextToken");
	json_decref(j);
	return (0);
}

/*
 * The messages of a GetLogEvents answer appended to b, one line each,
 * and the token to ask from next. Logs answers the same forward token
 * when there is nothing new; *more says whether this page had events.
 */
int
ecs_log_events_parse(const char *body, size_t len, struct buf *b,
    char **next, int *more, char **cause)
{
	json_t		*j, *ev;
	const char	*m;
	size_t		 i;

	*next = NULL;
	*more = 0;
	if ((j = json_loadb(body, len, 0, NULL)) == NULL ||
	    !json_is_array(json_object_get(j, "events"))) {
		*cause = xstrdup("CloudWatch Logs answered without events");
		json_decref(j);
		return (-1);
	}
	json_array_foreach(json_object_get(j, "events"), i, ev) {
		if ((m = json_string_value(json_object_get(ev, "message"))) ==
		    NULL)
			continue;
		buf_addstr(b, m);
		if (*m == '\0' || m[strlen(m) - 1] != '\n')
			buf_addstr(b, "\n");
		*more = 1;
	}
	*next = ecs_str(j, "nextForwardToken");
	json_decref(j);
	return (0);
}
