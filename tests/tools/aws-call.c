/*
 * aws-call: the daemon's AWS client (aws.c, aws-creds.c, sigv4.c,
 * aws-ec2.c, aws-ecs.c) driven from the command line, one call after
 * another in the daemon's own event loop, so that tests/regress/
 * 71-aws-client.sh can check it against the AWS double, whose verifier
 * and parsers are written apart from ours.
 *
 * usage: aws-call [-e endpoint] [-r region] command [argument ...]
 *   raw SERVICE ACTION [BODY]     one call (ec2, ecs or logs): prints
 *                                 "ok STATUS attempts N" and the answer,
 *                                 or "error CODE attempts N: SENTENCE"
 *   run DAEMON POOL [spot]        RunInstances as the pools launch: prints
 *                                 "ID STATE POOL LEASE LIFECYCLE"
 *   list DAEMON [PAGE]            DescribeInstances of DAEMON's instances,
 *                                 PAGE (500) a page, every page: "ID STATE
 *                                 POOL", then "pages N"
 *   lease SECONDS ID...           CreateTags renewing the leases
 *   terminate ID...               TerminateInstances
 *   task CLUSTER EC2-ID IMAGE COMMAND
 *                                 wait for EC2-ID's container instance,
 *                                 register IMAGE's task definition, start
 *                                 COMMAND there, wait for its end, copy its
 *                                 log: prints the log, then "exit N"
 * Exits 0, or 1 after an error (said on stderr), 2 on a usage error.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

#define CALL_DEADLINE_MS	(120 * 1000)

struct answer {
	int		 done;
	int		 ok;
	long		 status;
	u_int		 attempts;
	char		*code;
	char		*error;
	char		*body;
	size_t		 len;
};

static struct ev_loop	*loop;
static struct aws	*aws;

static void
answer_cb(struct aws *a, const struct aws_reply *r, void *arg)
{
	struct answer	*an = arg;

	(void)a;
	an->done = 1;
	an->ok = r->ok;
	an->status = r->status;
	an->attempts = r->attempts;
	an->code = r->code != NULL ? xstrdup(r->code) : NULL;
	an->error = r->error != NULL ? xstrdup(r->error) : NULL;
	if (r->ok) {
		an->body = xmalloc(r->len + 1);
		memcpy(an->body, r->body, r->len);
		an->body[r->len] = '\0';
		an->len = r->len;
	}
}

static void
answer_release(struct answer *an)
{
	free(an->code);
	free(an->error);
	free(an->body);
	memset(an, 0, sizeof *an);
}

/* One call, waited for in the loop; exits on an error unless tolerant. */
static void
call(enum aws_service svc, const char *action, const char *body,
    struct answer *an, int tolerant)
{
	uint64_t	 start = ev_now(loop);

	memset(an, 0, sizeof *an);
	aws_call(aws, svc, action, body, answer_cb, an);
	while (!an->done && ev_now(loop) - start < CALL_DEADLINE_MS)
		ev_run_once(loop, 1);
	if (!an->done) {
		fprintf(stderr, "aws-call: %s: no answer in %d s\n", action,
		    CALL_DEADLINE_MS / 1000);
		exit(1);
	}
	if (!an->ok && !tolerant) {
		fprintf(stderr, "aws-call: %s\n", an->error);
		exit(1);
	}
}

static void
pause_cb(struct ev_loop *l, void *arg)
{
	(void)l;
	*(int *)arg = 1;
}

/* Let ms pass in the loop. */
static void
pause_ms(uint64_t ms)
{
	int	 done = 0;

	ev_timer_add(loop, ms, pause_cb, &done);
	while (!done)
		ev_run_once(loop, 1);
}

static enum aws_service
service_of(const char *s)
{
	if (strcmp(s, "ec2") == 0)
		return (AWS_EC2);
	if (strcmp(s, "ecs") == 0)
		return (AWS_ECS);
	if (strcmp(s, "logs") == 0)
		return (AWS_LOGS);
	fprintf(stderr, "aws-call: no service %s (ec2, ecs, logs)\n", s);
	exit(2);
}

static int
cmd_raw(int argc, char **argv)
{
	struct answer	 an;

	if (argc < 3)
		return (2);
	call(service_of(argv[1]), argv[2], argc > 3 ? argv[3] : NULL, &an, 1);
	if (an.ok)
		printf("ok %ld attempts %u\n%s\n", an.status, an.attempts,
		    an.body);
	else
		printf("error %s attempts %u: %s\n", an.code != NULL ?
		    an.code : "-", an.attempts, an.error);
	answer_release(&an);
	return (0);
}

