/*
 * beekeeperd.yml: defaults, values, and every error a person can make,
 * each reported as FILE:LINE: reason.
 */

#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define SECRET_TEXT	"s3cret-value"
#define TOKEN_TEXT	"ghp_t0kenVALUE"
#define KEY_TEXT	"MIIEpAIBAAKCAQEAkeyBODY"
#define TWINE_TEXT	"tw1ne-PASS"

static char	 dir[] = "/tmp/t_config.XXXXXX";
static char	*conffile;

/* Files the configs name, each written into dir; @X@ is its path. */
static struct {
	const char	*tag;
	const char	*name;
	const char	*text;
	mode_t		 mode;
	char		*path;
} files[] = {
	{ "@S@", "secret", SECRET_TEXT "\n", 0600, NULL },
	{ "@T@", "token", TOKEN_TEXT "\r\n", 0400, NULL },
	{ "@K@", "app.pem", "-----BEGIN RSA PRIVATE KEY-----\n" KEY_TEXT
	  "\n-----END RSA PRIVATE KEY-----\n", 0600, NULL },
	{ "@W@", "twine", TWINE_TEXT "\n\n", 0600, NULL },
	{ "@P@", "public.pem", "-----BEGIN PUBLIC KEY-----\nMIIB\n"
	  "-----END PUBLIC KEY-----\n", 0600, NULL },
	{ "@N@", "notpem", "just a key\n", 0600, NULL },
	{ "@X@", "spaced", "two words\n", 0600, NULL },
	{ "@O@", "open", "open\n", 0644, NULL },
	{ "@G@", "group", "group\n", 0620, NULL },
	{ "@E@", "empty", "\n", 0600, NULL },
	{ "@D@", "subdir", NULL, 0700, NULL },
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		exit(1);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* Replace each @X@ in text by the path of that file. */
static char *
subst(const char *text)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b, 0);
	while (*text != '\0') {
		for (i = 0; i < nitems(files); i++) {
			if (strncmp(text, files[i].tag, 3) == 0)
				break;
		}
		if (i < nitems(files)) {
			buf_addstr(&b, files[i].path);
			text += 3;
		} else
			buf_add(&b, text++, 1);
	}
	return (buf_detach(&b, NULL));
}

/* Load text as a config; returns the error (caller frees) or NULL. */
static char *
try(const char *text, struct config **confp)
{
	struct config	*conf;
	char		*cause = NULL, *full;

	full = subst(text);
	write_file(conffile, full, 0600);
	free(full);
	conf = config_load(conffile, &cause);
	if (confp != NULL)
		*confp = conf;
	else
		config_free(conf);
	return (cause);
}

/* A config that must load: the tests after it depend on it. */
static struct config *
load_ok(const char *text, const char *name)
{
	struct config	*conf;
	char		*cause;

	cause = try(text, &conf);
	if (!ok(conf != NULL, name)) {
		printf("#   %s\n", cause);
		printf("Bail out! %s\n", name);
		exit(1);
	}
	return (conf);
}

static void
error_case(const char *text, int line, const char *reason, const char *name)
{
	char	*cause, want[256];

	cause = try(text, NULL);
	snprintf(want, sizeof want, "%s:%d: ", conffile, line);
	if (ok(cause != NULL && strncmp(cause, want, strlen(want)) == 0 &&
	    strstr(cause, reason) != NULL, name))
		;
	else
		printf("#   got '%s', want '%s...%s'\n", cause, want, reason);
	free(cause);
}

/* The whole message must be FILE:LINE: reason, @X@ replaced in reason. */
static void
error_is(const char *text, int line, const char *reason, const char *name)
{
	char	*cause, *want, *r;

	cause = try(text, NULL);
	r = subst(reason);
	xasprintf(&want, "%s:%d: %s", conffile, line, r);
	is_str(cause, want, name);
	free(r);
	free(want);
	free(cause);
}

static char *
print_config(const struct config *conf)
{
	char	*printed;
	size_t	 len;
	FILE	*f;

	f = open_memstream(&printed, &len);
	config_print(conf, f);
	fclose(f);
	return (printed);
}

#define WS	"github:\n  webhook_secret_file: @S@\n"

