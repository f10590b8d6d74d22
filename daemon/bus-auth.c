/*
 * Who may use the bus, and who is on it. This file owns the control key
 * (STATE_DIR/control.key), which makes an admin of a request without
 * CURVE. With bus.curve_secret_key_file set, both bus sockets are CURVE
 * servers, and this file also owns:
 *
 * - the clients table, read from bus.clients_file ("PUBLIC-KEY NAME
 *   ROLE" lines) as part of the configuration, so SIGHUP replaces it
 *   with the rest, or keeps it with the rest when the new file is
 *   broken;
 * - the ZAP handler (RFC 27), a REP socket on inproc://zeromq.zap.01 in
 *   the bus's context, served by the daemon's loop like any socket: a
 *   key in the table is accepted with its name as the User-Id, any other
 *   key, and any mechanism but CURVE, is refused and logged;
 * - the subscriber count, from a monitor of the PUB socket.
 *
 * Invariants:
 * - The table in use is always the running configuration's: a key
 *   removed by a reload cannot start a new connection, and bus-cmd.c
 *   looks each request's User-Id up again, so it cannot act either.
 * - A public key is not a secret and may be logged; the daemon's secret
 *   key is never logged.
 * - A subscriber counts from its handshake's success until its
 *   connection goes; never more are counted than are connected.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <zmq.h>

#include "daemon.h"

#define BUS_CLIENTS_MAX		(1024 * 1024)
#define BUS_NAME_CHARS		CONFIG_ALNUM "._@-"
#define BUS_ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define BUS_MONITOR_ENDPOINT	"inproc://beekeeper.monitor.publish"
#define BUS_ZAP_FRAMES		7
#define BUS_ZAP_DOMAIN		"beekeeper"
#define BUS_KEY_FILE		"control.key"
#define BUS_KEY_BYTES		32

struct bus_auth {
	struct ev_loop		*loop;
	const struct config	**conf;
	void			*zap;
	struct ev_io		*zap_io;
	void			*monitor;
	struct ev_io		*monitor_io;
	struct bus_conn		*conns;		/* to PUB */
	size_t			 nconns;
	char			 key[BUS_KEY_BYTES * 2 + 1];
};

/* A connection to the PUB socket, by its fd, and how its handshake went. */
struct bus_conn {
	int			 fd;
	enum { CONN_PENDING, CONN_OK, CONN_FAILED } state;
};

/*
 * The control key: whoever sends it may act, everyone else only looks.
 * It lives in STATE_DIR/control.key (mode 0600), which tasks cannot see
 * (the sandbox hides the state directory), so a task reaching the control
 * socket on loopback can read the state but not change it. Kept across
 * restarts so operators' scripts keep working.
 */
static int
bus_auth_key_load(struct bus_auth *a, const char *state_dir, char **cause)
{
	unsigned char	 raw[BUS_KEY_BYTES];
	char		*path, *text = NULL, *tmp, *err = NULL;
	size_t		 len = 0;
	int		 fd, rv = -1;

	xasprintf(&path, "%s/%s", state_dir, BUS_KEY_FILE);
	if ((text = util_read_file(path, 256, &len, &err)) != NULL) {
		while (len > 0 && (text[len - 1] == '\n' ||
		    text[len - 1] == '\r'))
			text[--len] = '\0';
		if (len == BUS_KEY_BYTES * 2 &&
		    strspn(text, "0123456789abcdef") == len) {
			memcpy(a->key, text, len + 1);
			rv = 0;
			goto out;
		}
		log_warn("bus: %s is not a key; making a new one", path);
	}
	free(err);
	if (RAND_bytes(raw, sizeof raw) != 1) {
		xasprintf(cause, "bus: cannot make a control key: no "
		    "randomness");
		goto out;
	}
	util_hex_encode(raw, sizeof raw, a->key, sizeof a->key);
	explicit_bzero(raw, sizeof raw);
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || write(fd, a->key, strlen(a->key)) !=
	    (ssize_t)strlen(a->key) || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		xasprintf(cause, "bus: cannot write %s: %s", path,
		    strerror(errno));
		unlink(tmp);
		free(tmp);
		goto out;
	}
	free(tmp);
	log_info("bus: made a control key in %s", path);
	rv = 0;
out:
	if (text != NULL)
		freezero(text, len + 1);
	free(path);
	return (rv);
}

