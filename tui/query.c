/*
 * The commands that ask the daemon and change nothing: status, builds,
 * build, pools, instances, projects and audit. Each sends one request (two
 * for status) and prints the reply as an aligned table, or with --json
 * prints the reply itself, so a script sees exactly what the daemon said
 * (beekeeper-protocol(7) describes every member).
 *
 * The columns of each list are a table of their own below: a header, the
 * member shown, or a function for a cell that needs more than one member.
 */

#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "tui.h"

struct query_column {
	const char	*header;
	const char	*key;			/* shown as it is */
	char		*(*fmt)(const json_t *);	/* or made by this */
};

/* The ref as people say it: "#12" for a pull request, else the branch. */
static char *
query_ref(const json_t *b)
{
	return (fmt_ref(b, "#"));
}

static char *
query_sha(const json_t *b)
{
	const char	*sha = json_text(b, "sha");

	return (sha == NULL ? xstrdup("-") : xstrndup(sha, 7));
}

static char *
query_took(const json_t *o)
{
	return (fmt_duration(o, "started_at", "finished_at"));
}

/* A build's reason, saying first that it waits for an admin if it does. */
static char *
query_build_reason(const json_t *b)
{
	const char	*reason = json_text(b, "reason");
	const char	*approval = json_text(b, "approval");
	char		*s;

	if (approval == NULL || strcmp(approval, "required") != 0)
		return (xstrdup(reason != NULL ? reason : "-"));
	if (reason == NULL || *reason == '\0')
		return (xstrdup("waiting for approval"));
	xasprintf(&s, "waiting for approval; %s", reason);
	return (s);
}

/* Phases are counted from 1 here, as "beekeeper plan" counts them. */
static char *
query_phase(const json_t *t)
{
	char	*s;

	if (!json_is_integer(json_object_get(t, "phase")))
		return (xstrdup("-"));
	xasprintf(&s, "%" JSON_INTEGER_FORMAT, json_number(t, "phase", 0) + 1);
	return (s);
}

static char *
query_time(const json_t *a)
{
	return (fmt_time(json_object_get(a, "time")));
}

static char *
query_spend(const json_t *p)
{
	return (fmt_money(p, "spend_per_hour"));
}

static char *
query_today(const json_t *p)
{
	return (fmt_money(p, "spend_today"));
}

static char *
query_cost(const json_t *o)
{
	return (fmt_money(o, "cost"));
}

static const struct query_column query_builds[] = {
	{ "ID", "id", NULL },
	{ "PROJECT", "project", NULL },
	{ "EVENT", "event", NULL },
	{ "REF", NULL, query_ref },
	{ "SHA", NULL, query_sha },
	{ "STATE", "state", NULL },
	{ "TOOK", NULL, query_took },
	{ "REASON", NULL, query_build_reason },
	{ NULL, NULL, NULL }
};
static const struct query_column query_tasks[] = {
	{ "PHASE", NULL, query_phase },
	{ "TASK", "slug", NULL },
	{ "STATE", "state", NULL },
	{ "EXIT", "exit_status", NULL },
	{ "PROFILE", "profile", NULL },
	{ "INSTANCE", "instance", NULL },
	{ "TOOK", NULL, query_took },
	{ "COST", NULL, query_cost },
	{ "REASON", "reason", NULL },
	{ NULL, NULL, NULL }
};
static const struct query_column query_pools[] = {
	{ "POOL", "name", NULL },
	{ "DRIVER", "driver", NULL },
	{ "SLOTS", "slots", NULL },
	{ "MIN", "min", NULL },
	{ "MAX", "max", NULL },
	{ "CAP", "cap", NULL },
	{ "INSTANCES", "instances", NULL },
	{ "BUSY", "busy", NULL },
	{ "QUEUED", "queued", NULL },
	{ "SPEND/H", NULL, query_spend },
	{ "TODAY", NULL, query_today },
	{ "BREAKER", "breaker", NULL },
	{ NULL, NULL, NULL }
};
static const struct query_column query_instances[] = {
	{ "ID", "id", NULL },
	{ "POOL", "pool", NULL },
	{ "STATE", "state", NULL },
	{ "SLOTS", "slots", NULL },
	{ "BUSY", "busy", NULL },
	{ "CLOUD-ID", "cloud_id", NULL },
	{ "COST", NULL, query_cost },
	{ "REASON", "reason", NULL },
	{ NULL, NULL, NULL }
};
static const struct query_column query_projects[] = {
	{ "PROJECT", "repo", NULL },
	{ "STATE", "state", NULL },
	{ NULL, NULL, NULL }
};
static const struct query_column query_audit[] = {
	{ "ID", "id", NULL },
	{ "TIME", NULL, query_time },
	{ "WHO", "who", NULL },
	{ "COMMAND", NULL, act_describe },
	{ "RESULT", NULL, act_outcome },
	{ NULL, NULL, NULL }
};

