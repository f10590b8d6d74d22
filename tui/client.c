/*
 * The control connection of the beekeeper tool: which endpoint it uses
 * (-c, then BEEKEEPER_CONTROL, then the default), the key (-k, then
 * BEEKEEPER_KEY_FILE, then ~/.config/beekeeper/key if it exists, then
 * the control key in the daemon's default state_dir), one REQ socket,
 * and client_request, one request and its reply, which turns every way a
 * request can go wrong into a sentence on stderr and an exit status.
 *
 * The key file is either the daemon's control key (64 hexadecimal
 * digits, sent as "key" by an admin) or a CURVE key pair written by
 * `beekeeper keygen` (it has a "secret-key =" line): then every socket
 * of the tool, REQ and SUB, is a CURVE client of the server key named by
 * -s, then BEEKEEPER_SERVER_KEY, then the pair file's "server-key =".
 *
 * Invariants:
 * - A missing or wedged daemon never hangs the tool: a reply is awaited
 *   CLIENT_TIMEOUT_MS at most, and the sockets linger 0 ms, so closing
 *   them and terminating the context return at once.
 * - A REQ socket alternates send and receive; after a time-out it is
 *   unusable, and the tool exits, so it is never used again.
 * - Requests carry no "id": REQ matches replies to requests already, and
 *   "id" is also the argument of "build".
 * - The key is a secret: it is sent only with the requests that need it
 *   (commands, and the hello of status, to show the role it gives), never
 *   enters a JSON object, and the tool wipes every buffer of its own that
 *   held it: the file's text, the request once ZeroMQ has sent it, and
 *   the key itself at exit (client_close). A CURVE secret key is kept
 *   in a struct curvekey only, wiped likewise.
 */

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "proto.h"
#include "tui.h"

/* A reply larger than this is refused by ZeroMQ, not buffered. */
#define CLIENT_REPLY_MAX	(64 * 1024 * 1024)

/* The daemon's default state_dir, and the key's name in it. */
#define CLIENT_KEY_FILE		"/var/lib/beekeeper/control.key"
#define CLIENT_KEY_LEN		64	/* hexadecimal digits */
/* The key file looked for in $HOME when none is named. */
#define CLIENT_HOME_KEY		".config/beekeeper/key"

static void		*client_ctx;
static void		*client_req;

static char		 client_key[CLIENT_KEY_LEN + 1];
static int		 client_key_tried;
static char		*client_key_why;	/* why there is none */
static char		*client_key_error;	/* named, but bad */
static int		 client_key_pair;	/* it is a CURVE pair */
static struct curvekey	 client_curve;		/* and .server */

/*
 * The server's public key for a CURVE pair: -s FILE, then
 * BEEKEEPER_SERVER_KEY (a key, or a file holding one), then the pair
 * file's server-key line. 0, or -1 with *cause.
 */
static int
client_server_key(const char *pair, char **cause)
{
	struct curvekey	 k;
	const char	*file = server_key_file, *env;

	env = getenv("BEEKEEPER_SERVER_KEY");
	if (file == NULL && env != NULL && *env != '\0') {
		if (curvekey_valid(env, strlen(env))) {
			util_strlcpy(client_curve.server, env,
			    sizeof client_curve.server);
			return (0);
		}
		file = env;
	}
	if (file != NULL) {
		if (curvekey_read(file, 1, &k, cause) != 0)
			return (-1);
		if (*k.public == '\0') {
			xasprintf(cause, "%s holds no public key (a "
			    "public-key = KEY line, as in the daemon's "
			    "keygen .pub file)", file);
			curvekey_clear(&k);
			return (-1);
		}
		memcpy(client_curve.server, k.public, sizeof k.public);
		curvekey_clear(&k);
		return (0);
	}
	if (*client_curve.server != '\0')
		return (0);
	xasprintf(cause, "%s is a CURVE key pair, but the server's public key "
	    "is not known: name its file with -s or BEEKEEPER_SERVER_KEY, or "
	    "add a server-key = KEY line to %s", pair, pair);
	return (-1);
}

