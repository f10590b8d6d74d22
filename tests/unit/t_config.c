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

static char	 dir[] = "/tmp/t_config.XXXXXX";
static char	*secret, *conffile;

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

/* Replace each @S@ in text by the secret file's path. */
static char *
subst(const char *text)
{
	struct buf	 b;
	const char	*p;

	buf_init(&b, 0);
	while ((p = strstr(text, "@S@")) != NULL) {
		buf_add(&b, text, p - text);
		buf_addstr(&b, secret);
		text = p + 3;
	}
	buf_addstr(&b, text);
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

int
main(void)
{
	struct config	*conf;
	char		*cause, *printed, *secret2;
	size_t		 len;
	FILE		*f;

	if (mkdtemp(dir) == NULL)
		return (1);
	xasprintf(&secret, "%s/secret", dir);
	xasprintf(&secret2, "%s/secret-open", dir);
	xasprintf(&conffile, "%s/beekeeperd.yml", dir);
	write_file(secret, "s3cret-value\n", 0600);

	cause = try("github:\n  webhook_secret_file: @S@\n", &conf);
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
	ok(memcmp(conf->webhook_secret, "s3cret-value", 12) == 0,
	    "secret content");

	f = open_memstream(&printed, &len);
	config_print(conf, f);
	fclose(f);
	ok(strstr(printed, "s3cret") == NULL, "-n output never shows the secret");
	like(printed, "max_delivery_size: 26214400", "-n shows values");
	like(printed, "github:", "-n shows sections");
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

	error_case("github:\n  webhook_secret_file: @S@\nlisten_on: x\n", 3,
	    "unknown key 'listen_on'", "unknown top-level key, its line");
	error_case("github:\n  webhook_secret_file: @S@\n  secret: x\n", 3,
	    "unknown key 'github.secret'", "unknown nested key, its line");
	error_case("github:\n  webhook_secret_file: @S@\nprojects:\n"
	    "  auto_approve: maybe\n", 4, "not a boolean",
	    "a boolean that is not one");
	error_case("github:\n  webhook_secret_file: @S@\n"
	    "  max_delivery_size: 12Q\n", 3, "suffix", "a size with a bad unit");
	error_case("github:\n  webhook_secret_file: @S@\n"
	    "  max_delivery_size: 0\n", 3, "must not be 0", "a zero size");
	error_case("listen: localhost\ngithub:\n  webhook_secret_file: @S@\n",
	    1, "HOST:PORT", "listen without a port");
	error_case("listen: 127.0.0.1:99999\ngithub:\n"
	    "  webhook_secret_file: @S@\n", 1, "0 to 65535", "port too large");
	error_case("state_dir: var/lib\ngithub:\n  webhook_secret_file: @S@\n",
	    1, "absolute path", "relative state_dir");
	error_case("public_url: ftp://x\ngithub:\n  webhook_secret_file: @S@\n",
	    1, "http", "public_url not http");
	error_case("github: yes\n", 1, "must be a mapping",
	    "a section given a value");
	error_case("github:\n  webhook_secret_file: [a, b]\n", 2,
	    "single value", "a list where a value belongs");
	error_case("- a\n- b\n", 1, "must be a mapping", "a list at the top");
	error_case("github:\n  webhook_secret_file: @S@\n   bad: [\n", 3, "",
	    "malformed YAML names a line");
	error_case("listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\ngithub:\n"
	    "  webhook_secret_file: @S@\n", 2, "set twice", "a key set twice");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast:\n    cores: 4\n", 5, "unknown key 'profiles.fast.cores'",
	    "an unknown profile key, its line");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast: { min: 3, max: 2 }\n", 4, "max must be at least 1 and "
	    "at least min", "a profile whose max is below its min");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast: { slots: 0 }\n", 4, "slots: must be at least 1",
	    "a profile with no slots");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast: { driver: ecs }\n", 4, "unknown driver 'ecs'",
	    "an unknown driver");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast: { idle_timeout: soon }\n", 4, "not a duration",
	    "an idle timeout that is not a duration");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  fast: { slots: many }\n", 4, "not a whole number",
	    "slots that are not a number");
	error_case("github:\n  webhook_secret_file: @S@\nprofiles:\n"
	    "  'a/b': { slots: 1 }\n", 4, "is not a name",
	    "a profile name that is not a name");
	error_case("github:\n  webhook_secret_file: /nonexistent/secret\n", 2,
	    "No such file", "a missing secret file");

	write_file(secret2, "open\n", 0644);
	free(secret);
	secret = secret2;
	error_case("github:\n  webhook_secret_file: @S@\n", 2,
	    "readable by other users (mode 0644); run chmod 600",
	    "a secret file readable by others is refused");
	chmod(secret, 0620);
	error_case("github:\n  webhook_secret_file: @S@\n", 2,
	    "other users (mode 0620)", "a group-writable secret is refused");
	write_file(secret, "\n", 0600);
	error_case("github:\n  webhook_secret_file: @S@\n", 2, "empty",
	    "an empty secret is refused");

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

	unlink(secret);
	unlink(conffile);
	unlink(secret);
	rmdir(dir);
	free(secret);
	free(conffile);
	return (done_testing());
}
