/*
 * The JSON Web Token a GitHub App signs to prove it is the App: RS256 over
 * "header.claims", each part base64url without padding. The header is
 * always {"alg":"RS256","typ":"JWT"}; the claims are iat (60 seconds in
 * the past, for clock drift), exp (9 minutes ahead, under GitHub's limit
 * of 10) and iss (the App's client ID or app ID, as given).
 *
 * This file owns the App's private key once loaded. Invariants: a struct
 * jwt_key holds an RSA private key and nothing else; the key's bytes never
 * reach a cause, a log line or the token; every buffer that held key
 * material is wiped before it is freed (OpenSSL clears its own).
 */

#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "daemon.h"

#define JWT_IAT_SKEW	60		/* seconds before now */
#define JWT_LIFETIME	(9 * 60)	/* seconds after now */
#define JWT_RSA_MIN	2048		/* bits */

struct jwt_key {
	EVP_PKEY	*pkey;
};

/*
 * Refuse a passphrase: with no callback OpenSSL would prompt on the
 * terminal, which a daemon must never do.
 */
static int
jwt_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return (-1);
}

/* The reason of OpenSSL's last error: a fixed string, never key data. */
static const char *
jwt_ssl_reason(void)
{
	const char	*reason;
	unsigned long	 e;

	e = ERR_peek_last_error();
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	return (reason != NULL ? reason : "unknown error");
}

/*
 * Load an RSA private key from PEM (PKCS#8 or PKCS#1, as GitHub hands it
 * out). The PEM stays the caller's; on error *cause says why in words.
 */
struct jwt_key *
jwt_key_load(const char *pem, size_t len, char **cause)
{
	struct jwt_key	*key;
	EVP_PKEY	*pkey;
	BIO		*bio;
	int		 bits;

	if (pem == NULL || len == 0) {
		*cause = xstrdup("private key is empty");
		return (NULL);
	}
	if (len > INT_MAX) {
		*cause = xstrdup("private key is too large");
		return (NULL);
	}
	ERR_clear_error();
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		xasprintf(cause, "cannot read private key: %s",
		    jwt_ssl_reason());
		ERR_clear_error();
		return (NULL);
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase, NULL);
	BIO_free(bio);
	if (pkey == NULL) {
		xasprintf(cause, "private key is not an unencrypted PEM "
		    "private key: %s", jwt_ssl_reason());
		ERR_clear_error();
		return (NULL);
	}
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		xasprintf(cause, "private key is %s, not RSA",
		    EVP_PKEY_get0_type_name(pkey) != NULL ?
		    EVP_PKEY_get0_type_name(pkey) : "of an unknown type");
		EVP_PKEY_free(pkey);
		return (NULL);
	}
	if ((bits = EVP_PKEY_get_bits(pkey)) < JWT_RSA_MIN) {
		xasprintf(cause, "RSA private key has %d bits, fewer than %d",
		    bits, JWT_RSA_MIN);
		EVP_PKEY_free(pkey);
		return (NULL);
	}

	key = xcalloc(1, sizeof *key);
	key->pkey = pkey;
	return (key);
}

void
jwt_key_free(struct jwt_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);
	freezero(key, sizeof *key);
}

/* Base64url without padding, as RFC 7515 section 2 asks. */
static char *
jwt_b64url(const unsigned char *in, size_t len)
{
	char	*out;
	size_t	 i, n;

	if (len > (INT_MAX / 4) * 3 - 3)
		fatalx("%s: %zu bytes is too long", __func__, len);
	out = xmalloc(4 * ((len + 2) / 3) + 1);
	n = (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return (out);
}

/* Compact JSON (no spaces, keys in the order built), base64url encoded. */
static char *
jwt_b64url_json(json_t *obj)
{
	char	*text, *out;

	if (obj == NULL)
		return (NULL);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	if (text == NULL)
		return (NULL);
	out = jwt_b64url((const unsigned char *)text, strlen(text));
	free(text);
	return (out);
}

/*
 * Sign a token for iss at now_seconds (Unix time, from the loop's clock).
 * The token is the caller's to free; on error *cause says why.
 */
char *
jwt_sign(struct jwt_key *key, const char *iss, int64_t now_seconds,
    char **cause)
{
	EVP_MD_CTX	*ctx = NULL;
	unsigned char	*sig = NULL;
	size_t		 siglen = 0;
	char		*header = NULL, *claims = NULL, *input = NULL;
	char		*sig64 = NULL, *token = NULL;

	if (key == NULL || key->pkey == NULL) {
		*cause = xstrdup("no private key");
		return (NULL);
	}
	if (iss == NULL || *iss == '\0') {
		*cause = xstrdup("no issuer (client ID or app ID)");
		return (NULL);
	}
	if (now_seconds < JWT_IAT_SKEW ||
	    now_seconds > INT64_MAX - JWT_LIFETIME) {
		xasprintf(cause, "time %lld is out of range",
		    (long long)now_seconds);
		return (NULL);
	}

	header = jwt_b64url_json(json_pack("{s:s, s:s}", "alg", "RS256",
	    "typ", "JWT"));
	claims = jwt_b64url_json(json_pack("{s:I, s:I, s:s}",
	    "iat", (json_int_t)(now_seconds - JWT_IAT_SKEW),
	    "exp", (json_int_t)(now_seconds + JWT_LIFETIME),
	    "iss", iss));
	if (header == NULL || claims == NULL) {
		*cause = xstrdup("cannot encode token as JSON (issuer not "
		    "UTF-8?)");
		goto out;
	}
	xasprintf(&input, "%s.%s", header, claims);

	ERR_clear_error();
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    key->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, (unsigned char *)input,
	    strlen(input)) != 1) {
		xasprintf(cause, "cannot sign token: %s", jwt_ssl_reason());
		goto out;
	}
	sig = xmalloc(siglen);
	if (EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input,
	    strlen(input)) != 1) {
		xasprintf(cause, "cannot sign token: %s", jwt_ssl_reason());
		goto out;
	}
	sig64 = jwt_b64url(sig, siglen);
	xasprintf(&token, "%s.%s", input, sig64);

out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	free(sig);
	free(sig64);
	free(input);
	free(claims);
	free(header);
	return (token);
}
