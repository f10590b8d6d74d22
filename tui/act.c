/*
 * The commands that change the daemon's state: cap, uncap, cancel,
 * retry, approve, reject, drain, undrain and drain-pool (the variables'
 * are in vars.c). Each is one request; the daemon checks it, acts, and
 * audits it whatever the answer. The tool checks only the number of
 * arguments: numbers are passed on as JSON numbers when they are numbers
 * and as the strings typed otherwise, so the daemon, which knows the
 * ranges and what exists, refuses in its own words.
 *
 * On success a line says what was done (with --json: the reply); on a
 * refusal the daemon's sentence goes to stderr as "beekeeper: ...".
 *
 * The audit log gives these commands back, to audit and watch, as
 * records; act_describe and act_outcome write a record as a person reads
 * it.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui.h"

/*
 * Send REQ (taken). On success print DONE (taken), or the reply with
 * --json. The exit status.
 */
int
act_request(json_t *req, char *done)
{
	json_t	*reply;
	int	 rc;

	rc = client_request(req, 1, &reply);
	json_decref(req);
	if (rc == 0) {
		if (json_output)
			client_print_json(reply, 0);
		else
			printf("%s\n", done);
		json_decref(reply);
	}
	free(done);
	return (rc);
}

/* Check the options and that N arguments follow; their index, or -1. */
static int
act_args(int argc, char **argv, int n)
{
	int	 i;

	if ((i = cmd_options(argc, argv)) < 0 || argc - i != n)
		return (-1);
	return (i);
}

/* beekeeper cap POOL N: launch at most N instances in POOL. */
int
cmd_cap(int argc, char **argv)
{
	char	*done;
	int	 i;

	if ((i = act_args(argc, argv, 2)) < 0)
		return (cmd_usage("cap"));
	xasprintf(&done, "pool %s: at most %s instances", argv[i],
	    argv[i + 1]);
	return (act_request(json_pack("{s:s, s:s, s:o}", "cmd", "cap",
	    "pool", argv[i], "n", client_number(argv[i + 1])), done));
}

/* beekeeper uncap POOL: remove POOL's cap. */
int
cmd_uncap(int argc, char **argv)
{
	char	*done;
	int	 i;

	if ((i = act_args(argc, argv, 1)) < 0)
		return (cmd_usage("uncap"));
	xasprintf(&done, "pool %s: no cap", argv[i]);
	return (act_request(json_pack("{s:s, s:s}", "cmd", "uncap",
	    "pool", argv[i]), done));
}

/* beekeeper cancel BUILD: stop a build that has not finished. */
int
cmd_cancel(int argc, char **argv)
{
	char	*done;
	int	 i;

	if ((i = act_args(argc, argv, 1)) < 0)
		return (cmd_usage("cancel"));
	xasprintf(&done, "build %s: cancelled", argv[i]);
	return (act_request(json_pack("{s:s, s:o}", "cmd", "cancel",
	    "build", client_number(argv[i])), done));
}

/*
 * beekeeper retry BUILD [TASK]: run a finished build again, whole or only
 * the task named, as a new build; the line names the new build.
 */
int
cmd_retry(int argc, char **argv)
{
	json_t	*req, *reply;
	int	 i, rc;

	if ((i = cmd_options(argc, argv)) < 0 || argc - i < 1 ||
	    argc - i > 2)
		return (cmd_usage("retry"));
	req = json_pack("{s:s, s:o}", "cmd", "retry", "build",
	    client_number(argv[i]));
	if (argc - i == 2)
		json_object_set_new(req, "task", json_string(argv[i + 1]));
	rc = client_request(req, 1, &reply);
	json_decref(req);
	if (rc != 0)
		return (rc);
	if (json_output)
		client_print_json(reply, 0);
	else if (argc - i == 2)
		printf("build %s: task %s retried as build %lld\n", argv[i],
		    argv[i + 1], (long long)json_number(reply, "build", 0));
	else
		printf("build %s: retried as build %lld\n", argv[i],
		    (long long)json_number(reply, "build", 0));
	json_decref(reply);
	return (0);
}

