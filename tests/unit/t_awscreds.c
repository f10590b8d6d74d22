/*
 * AWS credentials without the network: the INI reader for AWS's shared
 * files, and the order environment, shared credentials file, shared
 * config file, with profiles and the half-set cases that must be errors.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

static const char ini[] =
    "# AWS's shared credentials\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key=secret/default\n"
    "\n"
    "; another comment\n"
    "[ci]\n"
    "  aws_access_key_id = NESTED\n"
    "aws_access_key_id\t=\tAKIDCI  \n"
    "s3 =\n"
    "  max_concurrent_requests = 20\n"
    "aws_secret_access_key = secret=ci\n"
    "aws_session_token = TOKENCI\n"
    "[profile other]\n"
    "region = eu-west-1\n";

static void
check_ini(void)
{
	char	*v;

	v = aws_ini_get(ini, "default", "aws_access_key_id");
	is_str(v, "AKIDDEFAULT", "a key of the default section");
	free(v);
	v = aws_ini_get(ini, "default", "aws_secret_access_key");
	is_str(v, "secret/default", "a value with no spaces around '='");
	free(v);
	v = aws_ini_get(ini, "ci", "aws_access_key_id");
	is_str(v, "AKIDCI", "indented (nested) lines are not the section's; "
	    "tabs and trailing blanks are trimmed");
	free(v);
	v = aws_ini_get(ini, "ci", "aws_secret_access_key");
	is_str(v, "secret=ci", "a value may hold '='");
	free(v);
	v = aws_ini_get(ini, "ci", "max_concurrent_requests");
	ok(v == NULL, "a nested setting is not a key of the section");
	free(v);
	v = aws_ini_get(ini, "profile other", "region");
	is_str(v, "eu-west-1", "a config file's \"profile NAME\" section");
	free(v);
	v = aws_ini_get(ini, "missing", "region");
	ok(v == NULL, "a missing section has no keys");
	free(v);
}

static char	 dir[] = "/tmp/t_awscreds.XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

static void
expect(const char *profile, const char *id, const char *token,
    const char *source, const char *cause_part, const char *name)
{
	struct aws_creds	*c;
	char			*cause = NULL;

	c = aws_creds_static(profile, &cause);
	if (id == NULL && cause_part == NULL) {
		ok(c == NULL && cause == NULL, name);
	} else if (id == NULL) {
		if (!ok(c == NULL && cause != NULL && strstr(cause,
		    cause_part) != NULL, name))
			printf("#   cause: %s\n", cause != NULL ? cause :
			    "(none)");
	} else if (ok(c != NULL, name)) {
		is_str(c->access_key, id, "  its access key id");
		is_str(c->token, token, "  its session token");
		ok(strstr(c->source, source) != NULL, "  its source");
		ok(strstr(c->source, c->secret_key) == NULL,
		    "  the source does not show the secret");
	}
	aws_creds_free(c);
	free(cause);
}

static void
check_order(void)
{
	char	*path;

	if (!ok(mkdtemp(dir) != NULL, "a temporary directory"))
		return;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("HOME", dir, 1);
	xasprintf(&path, "%s/credentials", dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	free(path);
	xasprintf(&path, "%s/config", dir);
	setenv("AWS_CONFIG_FILE", path, 1);
	free(path);

	expect(NULL, NULL, NULL, NULL, NULL, "no files, no environment: "
	    "none, and no error");
	write_file("credentials", ini);
	write_file("config",
	    "[default]\nregion = us-east-1\n"
	    "[profile other]\naws_access_key_id = AKIDOTHER\n"
	    "aws_secret_access_key = secret-other\n"
	    "[profile half]\naws_access_key_id = AKIDHALF\n");
	expect(NULL, "AKIDDEFAULT", NULL, "profile default in", NULL,
	    "the default profile of the credentials file");
	expect("ci", "AKIDCI", "TOKENCI", "profile ci in", NULL,
	    "a named profile, with its session token");
	setenv("AWS_PROFILE", "ci", 1);
	expect(NULL, "AKIDCI", "TOKENCI", "profile ci", NULL,
	    "AWS_PROFILE names the profile");
	expect("other", "AKIDOTHER", NULL, "/config", NULL,
	    "a profile only in the config file ([profile NAME])");
	expect("half", NULL, NULL, NULL, "has aws_access_key_id but not "
	    "aws_secret_access_key", "a profile with half its keys is an "
	    "error that says which is missing");
	expect("nowhere", NULL, NULL, NULL, NULL,
	    "a profile in neither file: none");

	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	expect("ci", NULL, NULL, NULL, "AWS_SECRET_ACCESS_KEY is not",
	    "only the key id in the environment is an error");
	setenv("AWS_SECRET_ACCESS_KEY", "secret-env", 1);
	expect("ci", "AKIDENV", NULL, "the environment", NULL,
	    "the environment comes before the files");
	setenv("AWS_SESSION_TOKEN", "TOKENENV", 1);
	expect(NULL, "AKIDENV", "TOKENENV", "the environment", NULL,
	    "with AWS_SESSION_TOKEN");

	xasprintf(&path, "%s/credentials", dir);
	unlink(path);
	free(path);
	xasprintf(&path, "%s/config", dir);
	unlink(path);
	free(path);
	rmdir(dir);
}

int
main(void)
{
	check_ini();
	check_order();
	done_testing();
}
