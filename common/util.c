/*
 * Small helpers shared by every program: bounded number parsing (sizes,
 * durations, booleans as YAML 1.1 spells them), hex, reading a whole file
 * with a cap, descriptor flags and the two clocks.
 */

#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

/*
 * Parse a byte count with an optional K, M or G suffix (powers of 1024).
 * On error returns -1 and points *errstr at a reason.
 */
int
util_parse_size(const char *s, uint64_t max, uint64_t *out,
    const char **errstr)
{
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	if (*s < '0' || *s > '9') {
		*errstr = "not a size (expected a number of bytes, K, M or G)";
		return (-1);
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE) {
		*errstr = "size too large";
		return (-1);
	}
	if (end[0] != '\0' && end[1] == '\0') {
		switch (end[0]) {
		case 'k': case 'K':
			mult = 1024;
			break;
		case 'm': case 'M':
			mult = 1024 * 1024;
			break;
		case 'g': case 'G':
			mult = 1024 * 1024 * 1024;
			break;
		default:
			*errstr = "unknown size suffix (use K, M or G)";
			return (-1);
		}
	} else if (end[0] != '\0') {
		*errstr = "not a size (expected a number of bytes, K, M or G)";
		return (-1);
	}
	if (v > max / mult) {
		*errstr = "size too large";
		return (-1);
	}
	*out = v * mult;
	return (0);
}

/* Parse a duration: a number with s, m, h or d (ms by default is seconds). */
int
util_parse_duration(const char *s, uint64_t *ms, const char **errstr)
{
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1000;

	if (*s < '0' || *s > '9') {
		*errstr = "not a duration (expected e.g. 30s, 5m, 2h)";
		return (-1);
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE || v > 365ULL * 24 * 3600) {
		*errstr = "duration too long";
		return (-1);
	}
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mult = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mult = 24 * 3600 * 1000;
	else {
		*errstr = "unknown duration unit (use ms, s, m, h or d)";
		return (-1);
	}
	*ms = v * mult;
	return (0);
}

/* YAML 1.1 booleans, as the 2017 beekeeper.yml files use them. */
int
util_parse_bool(const char *s, int *out)
{
	static const char *yes[] = { "true", "yes", "on", "y" };
	static const char *no[] = { "false", "no", "off", "n" };
	size_t	 i;

	for (i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return (0);
		}
	}
	for (i = 0; i < nitems(no); i++) {
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return (0);
		}
	}
	return (-1);
}

int
util_hex_encode(const unsigned char *p, size_t len, char *out, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	if (size < len * 2 + 1)
		return (-1);
	for (i = 0; i < len; i++) {
		out[i * 2] = hex[p[i] >> 4];
		out[i * 2 + 1] = hex[p[i] & 0xf];
	}
	out[len * 2] = '\0';
	return (0);
}

static int
util_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Decode exactly len bytes of hex; anything else is an error. */
int
util_hex_decode(const char *s, unsigned char *out, size_t len)
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(s) != len * 2)
		return (-1);
	for (i = 0; i < len; i++) {
		if ((hi = util_hex_digit(s[i * 2])) == -1 ||
		    (lo = util_hex_digit(s[i * 2 + 1])) == -1)
			return (-1);
		out[i] = (hi << 4) | lo;
	}
	return (0);
}

/*
 * Read a whole file of at most max bytes. The result is NUL-terminated and
 * the caller's to free; on error *cause says why in words.
 */
char *
util_read_file(const char *path, size_t max, size_t *lenp, char **cause)
{
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	buf_init(&b, max);
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_add(&b, chunk, n) != 0) {
			xasprintf(cause, "%s: larger than %zu bytes", path,
			    max);
			goto fail;
		}
	}
	close(fd);
	explicit_bzero(chunk, sizeof chunk);
	return (buf_detach(&b, lenp));

fail:
	close(fd);
	explicit_bzero(chunk, sizeof chunk);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_release(&b);
	return (NULL);
}

int
util_set_cloexec(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFD)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFD, flags | FD_CLOEXEC));
}

int
util_set_nonblock(int fd)
{
	int	 flags;

	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return (-1);
	return (fcntl(fd, F_SETFL, flags | O_NONBLOCK));
}

uint64_t
util_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
util_wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* strlcpy semantics: the return value >= size means truncation. */
size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size != 0) {
		if (len >= size) {
			memcpy(dst, src, size - 1);
			dst[size - 1] = '\0';
		} else
			memcpy(dst, src, len + 1);
	}
	return (len);
}

/*
 * Jittered exponential backoff for the nth retry: half to all of
 * base * 2^n, capped at max, so clients that failed together do not
 * come back together.
 */
uint64_t
util_backoff(uint64_t base, uint64_t max, u_int n)
{
	uint64_t	 ms = base;
	uint32_t	 r = 0;

	while (n-- > 0 && ms < max)
		ms *= 2;
	if (ms > max)
		ms = max;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		r = (uint32_t)ms;
	return (ms / 2 + r % (ms / 2 + 1));
}
