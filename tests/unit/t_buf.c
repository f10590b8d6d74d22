/* The capped buffer: growth, the cap, and handing the bytes over. */

#include "config.h"

#include "common.h"
#include "tap.h"

int
main(void)
{
	struct buf	 b;
	char		 big[1000], *p;
	size_t		 len;

	buf_init(&b, 0);
	is_int(buf_addstr(&b, "hello"), 0, "append to an uncapped buffer");
	is_int(b.len, 5, "length is 5");
	is_str(b.data, "hello", "contents are NUL-terminated");
	memset(big, 'x', sizeof big);
	is_int(buf_add(&b, big, sizeof big), 0, "grows past its first size");
	is_int(b.len, 1005, "length is 1005");
	buf_reset(&b);
	is_int(b.len, 0, "reset empties it");
	is_int(buf_printf(&b, "%d-%s", 42, "x"), 0, "printf appends");
	is_str(b.data, "42-x", "printf result");
	buf_release(&b);
	ok(b.data == NULL, "release frees");

	buf_init(&b, 10);
	is_int(buf_add(&b, "0123456789", 10), 0, "exactly the cap fits");
	is_int(buf_add(&b, "a", 1), -1, "one byte over the cap fails");
	is_int(b.len, 10, "a failed append leaves the buffer as it was");
	is_str(b.data, "0123456789", "contents unchanged");
	is_int(buf_add(&b, big, (size_t)-1), -1, "a huge append fails");
	p = buf_detach(&b, &len);
	is_int(len, 10, "detach gives the length");
	is_str(p, "0123456789", "detach gives the bytes");
	ok(b.data == NULL && b.len == 0, "detach leaves the buffer empty");
	free(p);

	buf_init(&b, 0);
	p = buf_detach(&b, &len);
	ok(p != NULL && *p == '\0' && len == 0, "detach of empty gives \"\"");
	free(p);
	buf_release(&b);
	return (done_testing());
}
