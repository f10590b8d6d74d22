/*
 * The commands of the beekeeper tool, one entry each in cmd_table: what
 * they take, a line of help, and the function. Each prints a table for
 * people or, with --json, one JSON document for scripts, and exits 0 only
 * on success. plan is here too; the commands that talk to the daemon are
 * in query.c, act.c and follow.c.
 */

#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tui.h"

#define PIPELINE_FILE_MAX	(1024 * 1024)

const struct cmd_entry cmd_table[] = {
	{ .name = "console", .usage = "",
	  .help = "open the console: live builds, pools and instances "
	      "(also with no command)",
	  .exec = cmd_console },
	{ .name = "status", .usage = "[--json]",
	  .help = "say which daemon answers, with a summary of its state",
	  .exec = cmd_status },
	{ .name = "builds",
	  .usage = "[-p owner/name] [-s state] [-n limit] [--json]",
	  .help = "list the newest builds",
	  .exec = cmd_builds },
	{ .name = "build", .usage = "[--json] id",
	  .help = "show a build and its tasks",
	  .exec = cmd_build },
	{ .name = "log", .usage = "[-f] [--json] build task",
	  .help = "print a task's log; with -f, follow it until the task ends",
	  .exec = cmd_log },
	{ .name = "pools", .usage = "[--json]",
	  .help = "list the pools, their instances and their queues",
	  .exec = cmd_pools },
	{ .name = "instances", .usage = "[--json]",
	  .help = "list the instances not terminated",
	  .exec = cmd_instances },
	{ .name = "projects", .usage = "[--json]",
	  .help = "list the projects and whether they are approved",
	  .exec = cmd_projects },
	{ .name = "audit", .usage = "[-n limit] [--json]",
	  .help = "list the newest commands sent to the daemon",
	  .exec = cmd_audit },
	{ .name = "watch", .usage = "[--json] [topic ...]",
	  .help = "print what the daemon publishes, until interrupted",
	  .exec = cmd_watch },
	{ .name = "cap", .usage = "[--json] pool n",
	  .help = "launch at most n instances in a pool",
	  .exec = cmd_cap },
	{ .name = "uncap", .usage = "[--json] pool",
	  .help = "remove a pool's cap",
	  .exec = cmd_uncap },
	{ .name = "cancel", .usage = "[--json] build",
	  .help = "stop a build that has not finished",
	  .exec = cmd_cancel },
	{ .name = "retry", .usage = "[--json] build [task]",
	  .help = "run a finished build again, or only one task of it",
	  .exec = cmd_retry },
	{ .name = "approve", .usage = "[--json] owner/name | build",
	  .help = "approve a project, or a build waiting for approval",
	  .exec = cmd_approve },
	{ .name = "reject", .usage = "[--json] owner/name",
	  .help = "never build a project",
	  .exec = cmd_reject },
	{ .name = "drain", .usage = "[--json] instance",
	  .help = "give an instance no new task; it goes once idle",
	  .exec = cmd_drain },
	{ .name = "undrain", .usage = "[--json] instance",
	  .help = "let a draining instance take tasks again",
	  .exec = cmd_undrain },
	{ .name = "drain-pool", .usage = "[--json] pool",
	  .help = "drain every live instance of a pool",
	  .exec = cmd_drain_pool },
	{ .name = "vars", .usage = "[-p owner/name] [--json]",
	  .help = "list the variables and secrets tasks get (no secret's "
	      "value)",
	  .exec = cmd_vars },
	{ .name = "set-var", .usage = "[-p owner/name] [--json] name value",
	  .help = "set a variable for every project's tasks, or one's",
	  .exec = cmd_set_var },
	{ .name = "unset-var", .usage = "[-p owner/name] [--json] name",
	  .help = "remove a variable set with set-var",
	  .exec = cmd_unset_var },
	{ .name = "set-secret", .usage = "[-p owner/name] [--json] name",
	  .help = "set a secret, its value read from standard input",
	  .exec = cmd_set_secret },
	{ .name = "unset-secret", .usage = "[-p owner/name] [--json] name",
	  .help = "remove a secret set with set-secret",
	  .exec = cmd_unset_secret },
	{ .name = "keygen", .usage = "[-f] file",
	  .help = "make a CURVE key pair for the bus: file and file.pub",
	  .exec = cmd_keygen },
	{ .name = "plan",
	  .usage = "[--event push|pull_request|tag] [--json] [file]",
	  .help = "show the phases and tasks a beekeeper.yml would run",
	  .exec = cmd_plan },
	{ .name = "run",
	  .usage = "[--event push|pull_request|tag] [--task slug] "
	      "[--no-sandbox] [--json] [dir]",
	  .help = "run a checkout's pipeline on this machine, without a daemon",
	  .exec = cmd_run },
	{ .name = "reap", .usage = "[--dry-run] [-f file]",
	  .help = "terminate the EC2 instances whose lease has expired "
	      "(beekeeperd -R)",
	  .exec = cmd_reap },
	{ .name = NULL }
};

const struct cmd_entry *
cmd_find(const char *name)
{
	const struct cmd_entry	*ce;

	for (ce = cmd_table; ce->name != NULL; ce++) {
		if (strcmp(ce->name, name) == 0)
			return (ce);
	}
	return (NULL);
}

int
cmd_usage(const char *name)
{
	const struct cmd_entry	*ce = cmd_find(name);

	fprintf(stderr, "usage: beekeeper %s %s\n", ce->name, ce->usage);
	return (1);
}

/*
 * The options of a command that has only -j (--json): the index of its
 * first argument, or -1 for an unknown option.
 */