static void
test_github(void)
{
	struct config	*conf;

	conf = load_ok(WS, "minimal config for the github keys");
	is_str(conf->github_api_url, "https://api.github.com",
	    "api_url default");
	ok(conf->github_token_file == NULL && conf->github_token == NULL &&
	    conf->github_token_len == 0, "no token by default");
	ok(conf->github_app_id == NULL && conf->github_app_key_file == NULL &&
	    conf->github_app_key == NULL && conf->github_app_key_len == 0,
	    "no GitHub App by default");
	is_str(conf->github_context, "beekeeper", "status_context default");
	is_int(conf->github_trust_forks, 0, "trust_forks off by default");
	config_free(conf);

	conf = load_ok(WS "  api_url: https://ghe.example.com/api/v3/\n"
	    "  token_file: @T@\n  status_context: ci/bee.keeper:x_y-z\n"
	    "  trust_forks: yes\n", "a config with a token loads");
	is_str(conf->github_api_url, "https://ghe.example.com/api/v3",
	    "api_url: a trailing slash is dropped");
	is_str(conf->github_token_file, files[1].path, "token_file");
	is_int(conf->github_token_len, strlen(TOKEN_TEXT),
	    "token read, CR LF stripped");
	ok(conf->github_token != NULL &&
	    strcmp(conf->github_token, TOKEN_TEXT) == 0, "token content");
	is_str(conf->github_context, "ci/bee.keeper:x_y-z", "status_context");
	is_int(conf->github_trust_forks, 1, "trust_forks: yes");
	config_free(conf);

	conf = load_ok(WS "  api_url: http://127.0.0.1:9000//\n",
	    "an api_url with two slashes loads");
	is_str(conf->github_api_url, "http://127.0.0.1:9000/",
	    "api_url: only one slash is dropped");
	config_free(conf);

	conf = load_ok(WS "  app_id: 12345\n  app_key_file: @K@\n",
	    "a config with a GitHub App loads");
	is_str(conf->github_app_id, "12345", "app_id");
	is_str(conf->github_app_key_file, files[2].path, "app_key_file");
	ok(conf->github_app_key != NULL &&
	    strncmp(conf->github_app_key, "-----BEGIN RSA PRIVATE KEY-----\n"
	    KEY_TEXT "\n-----END RSA PRIVATE KEY-----",
	    conf->github_app_key_len) == 0 &&
	    conf->github_app_key[conf->github_app_key_len] == '\0',
	    "app key content, PEM, final newline stripped");
	ok(conf->github_token == NULL, "no token with an App");
	config_free(conf);

	error_is(WS "  token_file: @T@\n  app_id: 1\n  app_key_file: @K@\n",
	    3, "set either github.token_file or github.app_id with "
	    "github.app_key_file, not both", "a token and an App");
	error_is(WS "  app_id: 1\n  token_file: @T@\n", 4,
	    "set either github.token_file or github.app_id with "
	    "github.app_key_file, not both",
	    "a token and an app_id, at the token's line");
	error_is(WS "  token_file: @T@\n  app_key_file: @K@\n", 3,
	    "set either github.token_file or github.app_id with "
	    "github.app_key_file, not both", "a token and an App key");
	error_is(WS "  app_id: 42\n", 3, "github.app_id: a GitHub App also "
	    "needs github.app_key_file, its private key",
	    "an app_id without its key");
	error_is(WS "  app_key_file: @K@\n", 3, "github.app_key_file: a GitHub "
	    "App also needs github.app_id, its ID",
	    "an App key without its id");
	error_is(WS "  app_id: 12a\n  app_key_file: @K@\n", 3,
	    "github.app_id: '12a' is not a GitHub App ID (digits only)",
	    "an app_id that is not digits");
	error_is(WS "  app_id: ''\n  app_key_file: @K@\n", 3,
	    "github.app_id: '' is not a GitHub App ID (digits only)",
	    "an empty app_id");
	error_is(WS "  app_id: 1\n  app_key_file: @N@\n", 4,
	    "github.app_key_file: @N@ is not a PEM private key (its first "
	    "line must be -----BEGIN ... PRIVATE KEY-----)",
	    "an App key that is not PEM");
	error_is(WS "  app_id: 1\n  app_key_file: @P@\n", 4,
	    "github.app_key_file: @P@ is not a PEM private key (its first "
	    "line must be -----BEGIN ... PRIVATE KEY-----)",
	    "a public key is not a private key");
	error_is(WS "  token_file: @X@\n", 3, "github.token_file: @X@ must "
	    "hold the token alone, one line with no spaces",
	    "a token file with more than a token");
	error_is(WS "  api_url: ftp://api.github.com\n", 3, "github.api_url: "
	    "'ftp://api.github.com' is not an http:// or https:// URL",
	    "an api_url that is not http");
	error_is(WS "  api_url: https://\n", 3, "github.api_url: 'https://' "
	    "is not an http:// or https:// URL", "an api_url with no host");
	error_is(WS "  status_context: bee keeper\n", 3,
	    "github.status_context: 'bee keeper' may hold only letters, "
	    "digits, '-', '_', '.', '/' and ':'",
	    "a status context with a space");
	error_is(WS "  status_context: \"\"\n", 3, "github.status_context: '' "
	    "may hold only letters, digits, '-', '_', '.', '/' and ':'",
	    "an empty status context");
	error_is(WS "  trust_forks: perhaps\n", 3, "github.trust_forks: "
	    "'perhaps' is not a boolean (true or false)",
	    "trust_forks that is not a boolean");
	error_is(WS "  token_file: relative/token\n", 3, "github.token_file: "
	    "'relative/token' is not an absolute path",
	    "a relative token_file");
	error_is(WS "  app_id: [1]\n", 3, "github.app_id: must be a single "
	    "value, not a list or mapping", "an app_id that is a list");

	/* The same checks for every secret file. */
	error_is(WS "  token_file: @O@\n", 3, "@O@: secret file is readable "
	    "by other users (mode 0644); run chmod 600 @O@",
	    "a token readable by others is refused");
	error_is(WS "  app_id: 7\n  app_key_file: @G@\n", 4, "@G@: secret "
	    "file is accessible to other users (mode 0620); run chmod 600 @G@",
	    "a group-writable App key is refused");
	error_is(WS "  token_file: @E@\n", 3, "@E@: secret file is empty",
	    "an empty token file is refused");
	error_is(WS "  token_file: @D@\n", 3, "@D@: not a regular file",
	    "a directory as token file is refused");
	error_is(WS "  token_file: /nonexistent/token\n", 3,
	    "/nonexistent/token: No such file or directory",
	    "a missing token file is refused");
}