/* Print the array of objects ARRAY with COLS, one row each. */
static void
query_table(const json_t *array, const struct query_column *cols)
{
	const struct query_column	*c;
	const json_t			*o;
	struct table			*t;
	size_t				 i, n = 0;
	char				*s;

	for (c = cols; c->header != NULL; c++)
		n++;
	t = table_create(n);
	for (c = cols; c->header != NULL; c++)
		table_cell(t, "%s", c->header);
	json_array_foreach(array, i, o) {
		table_row(t);
		for (c = cols; c->header != NULL; c++) {
			if (c->fmt == NULL) {
				table_value(t, o, c->key);
				continue;
			}
			s = c->fmt(o);
			table_cell(t, "%s", s);
			free(s);
		}
	}
	table_print(t, stdout);
	table_free(t);
}

/*
 * Send REQ (taken), then print the reply: itself with --json, else its
 * array MEMBER with COLS. The exit status.
 */
static int
query_list(json_t *req, const char *member, const struct query_column *cols)
{
	json_t	*reply;
	int	 rc;

	rc = client_request(req, 0, &reply);
	json_decref(req);
	if (rc != 0)
		return (rc);
	if (json_output)
		client_print_json(reply, 0);
	else
		query_table(json_object_get(reply, member), cols);
	json_decref(reply);
	return (0);
}

/* Count the objects of ARRAY whose member KEY is the string VALUE. */
static json_int_t
query_count(const json_t *array, const char *key, const char *value)
{
	const json_t	*o;
	const char	*s;
	json_int_t	 n = 0;
	size_t		 i;

	json_array_foreach(array, i, o) {
		if ((s = json_text(o, key)) != NULL && strcmp(s, value) == 0)
			n++;
	}
	return (n);
}

static void
status_text(const json_t *sum)
{
	static const char	*lines[][3] = {
		{ "builds", "running", "fetching" },
		{ "tasks", "running", "queued" },
		{ "projects", "pending", NULL },
	};
	const json_t		*o;
	size_t			 i;

	printf("beekeeperd  %s (protocol %" JSON_INTEGER_FORMAT ", %s)\n",
	    json_text(sum, "endpoint"), json_number(sum, "protocol", 0),
	    json_text(sum, "role") != NULL ? json_text(sum, "role") : "-");
	printf("publish     %s\n", json_text(sum, "publish") != NULL ?
	    json_text(sum, "publish") : "-");
	printf("seq         %" JSON_INTEGER_FORMAT "\n",
	    json_number(sum, "seq", 0));
	for (i = 0; i < nitems(lines); i++) {
		o = json_object_get(sum, lines[i][0]);
		printf("%-12s%" JSON_INTEGER_FORMAT " %s", lines[i][0],
		    json_number(o, lines[i][1], 0), lines[i][1]);
		if (lines[i][2] != NULL)
			printf(", %" JSON_INTEGER_FORMAT " %s",
			    json_number(o, lines[i][2], 0), lines[i][2]);
		putchar('\n');
	}
	putchar('\n');
	query_table(json_object_get(sum, "pools"), query_pools);
}

/* beekeeper status: who answers, and a summary of its snapshot. */
int
cmd_status(int argc, char **argv)
{
	json_t		*req, *hello, *snap, *sum, *builds, *tasks;
	json_int_t	 protocol;
	int		 rc, i;

	if ((i = cmd_options(argc, argv)) < 0 || i != argc)
		return (cmd_usage("status"));
	req = json_pack("{s:s}", "cmd", "hello");
	rc = client_request(req, 1, &hello);
	json_decref(req);
	if (rc != 0)
		return (rc);
	if ((protocol = json_number(hello, "protocol", -1)) !=
	    BEEKEEPER_PROTOCOL) {
		fprintf(stderr, "beekeeper: beekeeperd at %s speaks protocol "
		    "%" JSON_INTEGER_FORMAT ", this tool %d\n",
		    client_endpoint(), protocol, BEEKEEPER_PROTOCOL);
		json_decref(hello);
		return (EXIT_UNREACHABLE);
	}
	req = json_pack("{s:s}", "cmd", "snapshot");
	rc = client_request(req, 0, &snap);
	json_decref(req);
	if (rc != 0) {
		json_decref(hello);
		return (rc);
	}

	builds = json_object_get(snap, "builds");
	tasks = json_object_get(snap, "tasks");
	sum = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:{s:I, s:I}, "
	    "s:{s:I, s:I}, s:O?, s:{s:I}}",
	    "endpoint", client_endpoint(),
	    "protocol", json_object_get(hello, "protocol"),
	    "publish", json_object_get(hello, "publish"),
	    "name", json_object_get(hello, "name"),
	    "role", json_object_get(hello, "role"),
	    "seq", json_object_get(snap, "seq"),
	    "builds",
	    "running", query_count(builds, "state", "running"),
	    "fetching", query_count(builds, "state", "fetching"),
	    "tasks",
	    "running", query_count(tasks, "state", "running"),
	    "queued", query_count(tasks, "state", "queued"),
	    "pools", json_object_get(snap, "pools"),
	    "projects",
	    "pending", query_count(json_object_get(snap, "projects"), "state",
	    "pending"));
	if (sum == NULL)
		fatalx("a snapshot without the members of one");
	if (json_output)
		client_print_json(sum, 0);
	else
		status_text(sum);
	json_decref(sum);
	json_decref(snap);
	json_decref(hello);
	return (0);
}

