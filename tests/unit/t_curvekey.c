/*
 * CURVE key files (common/curvekey.c) and the bus's clients file
 * (daemon/bus-auth.c): what is accepted, and that every refusal names the
 * line. The keys are the examples of zmq_curve(7).
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "tap.h"

#define PUB	"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define SEC	"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
#define PUB2	"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

static int
parse(const char *text, int bare, struct curvekey *k, char **cause)
{
	free(*cause);
	*cause = NULL;
	return (curvekey_parse(text, "F", bare, k, cause));
}

/* Write text to a temporary file and load it as a clients file. */
static struct bus_keys *
clients(const char *text, char **cause)
{
	char		 path[] = "/tmp/t_curvekey.XXXXXX";
	struct bus_keys	*t;
	FILE		*f;
	int		 fd;

	free(*cause);
	*cause = NULL;
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return (NULL);
	fputs(text, f);
	fclose(f);
	t = bus_keys_load(path, cause);
	unlink(path);
	/* The path is random: keep "LINE: reason" only. */
	if (*cause != NULL && strchr(*cause, ':') != NULL)
		memmove(*cause, strchr(*cause, ':') + 1,
		    strlen(strchr(*cause, ':')));
	return (t);
}

int
main(void)
{
	struct curvekey		 k;
	struct bus_keys		*t;
	const struct bus_key	*e;
	char			*cause = NULL;

	ok(curvekey_valid(PUB, strlen(PUB)), "an example key is valid Z85");
	ok(!curvekey_valid(PUB, 39), "39 characters are not a key");
	ok(!curvekey_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI\"", 40),
	    "a character outside Z85 is not a key");

	is_int(parse("# BeeKeeper CURVE key pair. Keep this file secret.\n"
	    "public-key = " PUB "\nsecret-key = " SEC "\n", 0, &k, &cause), 0,
	    "a pair as keygen writes it");
	is_str(k.public, PUB, "its public key");
	is_str(k.secret, SEC, "its secret key");
	is_str(k.server, "", "no server key");
	is_int(parse("public-key=" PUB "\r\n\n  server-key =\t" PUB2 "\n", 0,
	    &k, &cause), 0, "spaces, tabs and CRLF around the members");
	is_str(k.server, PUB2, "the server key");
	is_int(parse(PUB "\n", 1, &k, &cause), 0,
	    "a bare key is a public key when allowed");
	is_str(k.public, PUB, "(that one)");
	is_int(parse(PUB "\n", 0, &k, &cause), -1, "but not otherwise");
	is_str(cause, "F:1: expected public-key, secret-key or server-key = "
	    "KEY", "saying what a line must be");
	is_int(parse("\npublic-key = " PUB "x\n", 0, &k, &cause), -1,
	    "a key of 41 characters");
	is_str(cause, "F:2: public-key is not a Z85 key (40 characters)",
	    "names the line, not what it holds");
	is_int(parse("secret-key = " SEC "\nsecret-key = " SEC "\n", 0, &k,
	    &cause), -1, "a member twice");
	is_str(cause, "F:2: secret-key is set twice", "is refused");
	is_str(k.secret, "", "and no secret is left behind");
	ok(curvekey_is_pair("# x\nsecret-key = y\n"), "a pair file");
	ok(!curvekey_is_pair("0123abcd\n"), "a control key is not one");

	t = clients("# who\n\n" PUB " alice admin\n  " PUB2 "\tbob  viewer\n",
	    &cause);
	ok(t != NULL && t->n == 2, "a clients file with two keys");
	e = bus_keys_find(t, PUB2, NULL);
	ok(e != NULL && strcmp(e->name, "bob") == 0 && !e->admin,
	    "found by key: bob, a viewer");
	e = bus_keys_find(t, NULL, "alice");
	ok(e != NULL && e->admin && e->line == 3,
	    "found by name: alice, an admin, on line 3");
	ok(bus_keys_find(t, NULL, "carol") == NULL, "carol is not there");
	bus_keys_free(t);

	ok(clients(PUB " alice\n", &cause) == NULL, "two words");
	is_str(cause, "1: expected PUBLIC-KEY NAME ROLE, found 2 words",
	    "FILE:LINE: reason");
	ok(clients("\n" PUB " al/ice admin\n", &cause) == NULL, "a bad name");
	like(cause, "2: 'al/ice' is not a name", "is refused on its line");
	ok(clients(PUB " alice root\n", &cause) == NULL, "a bad role");
	is_str(cause, "1: role 'root' is neither admin nor viewer",
	    "is refused");
	ok(clients(PUB " alice admin\n" PUB " bob viewer\n", &cause) == NULL,
	    "a key twice");
	is_str(cause, "2: this key is already on line 1", "is refused");
	ok(clients("short alice admin\n", &cause) == NULL, "not a key");
	like(cause, "1: 'short' is not a public key", "is refused");
	free(cause);
	return (done_testing());
}