#define PROJ	WS "projects:\n"

static void
test_projects(void)
{
	struct config	*conf;

	conf = load_ok(WS, "minimal config for the project keys");
	ok(conf->napproved == 0 && conf->approved == NULL,
	    "no approved repositories by default");
	ok(conf->npush_branches == 0 && conf->push_branches == NULL,
	    "no push_branches by default");
	config_free(conf);

	conf = load_ok(PROJ "  approved: [acme/widget, beeware/toga]\n"
	    "  push_branches:\n    beeware/toga: [main, \"release/*\"]\n"
	    "    acme/widget: develop\n    acme/quiet: []\n"
	    "    Some-Org/my_repo.py:\n      - 'v[0-9]*'\n",
	    "approved and push_branches load");
	if (ok(conf->napproved == 2, "two approved")) {
		is_str(conf->approved[0], "acme/widget", "first approved");
		is_str(conf->approved[1], "beeware/toga", "second approved");
	}
	if (ok(conf->npush_branches == 4, "four push_branches")) {
		is_str(conf->push_branches[0].repo, "beeware/toga",
		    "push_branches repo");
		is_int(conf->push_branches[0].npatterns, 2, "two patterns");
		is_str(conf->push_branches[0].patterns[0], "main",
		    "first pattern");
		is_str(conf->push_branches[0].patterns[1], "release/*",
		    "second pattern");
		is_int(conf->push_branches[1].npatterns, 1,
		    "a single string is one pattern");
		is_str(conf->push_branches[1].patterns[0], "develop",
		    "that pattern");
		ok(conf->push_branches[2].npatterns == 0 &&
		    conf->push_branches[2].patterns == NULL,
		    "[] is no branch");
		is_str(conf->push_branches[3].repo, "Some-Org/my_repo.py",
		    "a repository with '-', '_' and '.'");
		is_str(conf->push_branches[3].patterns[0], "v[0-9]*",
		    "a block list of patterns");
	}
	config_free(conf);

	conf = load_ok(PROJ "  approved:\n  push_branches:\n",
	    "empty approved and push_branches load");
	ok(conf->napproved == 0 && conf->npush_branches == 0,
	    "an empty value is an empty list");
	config_free(conf);

	error_is(PROJ "  approved: acme/widget\n", 4, "projects.approved: "
	    "must be a list of repositories, as in [beeware/toga]",
	    "approved that is not a list");
	error_is(PROJ "  approved:\n    - acme/widget\n    - acme\n", 6,
	    "projects.approved: 'acme' is not a repository: owner/name, as "
	    "in beeware/toga", "an approved entry that is not owner/name");
	error_is(PROJ "  approved: [a/b/c]\n", 4, "projects.approved: 'a/b/c' "
	    "is not a repository: owner/name, as in beeware/toga",
	    "a repository with two slashes");
	error_is(PROJ "  approved: [acme/..]\n", 4, "projects.approved: "
	    "'acme/..' is not a repository: owner/name, as in beeware/toga",
	    "a repository named '..'");
	error_is(PROJ "  approved: [\"/toga\"]\n", 4, "projects.approved: "
	    "'/toga' is not a repository: owner/name, as in beeware/toga",
	    "a repository with no owner");
	error_is(PROJ "  approved:\n    - acme/widget\n    - beeware/toga\n"
	    "    - Acme/Widget\n", 7, "projects.approved: 'Acme/Widget' is "
	    "listed twice", "a repository approved twice, in any case");
	error_is(PROJ "  approved:\n    - [acme/widget]\n", 5,
	    "projects.approved: each entry must be owner/name, not a list or "
	    "mapping", "a list in approved");
	error_is(PROJ "  push_branches: [main]\n", 4, "projects.push_branches: "
	    "must be a mapping of repositories to branch patterns",
	    "push_branches that is a list");
	error_is(PROJ "  push_branches:\n    toga: [main]\n", 5,
	    "projects.push_branches: 'toga' is not a repository: owner/name, "
	    "as in beeware/toga", "push_branches for a bad repository");
	error_is(PROJ "  push_branches:\n    beeware/toga: main\n"
	    "    BeeWare/Toga: dev\n", 6, "projects.push_branches.BeeWare/Toga "
	    "is set twice", "push_branches for a repository twice");
	error_is(PROJ "  push_branches:\n    beeware/toga:\n", 5,
	    "projects.push_branches.beeware/toga: a branch pattern must not be "
	    "empty; [] means no branch", "push_branches with no pattern");
	error_is(PROJ "  push_branches:\n    beeware/toga: [main, '']\n", 5,
	    "projects.push_branches.beeware/toga: a branch pattern must not be "
	    "empty; [] means no branch", "an empty pattern");
	error_is(PROJ "  push_branches:\n    beeware/toga: {main: yes}\n", 5,
	    "projects.push_branches.beeware/toga: must be a branch pattern or "
	    "a list of them", "patterns in a mapping");
	error_is(PROJ "  push_branches:\n    beeware/toga:\n      - [main]\n",
	    6, "projects.push_branches.beeware/toga: each branch pattern must "
	    "be a single value", "a list in a list of patterns");
}