/* beekeeper builds: the newest builds, of a project or in a state. */
int
cmd_builds(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "project", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	json_t				*req;
	int				 ch;

	req = json_pack("{s:s}", "cmd", "builds");
	while ((ch = getopt_long(argc, argv, "jn:p:s:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'j':
			json_output = 1;
			break;
		case 'n':
			json_object_set_new(req, "limit",
			    client_number(optarg));
			break;
		case 'p':
			json_object_set_new(req, "project",
			    json_string(optarg));
			break;
		case 's':
			json_object_set_new(req, "state", json_string(optarg));
			break;
		default:
			json_decref(req);
			return (cmd_usage("builds"));
		}
	}
	if (optind != argc) {
		json_decref(req);
		return (cmd_usage("builds"));
	}
	return (query_list(req, "builds", query_builds));
}

static void
build_text(const json_t *b)
{
	static const struct {
		const char	*label;
		const char	*key;
		char		*(*fmt)(const json_t *);
	} lines[] = {
		{ "build", "id", NULL },
		{ "project", "project", NULL },
		{ "event", "event", NULL },
		{ "ref", NULL, query_ref },
		{ "sha", "sha", NULL },
		{ "state", "state", NULL },
		{ "reason", NULL, query_build_reason },
		{ "sender", "sender", NULL },
		{ "took", NULL, query_took },
	};
	static const char	*times[] = {
		"created_at", "started_at", "finished_at"
	};
	size_t			 i;
	char			*s;

	for (i = 0; i < nitems(lines); i++) {
		s = lines[i].fmt != NULL ? lines[i].fmt(b) :
		    fmt_value(json_object_get(b, lines[i].key));
		printf("%-10s%s\n", lines[i].label, s);
		free(s);
	}
	for (i = 0; i < nitems(times); i++) {
		s = fmt_time(json_object_get(b, times[i]));
		printf("%-10.*s%s\n", (int)strcspn(times[i], "_"), times[i], s);
		free(s);
	}
}

/* beekeeper build ID: one build, and its tasks as a table. */
int
cmd_build(int argc, char **argv)
{
	json_t	*req, *reply;
	int	 rc, i;

	if ((i = cmd_options(argc, argv)) < 0 || i != argc - 1)
		return (cmd_usage("build"));
	req = json_pack("{s:s, s:o}", "cmd", "build", "build",
	    client_number(argv[i]));
	rc = client_request(req, 0, &reply);
	json_decref(req);
	if (rc != 0)
		return (rc);
	if (json_output)
		client_print_json(reply, 0);
	else {
		build_text(json_object_get(reply, "build"));
		putchar('\n');
		query_table(json_object_get(reply, "tasks"), query_tasks);
	}
	json_decref(reply);
	return (0);
}

/* pools, instances, projects: the whole list, no arguments. */
static int
query_simple(int argc, char **argv, const struct query_column *cols)
{
	int	 i;

	if ((i = cmd_options(argc, argv)) < 0 || i != argc)
		return (cmd_usage(argv[0]));
	return (query_list(json_pack("{s:s}", "cmd", argv[0]), argv[0], cols));
}

int
cmd_pools(int argc, char **argv)
{
	return (query_simple(argc, argv, query_pools));
}

int
cmd_instances(int argc, char **argv)
{
	return (query_simple(argc, argv, query_instances));
}

int
cmd_projects(int argc, char **argv)
{
	return (query_simple(argc, argv, query_projects));
}

/* beekeeper audit: the newest commands sent to the daemon, and results. */
int
cmd_audit(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	json_t				*req;
	int				 ch;

	req = json_pack("{s:s}", "cmd", "audit");
	while ((ch = getopt_long(argc, argv, "jn:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json_output = 1;
			break;
		case 'n':
			json_object_set_new(req, "limit",
			    client_number(optarg));
			break;
		default:
			json_decref(req);
			return (cmd_usage("audit"));
		}
	}
	if (optind != argc) {
		json_decref(req);
		return (cmd_usage("audit"));
	}
	return (query_list(req, "audit", query_audit));
}