/* A CURVE key pair file's text: keep its keys, with the server's. */
static int
client_pair_load(const char *path, const char *text, char **cause)
{
	client_key_pair = 1;
	if (curvekey_parse(text, path, 0, &client_curve, cause) != 0)
		return (-1);
	if (*client_curve.public == '\0' || *client_curve.secret == '\0') {
		xasprintf(cause, "%s: a key pair needs both public-key and "
		    "secret-key lines", path);
		return (-1);
	}
	return (client_server_key(path, cause));
}

/*
 * Read the key, once. A file named with -k or BEEKEEPER_KEY_FILE, or
 * found at ~/.config/beekeeper/key, must hold one: its problem is kept
 * in client_key_error for client_key_check. Without any, a missing or
 * unreadable default file means no key (a viewer), and is remembered to
 * explain a refusal.
 */
static void
client_key_load(void)
{
	const char	*path = control_key_file, *home;
	char		 homekey[PATH_MAX];
	char		*text, *cause = NULL;
	size_t		 len;
	int		 named = 1;

	if (client_key_tried)
		return;
	client_key_tried = 1;
	if (path == NULL && ((path = getenv("BEEKEEPER_KEY_FILE")) == NULL ||
	    *path == '\0')) {
		path = CLIENT_KEY_FILE;
		named = 0;
		if ((home = getenv("HOME")) != NULL && *home != '\0' &&
		    (size_t)snprintf(homekey, sizeof homekey, "%s/%s", home,
		    CLIENT_HOME_KEY) < sizeof homekey &&
		    access(homekey, F_OK) == 0) {
			path = homekey;
			named = 1;
		}
	}
	if ((text = util_read_file(path, 4096, &len, &cause)) != NULL) {
		if (curvekey_is_pair(text))
			client_pair_load(path, text, &cause);
		else {
			while (len > 0 && (text[len - 1] == '\n' ||
			    text[len - 1] == '\r'))
				text[--len] = '\0';
			if (len == CLIENT_KEY_LEN &&
			    strspn(text, "0123456789abcdef") == len)
				memcpy(client_key, text, len + 1);
			else
				xasprintf(&cause, "%s does not hold a control "
				    "key (%d hexadecimal digits) or a key pair "
				    "(beekeeper keygen)", path,
				    CLIENT_KEY_LEN);
		}
		freezero(text, len + 1);
	}
	if (cause == NULL)
		return;
	curvekey_clear(&client_curve);
	if (named || client_key_pair)
		client_key_error = cause;
	else
		client_key_why = cause;
}

/*
 * May a request go? A broken key pair stops every request (none could
 * get through the handshake); a control key that cannot be read stops
 * the requests that would have sent it. 0, or -1 said why.
 */
static int
client_key_check(int admin)
{
	client_key_load();
	if (client_key_error == NULL || (!admin && !client_key_pair))
		return (0);
	fprintf(stderr, "beekeeper: cannot read the %s: %s\n",
	    client_key_pair ? "key pair" : "control key", client_key_error);
	return (-1);
}

/*
 * Make sock a CURVE client when the key is a pair; nothing otherwise.
 * 0, or -1 said why. For the REQ socket and for watch's SUB.
 */