/* Does a request carry the control key? */
int
bus_auth_is_admin(struct bus_auth *a, const char *key)
{
	size_t	 n = strlen(a->key);

	return (key != NULL && n > 0 && strlen(key) == n &&
	    CRYPTO_memcmp(key, a->key, n) == 0);
}

/* Split "A B C" on blanks into at most n words; the count found. */
static size_t
bus_words(char *line, char **w, size_t n)
{
	size_t	 i = 0;

	while (*line != '\0') {
		line += strspn(line, " \t");
		if (*line == '\0')
			break;
		if (i == n)
			return (n + 1);
		w[i++] = line;
		line += strcspn(line, " \t");
		if (*line != '\0')
			*line++ = '\0';
	}
	return (i);
}

/*
 * Read a clients file into a table; NULL with "FILE:LINE: reason" in
 * *cause if any line is wrong, so a typo never locks an operator out
 * or in without a word.
 */
struct bus_keys *
bus_keys_load(const char *path, char **cause)
{
	struct bus_keys	*t;
	struct bus_key	*k;
	char		*text, *line, *next, *w[3], *err = NULL;
	size_t		 len, n, i, lineno = 0;

	if ((text = util_read_file(path, BUS_CLIENTS_MAX, &len, &err)) ==
	    NULL) {
		xasprintf(cause, "bus.clients_file: %s", err);
		free(err);
		return (NULL);
	}
	t = xcalloc(1, sizeof *t);
	for (line = text; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		line += strspn(line, " \t");
		if (*line == '\0' || *line == '#')
			continue;
		if ((n = bus_words(line, w, 3)) != 3) {
			xasprintf(cause, "%s:%zu: expected PUBLIC-KEY NAME "
			    "ROLE, found %zu word%s", path, lineno, n,
			    n == 1 ? "" : "s");
			goto fail;
		}
		if (!curvekey_valid(w[0], strlen(w[0]))) {
			xasprintf(cause, "%s:%zu: '%.64s' is not a public key "
			    "(%d Z85 characters, as beekeeper keygen prints)",
			    path, lineno, w[0], CURVEKEY_Z85);
			goto fail;
		}
		if (strspn(w[1], BUS_NAME_CHARS) != strlen(w[1]) ||
		    strlen(w[1]) > 64) {
			xasprintf(cause, "%s:%zu: '%.64s' is not a name "
			    "(letters, digits, '.', '_', '@' and '-', 64 at "
			    "most)", path, lineno, w[1]);
			goto fail;
		}
		if (strcmp(w[2], "admin") != 0 && strcmp(w[2], "viewer") != 0) {
			xasprintf(cause, "%s:%zu: role '%.64s' is neither "
			    "admin nor viewer", path, lineno, w[2]);
			goto fail;
		}
		for (i = 0; i < t->n; i++) {
			if (strcmp(t->keys[i].public, w[0]) == 0 ||
			    strcmp(t->keys[i].name, w[1]) == 0) {
				xasprintf(cause, "%s:%zu: %s is already on "
				    "line %zu", path, lineno,
				    strcmp(t->keys[i].name, w[1]) == 0 ?
				    "this name" : "this key", t->keys[i].line);
				goto fail;
			}
		}
		t->keys = xreallocarray(t->keys, t->n + 1, sizeof *t->keys);
		k = &t->keys[t->n++];
		memcpy(k->public, w[0], CURVEKEY_Z85 + 1);
		k->name = xstrdup(w[1]);
		k->admin = strcmp(w[2], "admin") == 0;
		k->line = lineno;
	}
	free(text);
	return (t);

fail:
	free(text);
	bus_keys_free(t);
	return (NULL);
}

void
bus_keys_free(struct bus_keys *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		free(t->keys[i].name);
	free(t->keys);
	free(t);
}

/* The entry of a public key (Z85), or of a name; NULL if none. */
const struct bus_key *
bus_keys_find(const struct bus_keys *t, const char *public,
    const char *name)
{
	size_t	 i;

	for (i = 0; t != NULL && i < t->n; i++) {
		if ((public != NULL &&
		    strcmp(t->keys[i].public, public) == 0) ||
		    (name != NULL && strcmp(t->keys[i].name, name) == 0))
			return (&t->keys[i]);
	}
	return (NULL);
}

/* A frame's bytes as a short printable string, for a log line. */
static char *
bus_frame_text(zmq_msg_t *m)
{
	const char	*p = zmq_msg_data(m);
	char		*s;
	size_t		 i, n = zmq_msg_size(m);

	s = xstrndup(p, n > 64 ? 64 : n);
	for (i = 0; s[i] != '\0'; i++) {
		if ((u_char)s[i] < ' ' || (u_char)s[i] >= 0x7f)
			s[i] = '?';
	}
	return (s);
}

