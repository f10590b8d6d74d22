/*
 * CURVE key files, as `beekeeper keygen` writes them and both programs
 * read them (beekeeper-protocol(7), AUTHENTICATION):
 *
 *	# BeeKeeper CURVE key pair. Keep this file secret.
 *	public-key = <40 Z85 characters>
 *	secret-key = <40 Z85 characters>
 *
 * with an optional "server-key = <Z85>" line in a client's file, and
 * FILE.pub holding the public-key line alone. The keys themselves come
 * from libzmq (zmq_curve_keypair); nothing here does cryptography.
 *
 * Invariants:
 * - A secret key is only ever in a struct curvekey, which curvekey_clear
 *   wipes, and in the file's text, which the reader wipes before freeing.
 * - No error message quotes what a line holds: it may be a secret.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "common.h"

#define CURVEKEY_FILE_MAX	4096

static const char	curvekey_header[] =
    "# BeeKeeper CURVE key pair. Keep this file secret.\n";

/* The members of a key file, where each one goes. */
static const struct {
	const char	*name;
	size_t		 off;
} curvekey_fields[] = {
	{ "public-key", offsetof(struct curvekey, public) },
	{ "secret-key", offsetof(struct curvekey, secret) },
	{ "server-key", offsetof(struct curvekey, server) },
};

/* A Z85 key: 40 characters that decode to 32 bytes. */
int
curvekey_valid(const char *s, size_t len)
{
	uint8_t	 raw[32];
	char	 z[CURVEKEY_Z85 + 1];
	int	 ok;

	if (len != CURVEKEY_Z85)
		return (0);
	memcpy(z, s, len);
	z[len] = '\0';
	ok = zmq_z85_decode(raw, z) != NULL;
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(z, sizeof z);
	return (ok);
}

/*
 * Parse TEXT into *k: "name = key" lines, '#' comments and blank lines.
 * With BARE, a line that is a key alone is taken as the public key (a
 * server's key copied by hand). -1 with *cause naming the line if
 * anything else is there.
 */
int
curvekey_parse(const char *text, const char *file, int bare,
    struct curvekey *k, char **cause)
{
	const char	*line, *end, *eq, *v;
	size_t		 n, vlen, i, lineno = 0;
	char		*dst;

	memset(k, 0, sizeof *k);
	for (line = text; *line != '\0'; line = *end != '\0' ? end + 1 : end) {
		lineno++;
		end = line + strcspn(line, "\n");
		n = end - line;
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
		    line[n - 1] == '\t'))
			n--;
		while (n > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (n == 0 || *line == '#')
			continue;
		if ((eq = memchr(line, '=', n)) == NULL) {
			if (bare && curvekey_valid(line, n) &&
			    *k->public == '\0') {
				memcpy(k->public, line, n);
				continue;
			}
			goto bad;
		}
		for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
			continue;
		vlen = line + n - v;
		for (i = 0; i < nitems(curvekey_fields); i++) {
			if (strncmp(line, curvekey_fields[i].name,
			    strlen(curvekey_fields[i].name)) == 0 &&
			    strspn(line + strlen(curvekey_fields[i].name),
			    " \t") == (size_t)(eq - line -
			    strlen(curvekey_fields[i].name)))
				break;
		}
		if (i == nitems(curvekey_fields))
			goto bad;
		dst = (char *)k + curvekey_fields[i].off;
		if (*dst != '\0') {
			xasprintf(cause, "%s:%zu: %s is set twice", file,
			    lineno, curvekey_fields[i].name);
			curvekey_clear(k);
			return (-1);
		}
		if (!curvekey_valid(v, vlen)) {
			xasprintf(cause, "%s:%zu: %s is not a Z85 key (%d "
			    "characters)", file, lineno,
			    curvekey_fields[i].name, CURVEKEY_Z85);
			curvekey_clear(k);
			return (-1);
		}
		memcpy(dst, v, vlen);
	}
	return (0);

bad:
	xasprintf(cause, "%s:%zu: expected public-key, secret-key or "
	    "server-key = KEY", file, lineno);
	curvekey_clear(k);
	return (-1);
}

/* Read and parse a key file; its text is wiped once parsed. */
int
curvekey_read(const char *path, int bare, struct curvekey *k, char **cause)
{
	char	*text;
	size_t	 len;
	int	 rv;

	if ((text = util_read_file(path, CURVEKEY_FILE_MAX, &len, cause)) ==
	    NULL)
		return (-1);
	rv = curvekey_parse(text, path, bare, k, cause);
	freezero(text, len + 1);
	return (rv);
}

/* Does this text look like a key pair file rather than a control key? */
int
curvekey_is_pair(const char *text)
{
	const char	*p;

	for (p = text; (p = strstr(p, "secret-key")) != NULL; p++) {
		if (p == text || p[-1] == '\n')
			return (1);
	}
	return (0);
}

void
curvekey_clear(struct curvekey *k)
{
	explicit_bzero(k, sizeof *k);
}

/* Write all of text to fd and close it; 0 or -1 with errno. */
static int
curvekey_write_fd(int fd, const char *text)
{
	size_t	 len = strlen(text), off = 0;
	ssize_t	 n;
	int	 saved;

	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return (-1);
		}
		off += n;
	}
	if (fsync(fd) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/*
 * Make a key pair and write PATH (0600, the pair) and PATH.pub (0644, the
 * public key). Without FORCE an existing file is refused, and the pair
 * is created with O_EXCL so that two runs cannot share one. On success
 * k->public holds the public key (the secret is wiped).
 */
int
curvekey_generate(const char *path, int force, struct curvekey *k,
    char **cause)
{
	char	*pub, *text;
	int	 fd, flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;

	memset(k, 0, sizeof *k);
	if (zmq_curve_keypair(k->public, k->secret) != 0) {
		xasprintf(cause, "cannot make a key pair: %s (is libzmq "
		    "built with CURVE?)", zmq_strerror(errno));
		return (-1);
	}
	xasprintf(&pub, "%s.pub", path);
	/* With -f, a new file all the same: never an old one's mode. */
	if (force)
		unlink(path);
	if ((fd = open(path, flags, 0600)) == -1) {
		xasprintf(cause, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (use -f to replace it)" : "");
		goto fail;
	}
	xasprintf(&text, "%spublic-key = %s\nsecret-key = %s\n",
	    curvekey_header, k->public, k->secret);
	if (curvekey_write_fd(fd, text) != 0) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		freezero(text, strlen(text) + 1);
		unlink(path);
		goto fail;
	}
	freezero(text, strlen(text) + 1);
	explicit_bzero(k->secret, sizeof k->secret);
	if (force)
		unlink(pub);
	if ((fd = open(pub, flags, 0644)) == -1) {
		xasprintf(cause, "%s: %s%s", pub, strerror(errno),
		    errno == EEXIST ? " (use -f to replace it)" : "");
		unlink(path);
		goto fail;
	}
	fchmod(fd, 0644);	/* whatever the umask */
	xasprintf(&text, "public-key = %s\n", k->public);
	if (curvekey_write_fd(fd, text) != 0) {
		xasprintf(cause, "%s: %s", pub, strerror(errno));
		free(text);
		unlink(path);
		unlink(pub);
		goto fail;
	}
	free(text);
	free(pub);
	return (0);

fail:
	free(pub);
	curvekey_clear(k);
	return (-1);
}