static int
cmd_run(int argc, char **argv)
{
	struct ec2_launch	 l;
	struct ec2_instance	*v;
	struct answer		 an;
	size_t			 n, i;
	char			*form, *cause = NULL, *ud;

	if (argc < 3)
		return (2);
	memset(&l, 0, sizeof l);
	l.daemon = argv[1];
	l.pool = argv[2];
	l.image = "ami-0123456789abcdef0";
	l.type = "c5.large";
	xasprintf(&ud, "#!/bin/sh\necho ECS_CLUSTER=%s >> /etc/ecs/ecs.config\n",
	    argv[2]);
	l.user_data = ud;
	l.spot = argc > 3 && strcmp(argv[3], "spot") == 0;
	l.lease_expires = ev_time(loop) / 1000 + 600;
	form = ec2_run_params(&l);
	call(AWS_EC2, "RunInstances", form, &an, 0);
	free(form);
	free(ud);
	if (ec2_instances_parse(an.body, an.len, &v, &n, NULL, &cause) != 0) {
		fprintf(stderr, "aws-call: %s\n", cause);
		return (1);
	}
	for (i = 0; i < n; i++)
		printf("%s %s %s %lld %s\n", v[i].id, v[i].state, v[i].pool,
		    (long long)v[i].lease_expires, v[i].lifecycle != NULL ?
		    v[i].lifecycle : "on-demand");
	ec2_instances_free(v, n);
	answer_release(&an);
	return (0);
}

static int
cmd_list(int argc, char **argv)
{
	struct ec2_instance	*v;
	struct answer		 an;
	size_t			 n, i;
	char			*form, *next = NULL, *cause = NULL;
	int			 pages = 0;

	if (argc < 2)
		return (2);
	do {
		form = ec2_describe_params(argv[1], next, argc > 2 ?
		    (u_int)strtoul(argv[2], NULL, 10) : 0);
		free(next);
		call(AWS_EC2, "DescribeInstances", form, &an, 0);
		free(form);
		if (ec2_instances_parse(an.body, an.len, &v, &n, &next,
		    &cause) != 0) {
			fprintf(stderr, "aws-call: %s\n", cause);
			return (1);
		}
		for (i = 0; i < n; i++)
			printf("%s %s %s\n", v[i].id, v[i].state,
			    v[i].pool != NULL ? v[i].pool : "-");
		ec2_instances_free(v, n);
		answer_release(&an);
		pages++;
	} while (next != NULL);
	printf("pages %d\n", pages);
	return (0);
}

static int
cmd_ids(int argc, char **argv, int lease)
{
	struct answer	 an;
	char		*form;
	long long	 secs = 0;

	if (argc < 2 + lease)
		return (2);
	if (lease)
		secs = strtoll(argv[1], NULL, 10);
	form = ec2_ids_params((const char *const *)argv + 1 + lease,
	    argc - 1 - lease, lease ? ev_time(loop) / 1000 + secs : 0);
	call(AWS_EC2, lease ? "CreateTags" : "TerminateInstances", form, &an,
	    0);
	free(form);
	printf("ok\n");
	answer_release(&an);
	return (0);
}

/* The container instance ARN of an EC2 instance, once it registered. */
static char *
task_container_instance(const char *cluster, const char *ec2_id)
{
	struct ecs_instance	*ci;
	struct answer		 an;
	char			**arns, *next, *body, *cause = NULL, *found = NULL;
	size_t			 n, nci, i;
	int			 tries;

	for (tries = 0; tries < 200 && found == NULL; tries++) {
		body = ecs_list_instances_body(cluster, NULL);
		call(AWS_ECS, "ListContainerInstances", body, &an, 1);
		free(body);
		if (an.ok && ecs_list_parse(an.body, an.len,
		    "containerInstanceArns", &arns, &n, &next, &cause) == 0 &&
		    n > 0) {
			answer_release(&an);
			body = ecs_arns_body(cluster, "containerInstances",
			    (const char *const *)arns, n, NULL);
			call(AWS_ECS, "DescribeContainerInstances", body, &an, 0);
			free(body);
			if (ecs_instances_parse(an.body, an.len, &ci, &nci,
			    &cause) == 0) {
				for (i = 0; i < nci; i++) {
					if (ci[i].ec2_id != NULL &&
					    strcmp(ci[i].ec2_id, ec2_id) == 0)
						found = xstrdup(ci[i].arn);
				}
				ecs_instances_free(ci, nci);
			}
			for (i = 0; i < n; i++)
				free(arns[i]);
			free(arns);
			free(next);
		}
		free(cause);
		cause = NULL;
		answer_release(&an);
		if (found == NULL)
			pause_ms(100);
	}
	return (found);
}