int
client_secure(void *sock)
{
	if (client_key_check(0) != 0)
		return (-1);
	if (*client_curve.secret == '\0')
		return (0);
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, client_curve.server,
	    CURVEKEY_Z85) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, client_curve.public,
	    CURVEKEY_Z85) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, client_curve.secret,
	    CURVEKEY_Z85) != 0) {
		fprintf(stderr, "beekeeper: cannot use CURVE: %s (is libzmq "
		    "built with it?)\n", zmq_strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * The request as sent: REQ's JSON, with the key as its first member when
 * ADMIN and there is one. The caller's to freezero.
 */
static char *
client_encode(json_t *req, int admin, size_t *lenp)
{
	char	*text, *out;

	if ((text = json_dumps(req, JSON_COMPACT)) == NULL || *text != '{')
		fatalx("cannot encode a request");
	if (!admin || *client_key == '\0') {
		*lenp = strlen(text);
		return (text);
	}
	/* Hexadecimal digits need no escaping. */
	*lenp = xasprintf(&out, "{\"key\":\"%s\"%s%s", client_key,
	    text[1] == '}' ? "" : ",", text + 1);
	free(text);
	return (out);
}

/* ZeroMQ is done with a request it sent without copying: wipe it. */
static void
client_wipe(void *data, void *hint)
{
	freezero(data, (size_t)(uintptr_t)hint);
}

/* The endpoint of the control socket, by precedence. */
const char *
client_endpoint(void)
{
	const char	*s;

	if (control_endpoint != NULL)
		return (control_endpoint);
	if ((s = getenv("BEEKEEPER_CONTROL")) != NULL && *s != '\0')
		return (s);
	return (PROTO_CONTROL_DEFAULT);
}

/* The tool's one ZeroMQ context, made on first use. */
void *
client_context(void)
{
	if (client_ctx == NULL && (client_ctx = zmq_ctx_new()) == NULL)
		fatal("zmq_ctx_new");
	return (client_ctx);
}

/* Connect the REQ socket, once; 0, or -1 with the reason said. */
static int
client_connect(void)
{
	const char	*endpoint = client_endpoint();
	int		 linger = 0, timeout = CLIENT_TIMEOUT_MS;
	int64_t		 max = CLIENT_REPLY_MAX;

	if (client_req != NULL)
		return (0);
	if ((client_req = zmq_socket(client_context(), ZMQ_REQ)) == NULL)
		fatal("zmq_socket");
	if (client_secure(client_req) != 0)
		return (-1);
	if (zmq_setsockopt(client_req, ZMQ_LINGER, &linger,
	    sizeof linger) != 0 ||
	    zmq_setsockopt(client_req, ZMQ_RCVTIMEO, &timeout,
	    sizeof timeout) != 0 ||
	    zmq_setsockopt(client_req, ZMQ_SNDTIMEO, &timeout,
	    sizeof timeout) != 0 ||
	    zmq_setsockopt(client_req, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0)
		fatal("zmq_setsockopt");
	if (zmq_connect(client_req, endpoint) != 0) {
		fprintf(stderr, "beekeeper: cannot reach beekeeperd at %s: "
		    "%s (an endpoint is tcp://HOST:PORT or ipc://PATH)\n",
		    endpoint, zmq_strerror(errno));
		return (-1);
	}
	return (0);
}

/* A refused CURVE handshake is silence too: say so. */
static int
client_no_answer(void)
{
	fprintf(stderr, "beekeeper: cannot reach beekeeperd at %s: no answer "
	    "in %d s%s\n", client_endpoint(), CLIENT_TIMEOUT_MS / 1000,
	    client_key_pair ? " (with CURVE, a key the daemon does not know "
	    "or a wrong server key also looks like this)" : "");
	return (EXIT_UNREACHABLE);
}

/*
 * Send REQ (borrowed), with the control key if ADMIN, and wait for its
 * reply. On success return 0 with the reply in *REPLYP, the caller's to
 * json_decref. Otherwise say why on stderr and return the exit status:
 * EXIT_REFUSED with the daemon's own sentence, EXIT_UNREACHABLE when
 * nothing sensible came back in time.
 */
int
client_request(json_t *req, int admin, json_t **replyp)
{
	zmq_msg_t	 msg, out;
	json_error_t	 jerr;
	json_t		*reply, *ok;
	const char	*error;
	char		*text;
	size_t		 len;
	int		 n;

	*replyp = NULL;
	if (client_key_check(admin) != 0)
		return (EXIT_REFUSED);
	if (client_connect() != 0)
		return (EXIT_UNREACHABLE);
	text = client_encode(req, admin, &len);
	if (zmq_msg_init_data(&out, text, len, client_wipe,
	    (void *)(uintptr_t)(len + 1)) != 0)
		fatal("zmq_msg_init_data");
	while ((n = zmq_msg_send(&out, client_req, 0)) == -1 &&
	    errno == EINTR)
		continue;
	if (n == -1) {
		zmq_msg_close(&out);
		return (client_no_answer());
	}

	zmq_msg_init(&msg);
	while ((n = zmq_msg_recv(&msg, client_req, 0)) == -1 &&
	    errno == EINTR)
		continue;
	if (n == -1) {
		zmq_msg_close(&msg);
		return (client_no_answer());
	}
	reply = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg),
	    JSON_REJECT_DUPLICATES, &jerr);
	zmq_msg_close(&msg);
	if (reply == NULL || !json_is_object(reply) ||
	    !json_is_boolean(ok = json_object_get(reply, "ok"))) {
		fprintf(stderr, "beekeeper: beekeeperd at %s answered with "
		    "something that is not a reply%s%s\n", client_endpoint(),
		    reply == NULL ? ": " : "", reply == NULL ? jerr.text : "");
		json_decref(reply);
		return (EXIT_UNREACHABLE);
	}
	if (json_is_false(ok)) {
		error = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "beekeeper: %s\n", error != NULL ? error :
		    "refused, without saying why");
		if (admin && *client_key == '\0' && client_key_why != NULL)
			fprintf(stderr, "beekeeper: no control key was sent: "
			    "%s (name its file with -k or BEEKEEPER_KEY_FILE)"
			    "\n", client_key_why);
		json_decref(reply);
		return (EXIT_REFUSED);
	}
	*replyp = reply;
	return (0);
}