static void
test_variables(void)
{
	struct config		*conf;
	const struct config_var	*v;

	conf = load_ok(WS, "minimal config for variables");
	ok(conf->nvars == 0 && conf->vars == NULL, "no variables by default");
	config_free(conf);

	conf = load_ok(WS "secrets:\n  - name: TWINE_PASSWORD\n"
	    "    file: @W@\n    project: beeware/toga\n"
	    "    image: beekeeper/python:3.12\n"
	    "variables:\n  - name: PIP_INDEX_URL\n"
	    "    value: https://example/simple/\n    project: beeware/toga\n"
	    "    image: beekeeper/python\n"
	    "  - name: _EMPTY1\n    value: \"\"\n"
	    "  - name: PIP_INDEX_URL\n    value: 'a: b #c'\n"
	    "  - {name: PIP_INDEX_URL, value: x, project: beeware/toga}\n"
	    "  - {name: PIP_INDEX_URL, value: y, image: beekeeper/python}\n",
	    "variables and secrets load");
	if (!ok(conf->nvars == 6, "six entries"))
		exit(1);
	v = &conf->vars[0];
	is_str(v->name, "PIP_INDEX_URL", "variable name");
	is_str(v->value, "https://example/simple/", "variable value");
	is_int(v->value_len, strlen("https://example/simple/"),
	    "variable value_len");
	is_str(v->project, "beeware/toga", "variable project");
	is_str(v->image, "beekeeper/python", "variable image");
	ok(v->file == NULL && v->secret == 0, "a variable is no secret");
	v = &conf->vars[1];
	ok(strcmp(v->name, "_EMPTY1") == 0 && strcmp(v->value, "") == 0 &&
	    v->value_len == 0, "an empty value");
	ok(v->project == NULL && v->image == NULL,
	    "no project or image: every one");
	is_str(conf->vars[2].value, "a: b #c", "a quoted value, exactly");
	is_str(conf->vars[3].project, "beeware/toga",
	    "the same name for a project");
	is_str(conf->vars[4].image, "beekeeper/python",
	    "the same name for an image");
	v = &conf->vars[5];
	is_str(v->name, "TWINE_PASSWORD", "secrets come after variables");
	is_int(v->secret, 1, "a secret is a secret");
	is_str(v->file, files[3].path, "secret file");
	is_int(v->value_len, strlen(TWINE_TEXT),
	    "secret read, trailing newlines stripped");
	ok(v->value != NULL && strcmp(v->value, TWINE_TEXT) == 0,
	    "secret content");
	is_str(v->project, "beeware/toga", "secret project");
	is_str(v->image, "beekeeper/python:3.12", "secret image");
	config_free(conf);

	conf = load_ok(WS "variables:\nsecrets: []\n",
	    "empty variables and secrets load");
	is_int(conf->nvars, 0, "an empty value is no variables");
	config_free(conf);

	error_is(WS "variables:\n  name: X\n", 4, "variables: must be a list "
	    "of mappings with the keys name, value, project and image",
	    "variables that are a mapping");
	error_is(WS "secrets: X\n", 3, "secrets: must be a list of mappings "
	    "with the keys name, file, project and image",
	    "secrets that are a value");
	error_is(WS "variables:\n  - X=1\n", 4, "variables: each entry must be "
	    "a mapping with the keys name, value, project and image",
	    "a variable that is not a mapping");
	error_is(WS "variables:\n  - value: 1\n    project: acme/widget\n", 4,
	    "variables: an entry has no name", "a variable without a name");
	error_is(WS "variables:\n  - name: X\n    project: acme/widget\n", 4,
	    "variables: X has no value", "a variable without a value");
	error_is(WS "secrets:\n  - name: X\n    image: beekeeper/python\n", 4,
	    "secrets: X has no file", "a secret without a file");
	error_is(WS "variables:\n  - name: X\n    value: 1\n    colour: red\n",
	    6, "unknown key 'variables.colour' (an entry has name, value, "
	    "project and image)", "an unknown key in a variable");
	error_is(WS "secrets:\n  - name: X\n    file: @W@\n    colour: red\n",
	    6, "unknown key 'secrets.colour' (an entry has name, file, "
	    "project and image)", "an unknown key in a secret");
	error_is(WS "variables:\n  - name: X\n    file: @W@\n", 5,
	    "unknown key 'variables.file' (an entry has name, value, project "
	    "and image)", "a file in a variable");
	error_is(WS "secrets:\n  - name: X\n    value: hunter2\n", 5,
	    "secrets.value: secrets come from files, never from this one: "
	    "put the value in a file only its owner can read, and give its "
	    "path as file", "a secret's value in the config is refused");
	error_is(WS "variables:\n  - name: X\n    value: 1\n    name: Y\n", 6,
	    "'variables.name' is set twice", "a key twice in an entry");
	error_is(WS "variables:\n  - name: X\n    value: [1, 2]\n", 5,
	    "variables.value: must be a single value, not a list or mapping",
	    "a value that is a list");
	error_is(WS "variables:\n  - name: 1X\n    value: 1\n", 4,
	    "variables.name: '1X' is not a variable name (letters, digits and "
	    "'_', not starting with a digit)", "a name starting with a digit");
	error_is(WS "secrets:\n  - name: A-B\n    file: @W@\n", 4,
	    "secrets.name: 'A-B' is not a variable name (letters, digits and "
	    "'_', not starting with a digit)", "a name with a '-'");
	error_is(WS "variables:\n  - name: ''\n    value: 1\n", 4,
	    "variables.name: '' is not a variable name (letters, digits and "
	    "'_', not starting with a digit)", "an empty name");
	error_is(WS "variables:\n  - name: X\n    value: 1\n"
	    "    project: toga\n", 6, "variables.project: 'toga' is not a "
	    "repository: owner/name, as in beeware/toga",
	    "a variable's project that is not owner/name");
	error_is(WS "secrets:\n  - name: X\n    file: @W@\n"
	    "    image: 'bee keeper'\n", 6, "secrets.image: 'bee keeper' is "
	    "not an image name (letters, digits, '-', '_', '.', '/', ':' and "
	    "'@')", "an image with a space");
	error_is(WS "secrets:\n  - name: X\n    file: @O@\n", 5,
	    "@O@: secret file is readable by other users (mode 0644); run "
	    "chmod 600 @O@", "a secret's file readable by others");
	error_is(WS "secrets:\n  - name: X\n    file: @E@\n", 5,
	    "@E@: secret file is empty", "a secret's file that is empty");
	error_is(WS "secrets:\n  - name: X\n    file: /nonexistent/x\n", 5,
	    "/nonexistent/x: No such file or directory",
	    "a secret's file that is missing");
	error_is(WS "secrets:\n  - name: X\n    file: x\n", 5,
	    "secrets.file: 'x' is not an absolute path",
	    "a secret's file that is relative");

	/* What beekeeperd sets itself. */
	error_is(WS "variables:\n  - name: PATH\n    value: /bin\n", 4,
	    "variables.name: PATH is set by beekeeperd for every task",
	    "PATH is refused");
	error_is(WS "secrets:\n  - file: @W@\n    name: GITHUB_OWNER\n", 5,
	    "secrets.name: GITHUB_OWNER is set by beekeeperd for every task",
	    "GITHUB_OWNER is refused, at the name's line");
	error_case(WS "variables:\n  - {name: GITHUB_PROJECT_NAME, value: x}\n",
	    4, "GITHUB_PROJECT_NAME is set by beekeeperd",
	    "GITHUB_PROJECT_NAME");
	error_case(WS "variables:\n  - {name: GITHUB_PR_NUMBER, value: x}\n",
	    4, "GITHUB_PR_NUMBER is set by beekeeperd", "GITHUB_PR_NUMBER");
	error_case(WS "variables:\n  - {name: SHA, value: x}\n", 4,
	    "SHA is set by beekeeperd", "SHA");
	error_case(WS "variables:\n  - {name: CODE_URL, value: x}\n", 4,
	    "CODE_URL is set by beekeeperd", "CODE_URL");
	error_case(WS "variables:\n  - {name: TASK, value: x}\n", 4,
	    "TASK is set by beekeeperd", "TASK");
	error_case(WS "variables:\n  - {name: HOME, value: x}\n", 4,
	    "HOME is set by beekeeperd", "HOME");
	error_case(WS "secrets:\n  - {name: LANG, file: @W@}\n", 4,
	    "LANG is set by beekeeperd", "LANG");

	/* The same scope twice leaves no rule for which one wins. */
	error_is(WS "variables:\n  - name: X\n    value: 1\n"
	    "  - name: X\n    value: 2\n", 6, "variables: X is set twice for "
	    "every project and every image (first on line 4)",
	    "a variable twice");
	error_is(WS "variables:\n"
	    "  - {name: X, value: 1, project: acme/w, image: i}\n"
	    "  - {name: X, value: 1, project: acme/w}\n"
	    "secrets:\n"
	    "  - {name: X, file: @W@, project: ACME/W, image: i}\n", 7,
	    "secrets: X is set twice for project ACME/W and image i (first on "
	    "line 4)", "a variable and a secret of the same scope");
	error_is(WS "secrets:\n  - {name: X, file: @W@}\n"
	    "variables:\n  - {name: X, value: 1}\n", 6,
	    "variables: X is set twice for every project and every image "
	    "(first on line 4)", "a secret, then a variable of that name");
}

