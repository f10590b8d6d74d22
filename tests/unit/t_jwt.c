/*
 * GitHub App tokens checked by an independent implementation: keys made
 * here with the openssl command line, a token signed at a fixed time, its
 * parts decoded with `openssl base64` and compared byte for byte, and its
 * signature verified with `openssl dgst -verify`. Tokens signed by another
 * key or with a changed payload must not verify; keys that are not RSA,
 * not PEM or locked by a passphrase are refused with a cause that quotes
 * nothing of the key.
 */

#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "tap.h"

#define NOW		INT64_C(1700000000)
#define ISS		"Iv1.0123456789abcdef"

static char	 dir[] = "/tmp/t_jwt.XXXXXX";

/* Run a shell command in dir, its output thrown away; 0 if it succeeded. */
static int
run(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *full;
	int	 rv;

	va_start(ap, fmt);
	xvasprintf(&cmd, fmt, ap);
	va_end(ap);
	xasprintf(&full, "cd %s && (%s) </dev/null >/dev/null 2>&1", dir, cmd);
	rv = system(full);
	free(full);
	free(cmd);
	return (rv);
}

/* Run a command in dir; its first line of standard output, or NULL. */
static char *
run_line(const char *fmt, ...)
{
	va_list	 ap;
	char	*cmd, *full, line[256];
	FILE	*f;

	va_start(ap, fmt);
	xvasprintf(&cmd, fmt, ap);
	va_end(ap);
	xasprintf(&full, "cd %s && (%s) </dev/null 2>/dev/null", dir, cmd);
	f = popen(full, "r");
	free(full);
	free(cmd);
	if (f == NULL)
		return (NULL);
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return (xstrdup(line));
}

static char *
slurp(const char *name, size_t *lenp)
{
	char	*path, *data, *cause = NULL;
	size_t	 len;

	xasprintf(&path, "%s/%s", dir, name);
	data = util_read_file(path, 1024 * 1024, &len, &cause);
	free(path);
	free(cause);
	if (lenp != NULL)
		*lenp = data != NULL ? len : 0;
	return (data);
}

static void
spill(const char *name, const char *data, size_t len)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fatal("%s", path);
	free(path);
}

/*
 * Undo base64url into name with the openssl command: back to the standard
 * alphabet, padding restored, decoded by `openssl base64 -d -A`.
 */
static int
unb64url(const char *part, size_t len, const char *name)
{
	struct buf	 b;
	size_t		 i;
	char		*b64name;
	int		 rv;

	buf_init(&b, 0);
	for (i = 0; i < len; i++) {
		if (part[i] == '+' || part[i] == '/' || part[i] == '=') {
			buf_release(&b);
			return (-1);	/* not base64url */
		}
		buf_add(&b, part[i] == '-' ? "+" : part[i] == '_' ? "/" :
		    &part[i], 1);
	}
	while (b.len % 4 != 0)
		buf_addstr(&b, "=");
	xasprintf(&b64name, "%s.b64", name);
	spill(b64name, b.data, b.len);
	rv = run("openssl base64 -d -A -in %s -out %s", b64name, name);
	free(b64name);
	buf_release(&b);
	return (rv);
}

