/*
 * A growable byte buffer with an optional cap. The cap is how request
 * bodies and other outside input are bounded: an append that would pass it
 * fails and leaves the buffer as it was, so the caller can answer "too
 * large" without having read the rest into memory.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t	 need, size;

	if (extra > SIZE_MAX - b->len - 1)
		return (-1);
	need = b->len + extra;
	if (b->max != 0 && need > b->max)
		return (-1);
	if (need + 1 <= b->size)
		return (0);
	size = b->size != 0 ? b->size : 256;
	while (size < need + 1)
		size = size > SIZE_MAX / 2 ? need + 1 : size * 2;
	b->data = xrealloc(b->data, size);
	b->size = size;
	return (0);
}

int
buf_add(struct buf *b, const void *p, size_t len)
{
	if (buf_reserve(b, len) != 0)
		return (-1);
	if (len != 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return (0);
}

int
buf_addstr(struct buf *b, const char *s)
{
	return (buf_add(b, s, strlen(s)));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n, rv;

	va_start(ap, fmt);
	n = xvasprintf(&s, fmt, ap);
	va_end(ap);
	rv = buf_add(b, s, n);
	free(s);
	return (rv);
}

/* Hand the bytes to the caller (to free) and leave the buffer empty. */
char *
buf_detach(struct buf *b, size_t *len)
{
	char	*p;

	if (b->data == NULL) {
		b->max = 0;
		buf_reserve(b, 0);
		b->data[0] = '\0';
	}
	p = b->data;
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->size = 0;
	return (p);
}