/* -n: values of variables, never those of secrets; read back the same. */
static void
test_print(void)
{
	struct config	*conf, *again;
	char		*printed, *reprinted, *cause, *p, *q;

	conf = load_ok(WS "  token_file: @T@\n"
	    "projects:\n  approved: [acme/widget]\n"
	    "  push_branches: {beeware/toga: [main, '[ab]*', 'r/*'], "
	    "acme/x: []}\n"
	    "variables:\n  - {name: V1, value: visible-value, "
	    "project: beeware/toga, image: beekeeper/python}\n"
	    "  - {name: V2, value: \"q\\\"uo'te: #x\\ty\\n\"}\n"
	    "  - {name: V3, value: ''}\n"
	    "  - {name: V4, value: \"a\\Nb\\Lc\"}\n"
	    "secrets:\n  - {name: TWINE_PASSWORD, file: @W@, "
	    "project: beeware/toga}\n", "a config to print loads");
	printed = print_config(conf);
	ok(strstr(printed, SECRET_TEXT) == NULL,
	    "-n never shows the webhook secret");
	ok(strstr(printed, TOKEN_TEXT) == NULL, "-n never shows the token");
	ok(strstr(printed, TWINE_TEXT) == NULL,
	    "-n never shows a secret's value");
	like(printed, "  token_file: ", "-n shows token_file");
	like(printed, "(secret read, 14 bytes, not shown)",
	    "-n says the token was read");
	like(printed, "  # app_id:", "-n shows app_id as not set");
	like(printed, "  api_url: https://api.github.com\t",
	    "-n shows api_url");
	like(printed, "  status_context: beekeeper\t", "-n shows the context");
	like(printed, "  trust_forks: false\t", "-n shows trust_forks");
	like(printed, "  approved:\t\t# repositories approved by this file\n"
	    "    - acme/widget\n", "-n shows approved");
	like(printed, "    beeware/toga:\n      - main\n      - \"[ab]*\"\n"
	    "      - r/*\n    acme/x: []\n", "-n shows push_branches");
	like(printed, "  - name: V1\n    value: visible-value\n"
	    "    project: beeware/toga\n    image: beekeeper/python\n",
	    "-n shows a variable and its value");
	like(printed, "    value: \"q\\\"uo'te: #x\\ty\\n\"\n",
	    "-n quotes a value YAML would misread");
	like(printed, "  - name: V3\n    value: \"\"\n",
	    "-n shows an empty value");
	xasprintf(&p, "secrets:\t\t\t# environment of the tasks, read from "
	    "files\n  - name: TWINE_PASSWORD\n    file: %s\t# secret read, "
	    "10 bytes, not shown\n    project: beeware/toga\n",
	    files[3].path);
	like(printed, p, "-n shows a secret's name, file, scope and length");
	free(p);

	/* Read back, the printed config prints the same. */
	p = strchr(printed, '\n') + 1;
	xasprintf(&q, "%s", p);
	cause = try(q, &again);
	if (ok(again != NULL, "-n output loads as a config")) {
		reprinted = print_config(again);
		is_str(strchr(reprinted, '\n') + 1, q,
		    "-n output read back prints the same");
		is_str(again->vars[1].value, "q\"uo'te: #x\ty\n",
		    "a quoted value reads back exactly");
		is_str(again->vars[3].value, "a\xc2\x85" "b\xe2\x80\xa8" "c",
		    "a value with Unicode line breaks reads back exactly");
		free(reprinted);
		config_free(again);
	} else
		printf("#   %s\n", cause);
	free(cause);
	free(q);
	free(printed);
	config_free(conf);

	conf = load_ok(WS "  app_id: 99\n  app_key_file: @K@\n",
	    "an App config to print loads");
	printed = print_config(conf);
	ok(strstr(printed, KEY_TEXT) == NULL && strstr(printed, "BEGIN") ==
	    NULL, "-n never shows the App key");
	like(printed, "  app_id: 99\t", "-n shows app_id");
	like(printed, "  # token_file:", "-n shows token_file as not set");
	like(printed, "variables: []", "-n shows no variables");
	like(printed, "secrets: []", "-n shows no secrets");
	like(printed, "  push_branches: {}", "-n shows no push_branches");
	free(printed);
	config_free(conf);
}