/*
 * Decide one ZAP request: 200 with the client's name as User-Id, or 400.
 * Frames: version, request id, domain, address, routing id, mechanism,
 * credentials (for CURVE, the client's 32-byte public key).
 */
static void
bus_zap_answer(struct bus_auth *a, zmq_msg_t *f, size_t n)
{
	const struct bus_key	*k = NULL;
	const char		*status = "400", *text, *user = "";
	char			 public[CURVEKEY_Z85 + 1] = "";
	char			*addr, *mech;

	addr = n > 3 ? bus_frame_text(&f[3]) : xstrdup("?");
	mech = n > 5 ? bus_frame_text(&f[5]) : xstrdup("?");
	if (n != BUS_ZAP_FRAMES || zmq_msg_size(&f[0]) != 3 ||
	    memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0)
		text = "malformed ZAP request";
	else if (strcmp(mech, "CURVE") != 0) {
		text = "this bus requires CURVE";
		log_warn("bus: refused a %s connection from %s: the bus "
		    "requires CURVE keys", mech, addr);
	} else if (zmq_msg_size(&f[6]) != 32 ||
	    zmq_z85_encode(public, zmq_msg_data(&f[6]), 32) == NULL)
		text = "malformed CURVE credentials";
	else if ((k = bus_keys_find((*a->conf)->bus_keys, public,
	    NULL)) == NULL) {
		text = "unknown key";
		log_warn("bus: refused a connection from %s: public key %s "
		    "is not in %s", addr, public,
		    (*a->conf)->bus_clients_file != NULL ?
		    (*a->conf)->bus_clients_file : "bus.clients_file");
	} else {
		status = "200";
		text = "OK";
		user = k->name;
		log_debug("bus: %s (%s) connected from %s", k->name,
		    k->admin ? "admin" : "viewer", addr);
	}
	free(addr);
	free(mech);
	/* A REP socket must answer before it can read the next request. */
	zmq_send(a->zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(a->zap, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ?
	    zmq_msg_size(&f[1]) : 0, ZMQ_SNDMORE);
	zmq_send(a->zap, status, 3, ZMQ_SNDMORE);
	zmq_send(a->zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(a->zap, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(a->zap, "", 0, 0);
}

static void
bus_zap_readable(struct ev_loop *loop, int fd, void *arg)
{
	struct bus_auth	*a = arg;
	zmq_msg_t	 f[BUS_ZAP_FRAMES + 1];
	size_t		 n, i;
	int		 more, turns = 0;

	(void)loop;
	(void)fd;
	while (turns++ < 64) {
		for (n = 0; n < nitems(f); ) {
			zmq_msg_init(&f[n]);
			if (zmq_msg_recv(&f[n], a->zap, ZMQ_DONTWAIT) == -1) {
				zmq_msg_close(&f[n]);
				break;
			}
			more = zmq_msg_more(&f[n]);
			/* Extra frames are dropped; the count says so. */
			if (n < BUS_ZAP_FRAMES || !more)
				n++;
			else
				zmq_msg_close(&f[n]);
			if (!more)
				break;
		}
		if (n == 0)
			return;
		bus_zap_answer(a, f, n);
		for (i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	}
}

/*
 * One monitor event. Only ACCEPTED and DISCONNECTED name the connection
 * (by fd); a handshake's outcome does not, so it is given to the oldest
 * connection still waiting for one. Handshakes end in about the order
 * they start, and an error cannot outlive the connection it went to:
 * the count is never more than the connections open.
 */
static void
bus_monitor_event(struct bus_auth *a, uint16_t event, uint32_t value)
{
	size_t	 i;

	switch (event) {
	case ZMQ_EVENT_ACCEPTED:
		a->conns = xreallocarray(a->conns, a->nconns + 1,
		    sizeof *a->conns);
		a->conns[a->nconns].fd = value;
		a->conns[a->nconns++].state = CONN_PENDING;
		return;
	case ZMQ_EVENT_DISCONNECTED:
		for (i = 0; i < a->nconns; i++) {
			if (a->conns[i].fd == (int)value) {
				memmove(&a->conns[i], &a->conns[i + 1],
				    (a->nconns - i - 1) * sizeof *a->conns);
				a->nconns--;
				return;
			}
		}
		return;
	}
	for (i = 0; i < a->nconns; i++) {
		if (a->conns[i].state == CONN_PENDING) {
			a->conns[i].state = event ==
			    ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? CONN_OK :
			    CONN_FAILED;
			return;
		}
	}
}

/* A monitor event: [event (2 bytes), value (4 bytes)], [endpoint]. */
static void
bus_monitor_readable(struct ev_loop *loop, int fd, void *arg)
{
	struct bus_auth	*a = arg;
	zmq_msg_t	 m;
	uint16_t	 event = 0;
	uint32_t	 value = 0;
	int		 more, ok;

	(void)loop;
	(void)fd;
	for (;;) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, a->monitor, ZMQ_DONTWAIT) == -1) {
			zmq_msg_close(&m);
			return;
		}
		if ((ok = zmq_msg_size(&m) == 6)) {
			memcpy(&event, zmq_msg_data(&m), 2);
			memcpy(&value, (char *)zmq_msg_data(&m) + 2, 4);
		}
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
		while (more) {
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, a->monitor, 0) == -1)
				more = 0;
			else
				more = zmq_msg_more(&m);
			zmq_msg_close(&m);
		}
		if (ok)
			bus_monitor_event(a, event, value);
	}
}

