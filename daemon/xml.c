/*
 * AWS's XML answers (the EC2 Query API) as a small tree, built with
 * expat: each element has its local name (namespaces dropped: EC2's
 * answers are in one), its text and its children. EC2's answers are
 * small, so a tree is simpler to read from than callbacks.
 *
 * Invariants:
 * - A document deeper than XML_DEPTH_MAX or larger than the caller's
 *   cap is refused, not built: a broken or hostile peer cannot make the
 *   daemon hoard.
 * - Text is kept only for leaves (elements without children), which is
 *   where EC2 puts values; whitespace between elements is dropped.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "daemon.h"

#define XML_DEPTH_MAX		64

struct xml_node {
	char		*name;
	struct buf	 text;
	struct xml_node	*parent;
	struct xml_node	*child;		/* first */
	struct xml_node	*last;		/* last child */
	struct xml_node	*next;		/* sibling */
};

struct xml_build {
	XML_Parser	 parser;
	struct xml_node	*root;
	struct xml_node	*cur;
	int		 depth;
	int		 failed;
};

void
xml_free(struct xml_node *n)
{
	struct xml_node	*c, *next;

	if (n == NULL)
		return;
	for (c = n->child; c != NULL; c = next) {
		next = c->next;
		xml_free(c);
	}
	free(n->name);
	buf_release(&n->text);
	free(n);
}

static void
xml_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_build	*b = arg;
	struct xml_node		*n;
	const char		*local;

	(void)attrs;
	if (b->failed)
		return;
	if (++b->depth > XML_DEPTH_MAX) {
		b->failed = 1;
		XML_StopParser(b->parser, XML_FALSE);
		return;
	}
	/* With namespace processing, names are "URI NAME": keep NAME. */
	local = strrchr(name, ' ');
	n = xcalloc(1, sizeof *n);
	n->name = xstrdup(local != NULL ? local + 1 : name);
	buf_init(&n->text, 0);
	n->parent = b->cur;
	if (b->cur == NULL)
		b->root = n;
	else if (b->cur->last == NULL)
		b->cur->child = b->cur->last = n;
	else {
		b->cur->last->next = n;
		b->cur->last = n;
	}
	b->cur = n;
}

static void
xml_end(void *arg, const XML_Char *name)
{
	struct xml_build	*b = arg;

	(void)name;
	if (b->failed || b->cur == NULL)
		return;
	b->depth--;
	if (b->cur->child != NULL)
		buf_reset(&b->cur->text);
	b->cur = b->cur->parent;
}

static void
xml_text(void *arg, const XML_Char *s, int len)
{
	struct xml_build	*b = arg;

	if (!b->failed && b->cur != NULL && b->cur->child == NULL)
		buf_add(&b->cur->text, s, len);
}

/* The tree of an XML document, or NULL and why. */
struct xml_node *
xml_parse(const char *text, size_t len, size_t max, char **cause)
{
	struct xml_build	 b;

	if (len > max) {
		xasprintf(cause, "an XML answer of %zu bytes (at most %zu)",
		    len, max);
		return (NULL);
	}
	memset(&b, 0, sizeof b);
	b.parser = XML_ParserCreateNS(NULL, ' ');
	XML_SetUserData(b.parser, &b);
	XML_SetElementHandler(b.parser, xml_start, xml_end);
	XML_SetCharacterDataHandler(b.parser, xml_text);
	if (XML_Parse(b.parser, text, len, XML_TRUE) != XML_STATUS_OK ||
	    b.failed || b.root == NULL) {
		if (b.failed)
			xasprintf(cause, "XML nested deeper than %d elements",
			    XML_DEPTH_MAX);
		else if (b.root == NULL && XML_GetErrorCode(b.parser) ==
		    XML_ERROR_NONE)
			*cause = xstrdup("an empty XML document");
		else
			xasprintf(cause, "malformed XML at line %lu: %s",
			    (unsigned long)XML_GetCurrentLineNumber(b.parser),
			    XML_ErrorString(XML_GetErrorCode(b.parser)));
		XML_ParserFree(b.parser);
		xml_free(b.root);
		return (NULL);
	}
	XML_ParserFree(b.parser);
	return (b.root);
}

const char *
xml_name(const struct xml_node *n)
{
	return (n->name);
}

/* A leaf's text ("" for an element with children). */
const char *
xml_text_of(const struct xml_node *n)
{
	return (n != NULL && n->text.data != NULL ? n->text.data : "");
}

/* The first child named name, or NULL. */
struct xml_node *
xml_child(const struct xml_node *n, const char *name)
{
	struct xml_node	*c;

	for (c = n != NULL ? n->child : NULL; c != NULL; c = c->next) {
		if (strcmp(c->name, name) == 0)
			return (c);
	}
	return (NULL);
}

/* The next sibling after c with c's name, or NULL: a list's items. */
struct xml_node *
xml_next(const struct xml_node *c)
{
	struct xml_node	*n;

	for (n = c->next; n != NULL; n = n->next) {
		if (strcmp(n->name, c->name) == 0)
			return (n);
	}
	return (NULL);
}

/*
 * The text at a path of child names separated by '/' ("instanceState/
 * name"), or NULL when an element on the way is missing.
 */
const char *
xml_get(const struct xml_node *n, const char *path)
{
	char	 name[128];
	size_t	 len;

	while (n != NULL && *path != '\0') {
		len = strcspn(path, "/");
		if (len >= sizeof name)
			return (NULL);
		memcpy(name, path, len);
		name[len] = '\0';
		n = xml_child(n, name);
		path += len + (path[len] == '/');
	}
	return (n != NULL ? xml_text_of(n) : NULL);
}