int
main(void)
{
	struct config	*conf;
	char		*cause, *printed;
	size_t		 i;

	if (mkdtemp(dir) == NULL)
		return (1);
	xasprintf(&conffile, "%s/beekeeperd.yml", dir);
	for (i = 0; i < nitems(files); i++) {
		xasprintf(&files[i].path, "%s/%s", dir, files[i].name);
		if (files[i].text == NULL)
			mkdir(files[i].path, files[i].mode);
		else
			write_file(files[i].path, files[i].text,
			    files[i].mode);
	}

	cause = try(WS, &conf);
	if (!ok(conf != NULL, "minimal config loads"))
		printf("#   %s\n", cause);
	is_str(conf->listen, "127.0.0.1:8080", "listen default");
	is_str(conf->listen_host, "127.0.0.1", "listen host");
	is_str(conf->listen_port, "8080", "listen port");
	is_str(conf->public_url, "http://127.0.0.1:8080",
	    "public_url follows listen");
	is_str(conf->state_dir, "/var/lib/beekeeper", "state_dir default");
	is_str(conf->pid_file, "/var/lib/beekeeper/beekeeperd.pid",
	    "pid_file in state_dir");
	is_int(conf->max_delivery_size, 25 * 1024 * 1024,
	    "max_delivery_size defaults to GitHub's 25 MB");
	is_int(conf->legacy_signatures, 0, "legacy signatures off");
	is_int(conf->auto_approve, 0, "auto_approve off");
	is_int(conf->webhook_secret_len, 12, "secret read, newline stripped");
	ok(memcmp(conf->webhook_secret, SECRET_TEXT, 12) == 0,
	    "secret content");

	printed = print_config(conf);
	ok(strstr(printed, "s3cret") == NULL,
	    "-n output never shows the secret");
	like(printed, "max_delivery_size: 26214400", "-n shows values");
	like(printed, "github:", "-n shows sections");
	like(printed, "(secret read, 12 bytes, not shown)",
	    "-n says the webhook secret was read");
	free(printed);
	config_free(conf);

	cause = try("listen: '[::1]:0'\nstate_dir: /srv/bk\n"
	    "public_url: https://ci.example.org\n"
	    "github:\n  webhook_secret_file: @S@\n  legacy_signatures: yes\n"
	    "  max_delivery_size: 1K\nprojects:\n  auto_approve: True\n",
	    &conf);
	if (!ok(conf != NULL, "full config loads"))
		printf("#   %s\n", cause);
	is_str(conf->listen_host, "::1", "IPv6 host");
	is_str(conf->listen_port, "0", "port 0");
	is_str(conf->pid_file, "/srv/bk/beekeeperd.pid", "pid_file follows");
	is_int(conf->legacy_signatures, 1, "YAML 1.1 'yes'");
	is_int(conf->auto_approve, 1, "YAML 1.1 'True'");
	is_int(conf->max_delivery_size, 1024, "1K is 1024 bytes");
	config_free(conf);

	error_case(WS "listen_on: x\n", 3,
	    "unknown key 'listen_on'", "unknown top-level key, its line");
	error_case(WS "  secret: x\n", 3,
	    "unknown key 'github.secret'", "unknown nested key, its line");
	error_case(WS "projects:\n  auto_approve: maybe\n", 4,
	    "not a boolean", "a boolean that is not one");
	error_case(WS "  max_delivery_size: 12Q\n", 3, "suffix",
	    "a size with a bad unit");
	error_case(WS "  max_delivery_size: 0\n", 3, "must not be 0",
	    "a zero size");
	error_case("listen: localhost\n" WS, 1, "HOST:PORT",
	    "listen without a port");
	error_case("listen: 127.0.0.1:99999\n" WS, 1, "0 to 65535",
	    "port too large");
	error_case("state_dir: var/lib\n" WS, 1, "absolute path",
	    "relative state_dir");
	error_case("public_url: ftp://x\n" WS, 1, "http",
	    "public_url not http");
	error_case("github: yes\n", 1, "must be a mapping",
	    "a section given a value");
	error_case("github:\n  webhook_secret_file: [a, b]\n", 2,
	    "single value", "a list where a value belongs");
	error_case("- a\n- b\n", 1, "must be a mapping", "a list at the top");
	error_case(WS "   bad: [\n", 3, "", "malformed YAML names a line");
	error_case("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n" WS, 2,
	    "set twice", "a key set twice");
	error_case(WS "variables: []\nvariables: []\n", 4,
	    "'variables' is set twice", "variables set twice");
	error_case(WS "profiles:\n  fast:\n    cores: 4\n", 5,
	    "unknown key 'profiles.fast.cores'",
	    "an unknown profile key, its line");
	error_case(WS "profiles:\n  fast: { min: 3, max: 2 }\n", 4,
	    "max must be at least 1 and at least min",
	    "a profile whose max is below its min");
	error_case(WS "profiles:\n  fast: { slots: 0 }\n", 4,
	    "slots: must be at least 1", "a profile with no slots");
	error_is(WS "profiles:\n  fast: { driver: ecs }\n", 4,
	    "profiles.fast.driver: unknown driver 'ecs' (this beekeeperd has: "
	    "local, aws)", "an unknown driver, named with its profile");
	error_case(WS "profiles:\n  fast: { idle_timeout: soon }\n", 4,
	    "not a duration", "an idle timeout that is not a duration");
	error_case(WS "profiles:\n  fast: { slots: many }\n", 4,
	    "not a whole number", "slots that are not a number");
	error_case(WS "profiles:\n  'a/b': { slots: 1 }\n", 4,
	    "is not a name", "a profile name that is not a name");
	error_case("github:\n  webhook_secret_file: /nonexistent/secret\n", 2,
	    "No such file", "a missing secret file");
	error_case("github:\n  webhook_secret_file: @O@\n", 2,
	    "readable by other users (mode 0644); run chmod 600",
	    "a secret file readable by others is refused");
	error_case("github:\n  webhook_secret_file: @G@\n", 2,
	    "other users (mode 0620)", "a group-writable secret is refused");
	error_case("github:\n  webhook_secret_file: @E@\n", 2, "empty",
	    "an empty secret is refused");

	test_github();
	test_projects();
	test_variables();
	test_print();

	cause = try("", &conf);
	ok(conf == NULL && cause != NULL &&
	    strstr(cause, "/etc/beekeeper/webhook-secret") != NULL,
	    "an empty file means defaults, and the default secret is named");
	free(cause);
	config_free(conf);

	conf = config_load("/nonexistent/beekeeperd.yml", &cause);
	ok(conf == NULL && strstr(cause, "/nonexistent/beekeeperd.yml") !=
	    NULL, "a missing config file is named");
	free(cause);

	for (i = 0; i < nitems(files); i++) {
		if (files[i].text == NULL)
			rmdir(files[i].path);
		else
			unlink(files[i].path);
		free(files[i].path);
	}
	unlink(conffile);
	rmdir(dir);
	free(conffile);
	return (done_testing());
}