/* How many subscribers the PUB socket has, handshake done. */
size_t
bus_auth_subscribers(struct bus_auth *a)
{
	size_t	 i, n = 0;

	for (i = 0; a != NULL && i < a->nconns; i++) {
		if (a->conns[i].state == CONN_OK)
			n++;
	}
	return (n);
}

/*
 * Make sock a CURVE server with secret (Z85), answered by the ZAP
 * handler: called on both bus sockets before they bind.
 */
int
bus_auth_server(void *sock, const char *secret, char **cause)
{
	int	 one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret,
	    CURVEKEY_Z85) != 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, BUS_ZAP_DOMAIN,
	    strlen(BUS_ZAP_DOMAIN)) != 0) {
		xasprintf(cause, "bus: cannot be a CURVE server: %s (is "
		    "libzmq built with CURVE?)", zmq_strerror(errno));
		return (-1);
	}
	return (0);
}

/*
 * Load the control key, start the ZAP handler (with CURVE) and the
 * monitor of pub, in ctx.
 * The handler must be bound before the sockets it guards bind: libzmq
 * lets every client in when there is none.
 */
struct bus_auth *
bus_auth_create(struct ev_loop *loop, void *ctx, void *pub,
    const struct config **conf, char **cause)
{
	struct bus_auth	*a;
	int		 zero = 0;

	a = xcalloc(1, sizeof *a);
	a->loop = loop;
	a->conf = conf;
	if (bus_auth_key_load(a, (*conf)->state_dir, cause) != 0) {
		bus_auth_free(a);
		return (NULL);
	}
	if ((*conf)->bus_curve_key_file != NULL) {
		if ((a->zap = zmq_socket(ctx, ZMQ_REP)) == NULL ||
		    zmq_setsockopt(a->zap, ZMQ_LINGER, &zero,
		    sizeof zero) != 0 ||
		    zmq_bind(a->zap, BUS_ZAP_ENDPOINT) != 0) {
			xasprintf(cause, "bus: cannot start the ZAP handler: "
			    "%s", zmq_strerror(errno));
			bus_auth_free(a);
			return (NULL);
		}
		a->zap_io = ev_zmq_add(loop, a->zap, EV_READ,
		    bus_zap_readable, a);
	}
	if (zmq_socket_monitor(pub, BUS_MONITOR_ENDPOINT,
	    ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	    ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
	    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED) != 0 ||
	    (a->monitor = zmq_socket(ctx, ZMQ_PAIR)) == NULL ||
	    zmq_setsockopt(a->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
	    zmq_connect(a->monitor, BUS_MONITOR_ENDPOINT) != 0) {
		xasprintf(cause, "bus: cannot watch subscribers: %s",
		    zmq_strerror(errno));
		bus_auth_free(a);
		return (NULL);
	}
	a->monitor_io = ev_zmq_add(loop, a->monitor, EV_READ,
	    bus_monitor_readable, a);
	return (a);
}

void
bus_auth_free(struct bus_auth *a)
{
	if (a == NULL)
		return;
	ev_io_del(a->zap_io);
	ev_io_del(a->monitor_io);
	if (a->zap != NULL)
		zmq_close(a->zap);
	if (a->monitor != NULL)
		zmq_close(a->monitor);
	free(a->conns);
	explicit_bzero(a->key, sizeof a->key);
	free(a);
}
