/*
 * The tasks' variables and secrets as the daemon stores them: vars lists
 * them, set-var, unset-var, set-secret and unset-secret change them, for
 * every project or, with -p, one. A secret's value goes one way only: it
 * is read from standard input (never an argument, which ps and the
 * shell's history would show), sent once, and wiped here; no reply holds
 * it, and vars shows a secret by name.
 */

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"

/* More than the daemon takes, so that it refuses in its own words. */
#define VARS_SECRET_READ	(64 * 1024 + 2)

/*
 * The options of these commands, -p PROJECT and -j: the index of the first
 * argument, or -1 for an unknown option.
 */
static int
vars_options(int argc, char **argv, const char **project)
{
	static const struct option	 longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "project", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	int				 ch;

	*project = NULL;
	while ((ch = getopt_long(argc, argv, "jp:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json_output = 1;
			break;
		case 'p':
			*project = optarg;
			break;
		default:
			return (-1);
		}
	}
	return (optind);
}

/* A request to cmd, of project if one is given. */
static json_t *
vars_req(const char *cmd, const char *project)
{
	json_t	*req;

	req = json_pack("{s:s}", "cmd", cmd);
	if (project != NULL)
		json_object_set_new(req, "project", json_string(project));
	return (req);
}

/* What a row shows of an entry's value: a secret's never. */
static const char *
vars_value(const json_t *o)
{
	const char	*v;

	if (json_is_true(json_object_get(o, "secret")))
		return ("(secret, not shown)");
	return ((v = json_text(o, "value")) != NULL ? v : "-");
}

/* beekeeper vars [-p PROJECT]: what tasks get, and from where. */
int
cmd_vars(int argc, char **argv)
{
	const json_t	*o;
	const char	*project;
	struct table	*t;
	json_t		*req, *reply;
	size_t		 i;
	int		 first, rc;

	if ((first = vars_options(argc, argv, &project)) < 0 || first != argc)
		return (cmd_usage("vars"));
	req = vars_req("vars", project);
	rc = client_request(req, 0, &reply);
	json_decref(req);
	if (rc != 0)
		return (rc);
	if (json_output) {
		client_print_json(reply, 0);
		json_decref(reply);
		return (0);
	}
	t = table_create(6);
	table_cell(t, "NAME");
	table_cell(t, "KIND");
	table_cell(t, "PROJECT");
	table_cell(t, "IMAGE");
	table_cell(t, "SOURCE");
	table_cell(t, "VALUE");
	json_array_foreach(json_object_get(reply, "variables"), i, o) {
		table_row(t);
		table_value(t, o, "name");
		table_cell(t, "%s", json_is_true(json_object_get(o,
		    "secret")) ? "secret" : "variable");
		table_value(t, o, "project");
		table_value(t, o, "image");
		table_value(t, o, "source");
		table_cell(t, "%s", vars_value(o));
	}
	table_print(t, stdout);
	table_free(t);
	json_decref(reply);
	return (0);
}

/* "every project" or "project owner/name". */
static char *
vars_scope(const char *project)
{
	char	*s;

	if (project == NULL)
		return (xstrdup("every project"));
	xasprintf(&s, "project %s", project);
	return (s);
}

/* beekeeper set-var [-p PROJECT] NAME VALUE */
int
cmd_set_var(int argc, char **argv)
{
	const char	*project;
	char		*done, *scope;
	json_t		*req;
	int		 i;

	if ((i = vars_options(argc, argv, &project)) < 0 || argc - i != 2)
		return (cmd_usage("set-var"));
	scope = vars_scope(project);
	xasprintf(&done, "variable %s: set for %s", argv[i], scope);
	free(scope);
	req = vars_req("set-var", project);
	json_object_set_new(req, "name", json_string(argv[i]));
	json_object_set_new(req, "value", json_string(argv[i + 1]));
	return (act_request(req, done));
}

/* unset-var and unset-secret [-p PROJECT] NAME */
static int
vars_unset(int argc, char **argv, const char *cmd, const char *kind)
{
	const char	*project;
	char		*done, *scope;
	json_t		*req;
	int		 i;

	if ((i = vars_options(argc, argv, &project)) < 0 || argc - i != 1)
		return (cmd_usage(cmd));
	scope = vars_scope(project);
	xasprintf(&done, "%s %s: unset for %s", kind, argv[i], scope);
	free(scope);
	req = vars_req(cmd, project);
	json_object_set_new(req, "name", json_string(argv[i]));
	return (act_request(req, done));
}

int
cmd_unset_var(int argc, char **argv)
{
	return (vars_unset(argc, argv, "unset-var", "variable"));
}

int
cmd_unset_secret(int argc, char **argv)
{
	return (vars_unset(argc, argv, "unset-secret", "secret"));
}

/*
 * beekeeper set-secret [-p PROJECT] NAME: the value is standard input,
 * less one trailing newline (as echo or a here-document leave it). The
 * buffer is wiped once the request is built; the request is wiped by
 * client_request once sent.
 */
int
cmd_set_secret(int argc, char **argv)
{
	const char	*project;
	char		*buf, *done, *scope;
	size_t		 len = 0;
	ssize_t		 n;
	json_t		*req, *value;
	int		 i;

	if ((i = vars_options(argc, argv, &project)) < 0 || argc - i != 1)
		return (cmd_usage("set-secret"));
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "beekeeper: reading the value of %s from "
		    "standard input, until end of file\n", argv[i]);
	buf = xmalloc(VARS_SECRET_READ);
	while (len < VARS_SECRET_READ && (n = read(STDIN_FILENO, buf + len,
	    VARS_SECRET_READ - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fprintf(stderr, "beekeeper: reading the secret from "
			    "standard input: %s\n", strerror(errno));
			freezero(buf, VARS_SECRET_READ);
			return (1);
		}
		len += n;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	req = vars_req("set-secret", project);
	json_object_set_new(req, "name", json_string(argv[i]));
	value = json_stringn(buf, len);
	freezero(buf, VARS_SECRET_READ);
	if (value == NULL) {
		json_decref(req);
		fprintf(stderr, "beekeeper: the value of %s is not UTF-8 "
		    "text\n", argv[i]);
		return (1);
	}
	json_object_set_new(req, "value", value);
	scope = vars_scope(project);
	xasprintf(&done, "secret %s: set for %s", argv[i], scope);
	free(scope);
	return (act_request(req, done));
}