static int
cmd_task(int argc, char **argv)
{
	struct ecs_taskdef	 d;
	struct ecs_task		*t;
	struct answer		 an;
	struct buf		 log;
	json_t			*j;
	const char		*arn;
	char			*ci, *body, *family, *taskdef, *failure, *stream;
	char			*next = NULL, *cause = NULL, *tarn;
	size_t			 n;
	int			 exit_code = -1, more, tries;

	if (argc < 5)
		return (2);
	if ((ci = task_container_instance(argv[1], argv[2])) == NULL) {
		fprintf(stderr, "aws-call: %s never registered\n", argv[2]);
		return (1);
	}
	family = ecs_family("beekeeper", argv[3]);
	d.family = family;
	d.image = argv[3];
	d.memory_mb = 256;
	d.log_group = "/beekeeper/test";
	d.region = "us-east-1";
	body = ecs_register_body(&d);
	call(AWS_ECS, "RegisterTaskDefinition", body, &an, 0);
	free(body);
	j = json_loads(an.body, 0, NULL);
	arn = json_string_value(json_object_get(json_object_get(j,
	    "taskDefinition"), "taskDefinitionArn"));
	taskdef = xstrdup(arn != NULL ? arn : family);
	json_decref(j);
	answer_release(&an);

	body = ecs_start_body(argv[1], taskdef, ci, argv[4], NULL, 0,
	    "aws-call");
	call(AWS_ECS, "StartTask", body, &an, 0);
	free(body);
	if (ecs_tasks_parse(an.body, an.len, &t, &n, &failure, &cause) != 0 ||
	    n != 1) {
		fprintf(stderr, "aws-call: StartTask: %s\n", cause != NULL ?
		    cause : failure != NULL ? failure : "no task");
		return (1);
	}
	tarn = xstrdup(t[0].arn);
	ecs_tasks_free(t, n);
	free(failure);
	answer_release(&an);

	for (tries = 0; tries < 600 && exit_code < 0; tries++) {
		body = ecs_describe_tasks_body(argv[1],
		    (const char *const *)&tarn, 1);
		call(AWS_ECS, "DescribeTasks", body, &an, 0);
		free(body);
		if (ecs_tasks_parse(an.body, an.len, &t, &n, &failure,
		    &cause) == 0 && n == 1 && t[0].last_status != NULL &&
		    strcmp(t[0].last_status, "STOPPED") == 0)
			exit_code = t[0].exit_code >= 0 ? t[0].exit_code : 255;
		ecs_tasks_free(t, n);
		free(failure);
		free(cause);
		cause = NULL;
		answer_release(&an);
		if (exit_code < 0)
			pause_ms(100);
	}

	stream = ecs_log_stream(tarn);
	buf_init(&log, 0);
	do {
		body = ecs_log_events_body(d.log_group, stream, next);
		free(next);
		call(AWS_LOGS, "GetLogEvents", body, &an, 0);
		free(body);
		if (ecs_log_events_parse(an.body, an.len, &log, &next, &more,
		    &cause) != 0) {
			fprintf(stderr, "aws-call: %s\n", cause);
			return (1);
		}
		answer_release(&an);
	} while (more);
	free(next);
	printf("%sexit %d\n", log.data != NULL ? log.data : "", exit_code);
	buf_release(&log);
	free(stream);
	free(tarn);
	free(taskdef);
	free(family);
	free(ci);
	return (0);
}

int
main(int argc, char **argv)
{
	const char	*endpoint = NULL, *region = "us-east-1";
	struct http	*http;
	char		*cause = NULL;
	int		 ch, rc = 2;

	log_init("aws-call", 1, LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "e:r:")) != -1) {
		switch (ch) {
		case 'e':
			endpoint = optarg;
			break;
		case 'r':
			region = optarg;
			break;
		default:
			goto usage;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		goto usage;
	loop = ev_create();
	if ((http = http_create(loop, &cause)) == NULL) {
		fprintf(stderr, "aws-call: %s\n", cause);
		return (1);
	}
	aws = aws_create(loop, http, region, endpoint, NULL, NULL);
	if (strcmp(argv[0], "raw") == 0)
		rc = cmd_raw(argc, argv);
	else if (strcmp(argv[0], "run") == 0)
		rc = cmd_run(argc, argv);
	else if (strcmp(argv[0], "list") == 0)
		rc = cmd_list(argc, argv);
	else if (strcmp(argv[0], "lease") == 0)
		rc = cmd_ids(argc, argv, 1);
	else if (strcmp(argv[0], "terminate") == 0)
		rc = cmd_ids(argc, argv, 0);
	else if (strcmp(argv[0], "task") == 0)
		rc = cmd_task(argc, argv);
	aws_free(aws);
	http_free(http);
	ev_free(loop);
	if (rc != 2)
		return (rc);
usage:
	fprintf(stderr, "usage: aws-call [-e endpoint] [-r region] "
	    "raw|run|list|lease|terminate|task ...\n");
	return (2);
}