/*
 * An argument as the daemon should see it: a JSON integer when it is a
 * decimal number, else the string as given, so that the daemon, which
 * knows the ranges, refuses it in its own words.
 */
json_t *
client_number(const char *s)
{
	char		*end;
	long long	 n;

	if (*s >= '0' && *s <= '9') {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return (json_integer(n));
	}
	return (json_string(s));
}

/* A reply (or any document) as --json prints it: indented, or one line. */
void
client_print_json(const json_t *doc, int one_line)
{
	json_dumpf(doc, stdout, one_line ? JSON_COMPACT : JSON_INDENT(2));
	fputc('\n', stdout);
	fflush(stdout);
}

/* Close the socket and the context, wipe the key; safe to repeat. */
void
client_close(void)
{
	explicit_bzero(client_key, sizeof client_key);
	curvekey_clear(&client_curve);
	free(client_key_why);
	client_key_why = NULL;
	free(client_key_error);
	client_key_error = NULL;
	if (client_req != NULL) {
		zmq_close(client_req);
		client_req = NULL;
	}
	if (client_ctx != NULL) {
		zmq_ctx_term(client_ctx);
		client_ctx = NULL;
	}
}

/*
 * For the console, which sends requests from its own event loop: read
 * the key now, so that a bad -k is said before the screen is taken; 0,
 * or -1 said on stderr.
 */
int
client_key_ready(void)
{
	return (client_key_check(0));
}

/* Whether the key read is a CURVE key pair (the daemon then knows us by it). */
int
client_has_pair(void)
{
	return (*client_curve.secret != '\0');
}

/* Whether a key was read: the console acts as an admin only with one. */
int
client_has_key(void)
{
	return (*client_key != '\0');
}

/*
 * Send REQ (borrowed) as the last frame of a message on SOCK, with the
 * key when ADMIN, the buffer wiped once ZeroMQ is done with it, without
 * waiting: 0, or -1 with errno (EAGAIN when it would block).
 */
int
client_send(void *sock, json_t *req, int admin)
{
	zmq_msg_t	 out;
	char		*text;
	size_t		 len;

	text = client_encode(req, admin, &len);
	if (zmq_msg_init_data(&out, text, len, client_wipe,
	    (void *)(uintptr_t)(len + 1)) != 0)
		fatal("zmq_msg_init_data");
	if (zmq_msg_send(&out, sock, ZMQ_DONTWAIT) == -1) {
		zmq_msg_close(&out);
		return (-1);
	}
	return (0);
}