/* Split a token into its three parts; -1 unless there are exactly three. */
static int
split(const char *token, char **h, char **p, char **s)
{
	const char	*d1, *d2;

	*h = *p = *s = NULL;
	if (token == NULL || (d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return (-1);
	*h = xstrndup(token, d1 - token);
	*p = xstrndup(d1 + 1, d2 - d1 - 1);
	*s = xstrdup(d2 + 1);
	return (0);
}

/* "Verified OK" or the failure openssl reported, for data and sig. */
static char *
verify(const char *pub, const char *h, const char *p, const char *s)
{
	char	*data;

	xasprintf(&data, "%s.%s", h, p);
	spill("data.txt", data, strlen(data));
	free(data);
	if (unb64url(s, strlen(s), "sig.bin") != 0)
		return (xstrdup("signature is not base64url"));
	return (run_line("openssl dgst -sha256 -verify %s -signature sig.bin "
	    "data.txt", pub));
}

static struct jwt_key *
load(const char *name, char **cause)
{
	struct jwt_key	*key;
	char		*pem;
	size_t		 len;

	*cause = NULL;
	if ((pem = slurp(name, &len)) == NULL) {
		xasprintf(cause, "cannot read %s", name);
		return (NULL);
	}
	key = jwt_key_load(pem, len, cause);
	freezero(pem, len);
	return (key);
}

/* A refused key's cause must say something and quote none of the PEM. */
static void
refused(const char *name, const char *what, const char *want)
{
	struct jwt_key	*key;
	char		*cause, *pem, *line2, msg[128];

	key = load(name, &cause);
	snprintf(msg, sizeof msg, "%s is refused", what);
	ok(key == NULL, msg);
	snprintf(msg, sizeof msg, "%s: cause says why", what);
	like(cause, want, msg);
	pem = slurp(name, NULL);
	line2 = pem != NULL ? strchr(pem, '\n') : NULL;
	if (line2 != NULL)
		line2[1 + strcspn(line2 + 1, "\n")] = '\0';
	snprintf(msg, sizeof msg, "%s: cause quotes nothing of the key", what);
	ok(cause != NULL && strstr(cause, "BEGIN") == NULL &&
	    (line2 == NULL || strlen(line2) < 9 ||
	    strstr(cause, line2 + 1) == NULL), msg);
	if (cause != NULL)
		printf("# %s: %s\n", what, cause);
	free(pem);
	free(cause);
	jwt_key_free(key);
}

int
main(void)
{
	struct jwt_key	*key, *key2;
	char		*cause = NULL, *token, *token2, *out;
	char		*h, *p, *s, *h2, *p2, *s2, *text;
	const char	*junk;
	size_t		 len;
	json_t		*claims;
	json_error_t	 jerr;

	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	if (run("openssl version") != 0) {
		printf("1..0 # SKIP no openssl command\n");
		return (0);
	}
	if (run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out key.pem && openssl pkey -in key.pem -pubout -out pub.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out key2.pem && openssl pkey -in key2.pem -pubout -out pub2.pem "
	    "&& openssl rsa -in key.pem -traditional -out pkcs1.pem && "
	    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	    "-out ec.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
	    "-out small.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-aes-256-cbc -pass pass:hunter2 -out locked.pem") != 0)
		fatalx("cannot make keys with the openssl command");

	/* A token signed at a fixed time, decoded and checked exactly. */
	key = load("key.pem", &cause);
	ok(key != NULL && cause == NULL, "RSA key in PKCS#8 PEM loads");
	token = jwt_sign(key, ISS, NOW, &cause);
	ok(token != NULL && cause == NULL, "token is signed");
	ok(split(token, &h, &p, &s) == 0, "token has three parts");
	ok(token != NULL && strcspn(token, "+/= \n") == strlen(token),
	    "token is base64url without padding");

	ok(unb64url(h, strlen(h), "header.json") == 0, "header decodes");
	text = slurp("header.json", NULL);
	is_str(text, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", "header exactly");
	free(text);

	ok(unb64url(p, strlen(p), "claims.json") == 0, "claims decode");
	text = slurp("claims.json", &len);
	is_str(text, "{\"iat\":1699999940,\"exp\":1700000540,"
	    "\"iss\":\"" ISS "\"}", "claims exactly");
	claims = text != NULL ? json_loadb(text, len, 0, &jerr) : NULL;
	free(text);
	is_int(json_integer_value(json_object_get(claims, "iat")), NOW - 60,
	    "iat is 60 seconds before now");
	is_int(json_integer_value(json_object_get(claims, "exp")), NOW + 540,
	    "exp is 9 minutes after now");
	ok(json_integer_value(json_object_get(claims, "exp")) -
	    json_integer_value(json_object_get(claims, "iat")) <= 600,
	    "token lives at most 10 minutes");
	json_decref(claims);

	out = verify("pub.pem", h, p, s);
	is_str(out, "Verified OK", "openssl verifies the signature");
	free(out);
	text = slurp("sig.bin", &len);
	is_int(len, 256, "signature is 256 bytes for a 2048-bit key");
	free(text);

	token2 = jwt_sign(key, ISS, NOW, &cause);
	is_str(token2, token, "RS256 is deterministic for the same claims");
	free(token2);

	/* A payload changed after signing does not verify. */
	token2 = jwt_sign(key, ISS, NOW + 1, &cause);
	ok(split(token2, &h2, &p2, &s2) == 0 && strcmp(p2, p) != 0,
	    "a second token has other claims");
	out = verify("pub.pem", h, p2, s);
	is_str(out, "Verification failure", "tampered payload does not verify");
	free(out);
	out = verify("pub.pem", h2, p2, s2);
	is_str(out, "Verified OK", "the second token itself verifies");
	free(out);
	free(h2);
	free(p2);
	free(s2);
	free(token2);

	/* The app ID as issuer is taken as given, as a string. */
	token2 = jwt_sign(key, "123456", NOW, &cause);
	split(token2, &h2, &p2, &s2);
	ok(p2 != NULL && unb64url(p2, strlen(p2), "claims2.json") == 0,
	    "app ID claims decode");
	text = slurp("claims2.json", NULL);
	like(text, "\"iss\":\"123456\"", "app ID is the issuer as given");
	free(text);
	free(h2);
	free(p2);
	free(s2);
	free(token2);

	/* Another key's token does not verify against this key. */
	key2 = load("key2.pem", &cause);
	token2 = jwt_sign(key2, ISS, NOW, &cause);
	ok(split(token2, &h2, &p2, &s2) == 0, "other key signs a token");
	out = verify("pub.pem", h2, p2, s2);
	is_str(out, "Verification failure",
	    "other key's token does not verify with this public key");
	free(out);
	out = verify("pub2.pem", h2, p2, s2);
	is_str(out, "Verified OK", "other key's token verifies with its own");
	free(out);
	free(h2);
	free(p2);
	free(s2);
	free(token2);
	jwt_key_free(key2);

	/* PKCS#1 ("BEGIN RSA PRIVATE KEY"), as GitHub downloads it. */
	key2 = load("pkcs1.pem", &cause);
	ok(key2 != NULL, "RSA key in PKCS#1 PEM loads");
	token2 = jwt_sign(key2, ISS, NOW, &cause);
	is_str(token2, token, "same key, same token");
	free(token2);
	jwt_key_free(key2);

	/* Bad issuers. */
	token2 = jwt_sign(key, "", NOW, &cause);
	ok(token2 == NULL, "empty issuer is refused");
	like(cause, "issuer", "empty issuer: cause says why");
	free(cause);
	cause = NULL;
	token2 = jwt_sign(key, "\xff\xfe", NOW, &cause);
	ok(token2 == NULL && cause != NULL, "issuer not UTF-8 is refused");
	free(cause);
	cause = NULL;

	free(h);
	free(p);
	free(s);
	free(token);
	jwt_key_free(key);

	/* Keys that are refused. */
	junk = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbCwganVzdCB0"
	    "ZXh0\n-----END PRIVATE KEY-----\n";
	spill("garbage.pem", junk, strlen(junk));
	junk = "hello, this is not a key at all\n";
	spill("text.pem", junk, strlen(junk));
	refused("ec.pem", "EC key", "not RSA");
	refused("garbage.pem", "garbage PEM", "not an unencrypted PEM");
	refused("text.pem", "plain text", "not an unencrypted PEM");
	refused("pub.pem", "public key", "not an unencrypted PEM");
	refused("locked.pem", "passphrase-protected key",
	    "not an unencrypted PEM");
	refused("small.pem", "1024-bit RSA key", "1024 bits");
	key = jwt_key_load("", 0, &cause);
	ok(key == NULL, "empty PEM is refused");
	like(cause, "empty", "empty PEM: cause says why");
	free(cause);

	jwt_key_free(NULL);
	ok(1, "jwt_key_free(NULL) does nothing");

	run("rm -rf %s", dir);
	return (done_testing());
}