int
cmd_options(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	while ((ch = getopt_long(argc, argv, "j", longopts, NULL)) != -1) {
		if (ch != 'j')
			return (-1);
		json_output = 1;
	}
	return (optind);
}

static json_t *
plan_json(const char *file, enum pipeline_event event,
    const struct pipeline *pl)
{
	const struct pipeline_phase	*ph;
	const struct pipeline_task	*t;
	json_t				*phases, *tasks, *env, *jt;
	size_t				 i, j, k;

	phases = json_array();
	for (i = 0; i < pl->nphases; i++) {
		ph = &pl->phases[i];
		tasks = json_array();
		for (j = 0; j < ph->ntasks; j++) {
			t = &ph->tasks[j];
			env = json_object();
			for (k = 0; k < t->nenv; k++)
				json_object_set_new(env, t->env[k].name,
				    json_string(t->env[k].value));
			jt = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:b, s:I, "
			    "s:o, s:i, s:i}",
			    "slug", t->slug, "name", t->name,
			    "image", t->image, "run", t->run,
			    "profile", t->profile, "critical", t->critical,
			    "timeout_ms", (json_int_t)t->timeout_ms,
			    "environment", env, "line", (int)t->line,
			    "column", (int)t->column);
			json_array_append_new(tasks, jt);
		}
		json_array_append_new(phases, json_pack("{s:s, s:o}", "name",
		    ph->name, "tasks", tasks));
	}
	return (json_pack("{s:s, s:s, s:o}", "file", file, "event",
	    pipeline_event_name(event), "phases", phases));
}

static void
plan_text(const char *file, enum pipeline_event event,
    const struct pipeline *pl)
{
	const struct pipeline_phase	*ph;
	const struct pipeline_task	*t;
	size_t				 i, j, k, ntasks = 0;

	for (i = 0; i < pl->nphases; i++)
		ntasks += pl->phases[i].ntasks;
	printf("%s: %s pipeline, %zu phase%s, %zu task%s\n", file,
	    pipeline_event_name(event), pl->nphases,
	    pl->nphases == 1 ? "" : "s", ntasks, ntasks == 1 ? "" : "s");
	for (i = 0; i < pl->nphases; i++) {
		ph = &pl->phases[i];
		printf("\nphase %zu: %s\n", i + 1, ph->name);
		for (j = 0; j < ph->ntasks; j++) {
			t = &ph->tasks[j];
			printf("  %-24s %s\n", t->slug, t->name);
			if (t->image != NULL)
				printf("      image     %s\n", t->image);
			if (t->run != NULL)
				printf("      run       %s\n", t->run);
			printf("      profile   %s%s\n", t->profile,
			    t->critical ? "" : ", not critical");
			if (t->timeout_ms != 0)
				printf("      timeout   %llus\n",
				    (unsigned long long)t->timeout_ms / 1000);
			for (k = 0; k < t->nenv; k++)
				printf("      env       %s=%s\n",
				    t->env[k].name, t->env[k].value);
		}
	}
	if (pl->nphases == 0)
		printf("nothing to run for a %s\n", pipeline_event_name(event));
}

/* beekeeper plan: parse a pipeline file here, without a daemon. */
int
cmd_plan(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	enum pipeline_event		 event = PIPELINE_PUSH;
	const char			*file = "beekeeper.yml";
	struct pipeline			*pl;
	char				*text, *cause = NULL;
	size_t				 len;
	json_t				*doc;
	int				 ch;

	while ((ch = getopt_long(argc, argv, "e:j", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			if (pipeline_event_parse(optarg, &event) != 0) {
				fprintf(stderr, "beekeeper plan: unknown event "
				    "'%s' (push, pull_request or tag)\n",
				    optarg);
				return (1);
			}
			break;
		case 'j':
			json_output = 1;
			break;
		default:
			return (cmd_usage("plan"));
		}
	}
	if (argc - optind > 1)
		return (cmd_usage("plan"));
	if (argc - optind == 1)
		file = argv[optind];

	if ((text = util_read_file(file, PIPELINE_FILE_MAX, &len, &cause)) ==
	    NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return (1);
	}
	pl = pipeline_parse(file, text, len, event, &cause);
	free(text);
	if (pl == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		return (1);
	}
	if (json_output) {
		doc = plan_json(file, event, pl);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(doc);
	} else
		plan_text(file, event, pl);
	pipeline_free(pl);
	return (0);
}

/*
 * beekeeper keygen: a CURVE key pair from libzmq, written for -k (and
 * for the daemon's bus.curve_secret_key_file), with the public key on
 * stdout as a clients file line wants it.
 */
int
cmd_keygen(int argc, char **argv)
{
	struct curvekey	 k;
	char		*cause = NULL;
	int		 ch, force = 0;

	while ((ch = getopt(argc, argv, "f")) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		default:
			return (cmd_usage("keygen"));
		}
	}
	if (argc - optind != 1)
		return (cmd_usage("keygen"));
	if (curvekey_generate(argv[optind], force, &k, &cause) != 0) {
		fprintf(stderr, "beekeeper keygen: %s\n", cause);
		free(cause);
		return (1);
	}
	printf("%s NAME ROLE\n", k.public);
	fprintf(stderr, "beekeeper keygen: wrote %s (the pair, keep it "
	    "secret) and %s.pub; for the daemon's bus.clients_file, the line "
	    "above with a name and admin or viewer\n", argv[optind],
	    argv[optind]);
	curvekey_clear(&k);
	return (0);
}