/*
 * beekeeper approve PROJECT|BUILD: a number is a build waiting for
 * approval, anything else a project (owner/name).
 */
int
cmd_approve(int argc, char **argv)
{
	json_t		*req, *arg;
	const char	*what;
	char		*done;
	int		 i;

	if ((i = act_args(argc, argv, 1)) < 0)
		return (cmd_usage("approve"));
	arg = client_number(argv[i]);
	what = json_is_integer(arg) ? "build" : "project";
	req = json_pack("{s:s, s:o}", "cmd", "approve", what, arg);
	xasprintf(&done, "%s %s: approved", what, argv[i]);
	return (act_request(req, done));
}

/* beekeeper reject PROJECT: never build the project. */
int
cmd_reject(int argc, char **argv)
{
	char	*done;
	int	 i;

	if ((i = act_args(argc, argv, 1)) < 0)
		return (cmd_usage("reject"));
	xasprintf(&done, "project %s: rejected", argv[i]);
	return (act_request(json_pack("{s:s, s:s}", "cmd", "reject",
	    "project", argv[i]), done));
}

/*
 * beekeeper drain INSTANCE, undrain INSTANCE, drain-pool POOL: the same
 * request with the instance or pool named; DONE is taken.
 */
static int
act_drain(int argc, char **argv, const char *cmd, const char *what)
{
	char	*done;
	int	 i;

	if ((i = act_args(argc, argv, 1)) < 0)
		return (cmd_usage(cmd));
	if (strcmp(cmd, "drain") == 0)
		xasprintf(&done, "instance %s: draining", argv[i]);
	else if (strcmp(cmd, "undrain") == 0)
		xasprintf(&done, "instance %s: takes tasks again", argv[i]);
	else
		xasprintf(&done, "pool %s: its instances are draining",
		    argv[i]);
	return (act_request(json_pack("{s:s, s:s}", "cmd", cmd, what,
	    argv[i]), done));
}

/* beekeeper drain INSTANCE: no new task; it goes once it is idle. */
int
cmd_drain(int argc, char **argv)
{
	return (act_drain(argc, argv, "drain", "instance"));
}

/* beekeeper undrain INSTANCE: a draining instance takes tasks again. */
int
cmd_undrain(int argc, char **argv)
{
	return (act_drain(argc, argv, "undrain", "instance"));
}

/* beekeeper drain-pool POOL: drain every live instance of POOL. */
int
cmd_drain_pool(int argc, char **argv)
{
	return (act_drain(argc, argv, "drain-pool", "pool"));
}

static int
act_known(const char *key, const char **list, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(key, list[i]) == 0)
			return (1);
	}
	return (0);
}

/*
 * An audited command as it would be typed, its arguments in the order of
 * the protocol's synopsis: "cap pool=default n=2".
 */
char *
act_describe(const json_t *a)
{
	static const char	*order[] = {
		"pool", "instance", "project", "build", "task", "n", "offset",
		"state",
		"limit", "name"
	};
	const json_t		*args = json_object_get(a, "args"), *v;
	const char		*cmd = json_text(a, "cmd"), *key;
	struct buf		 b;
	size_t			 i;
	char			*s;

	buf_init(&b, 0);
	buf_addstr(&b, cmd != NULL ? cmd : "?");
	for (i = 0; i <= nitems(order); i++) {
		json_object_foreach((json_t *)args, key, v) {
			if (strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0 ||
			    strcmp(key, "key") == 0)
				continue;
			/* The known ones in order, then the others. */
			if (i < nitems(order) ? strcmp(key, order[i]) != 0 :
			    act_known(key, order, nitems(order)))
				continue;
			s = fmt_value(v);
			buf_printf(&b, " %s=%s", key, s);
			free(s);
		}
	}
	return (buf_detach(&b, NULL));
}

/* An audit record's outcome: "ok", or "refused: " and the reason. */
char *
act_outcome(const json_t *a)
{
	const char	*result = json_text(a, "result");
	char		*s;

	if (json_is_true(json_object_get(a, "ok")))
		return (xstrdup("ok"));
	xasprintf(&s, "refused: %s", result != NULL ? result : "-");
	return (s);
}
