/*
 * filter.c - AWS EventBridge event patterns: compile once, match many.
 *
 * Compilation turns the pattern text into a list of "alternatives": trees
 * without $or (the $or groups are multiplied out, as EventBridge does,
 * within a limit on the number of combinations).  A tree node is a pattern
 * object: a list of fields, each either a leaf (a list of conditions, any
 * of which may hold) or a child node.  Dotted keys are split, so
 * {"a.b": [1]} and {"a": {"b": [1]}} compile to the same tree, and fields
 * of the same name are merged so that sibling conditions stay together.
 *
 * Matching walks the event through json.h without building anything.  A
 * node is matched against an event object: one pass over its members
 * settles the leaves (and the children that only need positive evidence),
 * stopping as soon as every field holds.  An array in the event is
 * flattened: a leaf holds if any scalar in it satisfies a condition, and a
 * child must hold for one element (so side-by-side conditions are
 * satisfied by the same element).  Event keys that contain dots are seen
 * through "views": a node at path a.b is also matched against the members
 * of the parent object named "b.x" and of the grandparent named "a.b.x".
 *
 * Recursion is bounded: the pattern's depth is limited at compile time
 * and the event's depth by json_parse (and checked again here).
 */
#include "filter.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Limits (see filter.h). */
#define FILTER_MAX_TEXT          65536   /* bytes of pattern text */
#define FILTER_MAX_DEPTH         32      /* key segments from the root */
#define FILTER_MAX_JSON_DEPTH    96      /* JSON nesting of the text */
#define FILTER_MAX_COMBINATIONS  1000    /* alternatives after $or */
#define FILTER_MAX_FIELDS        100000  /* fields in all alternatives */
#define FILTER_MAX_EVENT_DEPTH   1024    /* as json_parse's own limit */

enum cond_kind {
	COND_STRING,         /* an exact string */
	COND_NUMBER,         /* an exact number, compared by value */
	COND_TRUE,
	COND_FALSE,
	COND_NULL
};

struct cond {
	enum cond_kind kind;
	char *s;             /* COND_STRING: decoded bytes; COND_NUMBER: text */
	size_t n;
};

/* The conditions of one leaf array: alternatives. */
struct leaf {
	struct cond *conds;
	size_t nconds;
	bool exists_false;   /* an {"exists": false} among them */
};

struct node;

struct field {
	char *key;           /* one key segment (no dots), decoded */
	size_t keylen;
	const struct leaf *leaf;  /* shared, owned by the filter; or NULL */
	struct node *child;  /* owned; or NULL */
};

struct orgroup {
	struct node **alts;
	size_t nalts;
};

struct node {
	struct field *fields;
	size_t nfields, afields;
	struct orgroup *ors;      /* only before expansion */
	size_t nors, aors;
	bool monotone;       /* no exists:false below: more values never hurt */
};

struct filter {
	struct node **alts;        /* $or-free trees; any may match */
	size_t nalts;
	struct leaf **leaves;      /* every leaf, for filter_free */
	size_t nleaves, aleaves;
};

/* --- building and freeing trees ---------------------------------------- */

static void leaf_free(struct leaf *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nconds; i++)
		free(l->conds[i].s);
	free(l->conds);
	free(l);
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nfields; i++) {
		free(n->fields[i].key);
		node_free(n->fields[i].child);
	}
	free(n->fields);
	for (size_t i = 0; i < n->nors; i++) {
		for (size_t j = 0; j < n->ors[i].nalts; j++)
			node_free(n->ors[i].alts[j]);
		free(n->ors[i].alts);
	}
	free(n->ors);
	free(n);
}

static struct node *node_new(void)
{
	return xcalloc(1, sizeof(struct node));
}

static struct field *node_add_field(struct node *n, const char *key, size_t keylen)
{
	struct field *f;

	n->fields = xgrow(n->fields, n->nfields + 1, &n->afields, sizeof(*n->fields));
	f = &n->fields[n->nfields++];
	f->key = xstrndup(key, keylen);
	f->keylen = keylen;
	f->leaf = NULL;
	f->child = NULL;
	return f;
}

/* A deep copy of an $or-free tree (leaves are shared). */
static struct node *node_clone(const struct node *src)
{
	struct node *n = node_new();

	for (size_t i = 0; i < src->nfields; i++) {
		struct field *f = node_add_field(n, src->fields[i].key, src->fields[i].keylen);

		f->leaf = src->fields[i].leaf;
		if (src->fields[i].child)
			f->child = node_clone(src->fields[i].child);
	}
	return n;
}

/* Fields in an $or-free tree. */
static size_t node_size(const struct node *n)
{
	size_t total = n->nfields;

	for (size_t i = 0; i < n->nfields; i++)
		if (n->fields[i].child)
			total += node_size(n->fields[i].child);
	return total;
}

/* Merge a copy of src into dst: children of the same name are merged,
 * leaves are appended (both must hold). */
static void node_merge(struct node *dst, const struct node *src)
{
	for (size_t i = 0; i < src->nfields; i++) {
		const struct field *s = &src->fields[i];
		struct field *d = NULL;

		if (s->child) {
			for (size_t j = 0; j < dst->nfields; j++) {
				if (dst->fields[j].child && dst->fields[j].keylen == s->keylen &&
				    !memcmp(dst->fields[j].key, s->key, s->keylen)) {
					d = &dst->fields[j];
					break;
				}
			}
			if (d) {
				node_merge(d->child, s->child);
				continue;
			}
		}
		d = node_add_field(dst, s->key, s->keylen);
		d->leaf = s->leaf;
		if (s->child)
			d->child = node_clone(s->child);
	}
}

static bool node_compute_monotone(struct node *n)
{
	n->monotone = true;
	for (size_t i = 0; i < n->nfields; i++) {
		if (n->fields[i].leaf && n->fields[i].leaf->exists_false)
			n->monotone = false;
		if (n->fields[i].child && !node_compute_monotone(n->fields[i].child))
			n->monotone = false;
	}
	return n->monotone;
}

/* --- compilation ------------------------------------------------------- */

struct nodelist {
	struct node **v;
	size_t n, alloc;
};

static void nodelist_add(struct nodelist *l, struct node *n)
{
	l->v = xgrow(l->v, l->n + 1, &l->alloc, sizeof(*l->v));
	l->v[l->n++] = n;
}

static void nodelist_release(struct nodelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

struct compiler {
	filter *f;
	buf path;            /* JSON path of the value being compiled */
	buf *err;
	bool failed;
};

/* Record an error about the value at the current path; returns false. */
static bool compile_error(struct compiler *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool compile_error(struct compiler *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed || !c->err) {
		c->failed = true;
		return false;
	}
	c->failed = true;
	buf_add(c->err, c->path.data, c->path.len);
	buf_addstr(c->err, ": ");
	va_start(ap, fmt);
	buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	return false;
}

static bool is_plain_key(const char *k, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '$'))
			return false;
	}
	return true;
}

/* Append ".key" (or ["key"] when it is not a plain name) to the path. */
static void path_push_key(struct compiler *c, const char *k, size_t n)
{
	if (is_plain_key(k, n)) {
		buf_addch(&c->path, '.');
		buf_add(&c->path, k, n);
	} else {
		buf_addch(&c->path, '[');
		buf_add_json_string(&c->path, k, n);
		buf_addch(&c->path, ']');
	}
}

static void path_push_index(struct compiler *c, size_t i)
{
	buf_printf(&c->path, "[%zu]", i);
}

static void path_pop(struct compiler *c, size_t len)
{
	c->path.len = len;
	if (c->path.data)
		c->path.data[len] = '\0';
}

/* Decode a string value into a new NUL-terminated allocation. */
static char *string_dup(json_value v, size_t *len)
{
	char *s = xmalloc(v.n);

	*len = json_string_decode(v, s);
	s[*len] = '\0';   /* v.n >= 2 > decoded length */
	return s;
}

static bool compile_value(struct compiler *c, json_value v, struct cond *out)
{
	memset(out, 0, sizeof(*out));
	switch (v.type) {
	case JSON_STRING:
		out->kind = COND_STRING;
		out->s = string_dup(v, &out->n);
		return true;
	case JSON_NUMBER:
		out->kind = COND_NUMBER;
		out->s = xstrndup(v.p, v.n);
		out->n = v.n;
		return true;
	case JSON_TRUE:
		out->kind = COND_TRUE;
		return true;
	case JSON_FALSE:
		out->kind = COND_FALSE;
		return true;
	case JSON_NULL:
		out->kind = COND_NULL;
		return true;
	case JSON_OBJECT:
		return compile_error(c, "operators are not supported");
	case JSON_ARRAY:
		break;
	}
	return compile_error(c, "a match value must be a string, a number, true, false, "
			     "null or an operator object, not an array");
}

/* A leaf array: the allowed values and operators. */
static const struct leaf *compile_leaf(struct compiler *c, json_value arr)
{
	struct leaf *l = xcalloc(1, sizeof(*l));
	size_t alloc = 0, i = 0, len = c->path.len;
	json_iter it;
	json_value v;

	json_iter_init(&it, arr);
	while (json_iter_element(&it, &v)) {
		l->conds = xgrow(l->conds, l->nconds + 1, &alloc, sizeof(*l->conds));
		path_push_index(c, i++);
		if (!compile_value(c, v, &l->conds[l->nconds])) {
			leaf_free(l);
			return NULL;
		}
		l->nconds++;
		path_pop(c, len);
	}
	if (!l->nconds) {
		leaf_free(l);
		compile_error(c, "must not be an empty array");
		return NULL;
	}
	c->f->leaves = xgrow(c->f->leaves, c->f->nleaves + 1, &c->f->aleaves,
			     sizeof(*c->f->leaves));
	c->f->leaves[c->f->nleaves++] = l;
	return l;
}

/* Does a later member of the object have the same (decoded) key? */
static bool key_repeats_later(json_iter it, const char *key, size_t keylen)
{
	json_value k, v;

	while (json_iter_member(&it, &k, &v))
		if (json_string_equals(k, key, keylen))
			return true;
	return false;
}

static struct node *compile_object(struct compiler *c, json_value obj,
				   unsigned depth);

static bool compile_or(struct compiler *c, struct node *n, json_value v,
		       unsigned depth)
{
	struct orgroup *g;
	size_t len = c->path.len, i = 0;
	json_iter it;
	json_value e;

	if (v.type != JSON_ARRAY)
		return compile_error(c, "$or must be an array of at least two objects");
	n->ors = xgrow(n->ors, n->nors + 1, &n->aors, sizeof(*n->ors));
	g = &n->ors[n->nors++];
	g->alts = NULL;
	g->nalts = 0;
	json_iter_init(&it, v);
	while (json_iter_element(&it, &e)) {
		struct node *alt;

		path_push_index(c, i++);
		if (e.type != JSON_OBJECT)
			return compile_error(c, "$or must be an array of objects, not %s %s",
					     e.type == JSON_ARRAY ? "an" : "a",
					     json_type_name(e.type));
		alt = compile_object(c, e, depth);
		if (!alt)
			return false;
		g->alts = xrealloc(g->alts, (g->nalts + 1) * sizeof(*g->alts));
		g->alts[g->nalts++] = alt;
		path_pop(c, len);
	}
	if (g->nalts < 2)
		return compile_error(c, "$or must be an array of at least two objects");
	return true;
}

/* A member "a.b.c": V of a pattern object: add a -> b -> c: V to n. */
static bool compile_member(struct compiler *c, struct node *n, const char *key,
			   size_t keylen, json_value v, unsigned depth)
{
	const char *seg = key, *end = key + keylen;

	for (;;) {
		const char *dot = memchr(seg, '.', (size_t)(end - seg));
		struct field *f;

		if (++depth > FILTER_MAX_DEPTH)
			return compile_error(c, "pattern is nested too deeply (at most %d keys)",
					     FILTER_MAX_DEPTH);
		f = node_add_field(n, seg, (size_t)((dot ? dot : end) - seg));
		if (!dot) {
			if (v.type == JSON_OBJECT) {
				f->child = compile_object(c, v, depth);
				return f->child != NULL;
			}
			if (v.type == JSON_ARRAY) {
				f->leaf = compile_leaf(c, v);
				return f->leaf != NULL;
			}
			return compile_error(c, "must be an object or an array");
		}
		f->child = node_new();
		n = f->child;
		seg = dot + 1;
	}
}

/* A pattern object; depth counts the key segments above it. */
static struct node *compile_object(struct compiler *c, json_value obj,
				   unsigned depth)
{
	struct node *n = node_new();
	size_t len = c->path.len;
	json_iter it;
	json_value k, v;
	bool any = false;

	json_iter_init(&it, obj);
	while (json_iter_member(&it, &k, &v)) {
		size_t keylen;
		char *key = string_dup(k, &keylen);
		bool ok = true;

		any = true;
		/* a repeated key: the last one counts */
		if (!key_repeats_later(it, key, keylen)) {
			path_push_key(c, key, keylen);
			if (keylen == 3 && !memcmp(key, "$or", 3))
				ok = compile_or(c, n, v, depth);
			else
				ok = compile_member(c, n, key, keylen, v, depth);
			path_pop(c, len);
		}
		free(key);
		if (!ok) {
			node_free(n);
			return NULL;
		}
	}
	if (!any) {
		node_free(n);
		compile_error(c, "must not be an empty object");
		return NULL;
	}
	return n;
}

/* Multiply out the $or groups of n: a list of $or-free trees. */
static bool expand(struct compiler *c, const struct node *n, struct nodelist *out)
{
	struct nodelist cur = { NULL, 0, 0 };
	bool ok = false;

	nodelist_add(&cur, node_new());
	for (size_t i = 0; i < n->nfields + n->nors; i++) {
		struct nodelist opts = { NULL, 0, 0 }, next = { NULL, 0, 0 };
		size_t total = 0;

		if (i < n->nfields && n->fields[i].leaf) {
			for (size_t j = 0; j < cur.n; j++) {
				struct field *f = node_add_field(cur.v[j], n->fields[i].key,
								 n->fields[i].keylen);

				f->leaf = n->fields[i].leaf;
			}
			continue;
		}
		if (i < n->nfields) {
			/* a child: its alternatives, each under the key */
			struct nodelist sub = { NULL, 0, 0 };

			if (!expand(c, n->fields[i].child, &sub))
				goto fail;
			for (size_t j = 0; j < sub.n; j++) {
				struct node *w = node_new();
				struct field *f = node_add_field(w, n->fields[i].key,
								 n->fields[i].keylen);

				f->child = sub.v[j];
				sub.v[j] = NULL;
				nodelist_add(&opts, w);
			}
			nodelist_release(&sub);
		} else {
			const struct orgroup *g = &n->ors[i - n->nfields];

			for (size_t a = 0; a < g->nalts; a++) {
				if (!expand(c, g->alts[a], &opts)) {
					nodelist_release(&opts);
					goto fail;
				}
			}
		}
		if (opts.n > FILTER_MAX_COMBINATIONS / cur.n) {
			nodelist_release(&opts);
			compile_error(c, "pattern has too many combinations of $or "
				      "(at most %d)", FILTER_MAX_COMBINATIONS);
			goto fail;
		}
		for (size_t j = 0; j < cur.n; j++)
			total += opts.n * node_size(cur.v[j]);
		for (size_t k = 0; k < opts.n; k++)
			total += cur.n * node_size(opts.v[k]);
		if (total > FILTER_MAX_FIELDS) {
			nodelist_release(&opts);
			compile_error(c, "pattern is too complex (more than %d fields "
				      "once $or is multiplied out)", FILTER_MAX_FIELDS);
			goto fail;
		}
		for (size_t j = 0; j < cur.n; j++) {
			for (size_t k = 0; k < opts.n; k++) {
				struct node *w = node_clone(cur.v[j]);

				node_merge(w, opts.v[k]);
				nodelist_add(&next, w);
			}
		}
		nodelist_release(&opts);
		nodelist_release(&cur);
		cur = next;
	}
	for (size_t j = 0; j < cur.n; j++) {
		nodelist_add(out, cur.v[j]);
		cur.v[j] = NULL;
	}
	ok = true;
fail:
	nodelist_release(&cur);
	return ok;
}

es_result filter_compile(const char *p, size_t n, const char *base_path,
			 filter **out, buf *err)
{
	struct compiler c;
	struct nodelist alts = { NULL, 0, 0 };
	struct node *root = NULL;
	json_value v;
	json_error jerr;

	*out = NULL;
	c.f = xcalloc(1, sizeof(*c.f));
	buf_init(&c.path, 0);
	buf_addstr(&c.path, base_path ? base_path : "$");
	c.err = err;
	c.failed = false;

	if (n > FILTER_MAX_TEXT) {
		compile_error(&c, "pattern is too long (%zu bytes, at most %d)",
			      n, FILTER_MAX_TEXT);
		goto fail;
	}
	if (!json_parse(p, n, FILTER_MAX_JSON_DEPTH, &v, &jerr)) {
		compile_error(&c, "invalid JSON at offset %zu: %s", jerr.offset, jerr.reason);
		goto fail;
	}
	if (v.type != JSON_OBJECT) {
		compile_error(&c, "pattern must be an object, not %s %s",
			      v.type == JSON_ARRAY || v.type == JSON_OBJECT ? "an" : "a",
			      json_type_name(v.type));
		goto fail;
	}
	root = compile_object(&c, v, 0);
	if (!root || !expand(&c, root, &alts))
		goto fail;
	c.f->alts = alts.v;
	c.f->nalts = alts.n;
	for (size_t i = 0; i < alts.n; i++)
		node_compute_monotone(alts.v[i]);
	node_free(root);
	buf_release(&c.path);
	*out = c.f;
	return ES_OK;
fail:
	nodelist_release(&alts);
	node_free(root);
	buf_release(&c.path);
	filter_free(c.f);
	return ES_ERR_CONFIG;
}

void filter_free(filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nalts; i++)
		node_free(f->alts[i]);
	free(f->alts);
	for (size_t i = 0; i < f->nleaves; i++)
		leaf_free(f->leaves[i]);
	free(f->leaves);
	free(f);
}

/* --- matching ---------------------------------------------------------- */

/* An event string's decoded bytes, decoded only when needed. */
struct strval {
	json_value v;
	const char *p;
	size_t n;
	char *heap;
	char small[256];
	bool ready;
};

static void strval_init(struct strval *s, json_value v)
{
	s->v = v;
	s->heap = NULL;
	s->ready = false;
}

static void strval_get(struct strval *s, const char **p, size_t *n)
{
	if (!s->ready) {
		if (!json_string_has_escape(s->v)) {
			s->p = s->v.p + 1;
			s->n = s->v.n - 2;
		} else {
			char *dst = s->v.n <= sizeof(s->small) ? s->small
							       : (s->heap = xmalloc(s->v.n));

			s->n = json_string_decode(s->v, dst);
			s->p = dst;
		}
		s->ready = true;
	}
	*p = s->p;
	*n = s->n;
}

static void strval_release(struct strval *s)
{
	free(s->heap);
	s->heap = NULL;
}

static bool cond_match(const struct cond *c, json_value v, struct strval *sv)
{
	const char *s;
	size_t n;

	switch (c->kind) {
	case COND_STRING:
		if (v.type != JSON_STRING)
			return false;
		strval_get(sv, &s, &n);
		return n == c->n && !memcmp(s, c->s, n);
	case COND_NUMBER: {
		json_value pv = { c->s, c->n, JSON_NUMBER };

		return v.type == JSON_NUMBER && json_number_compare(v, pv) == 0;
	}
	case COND_TRUE:
		return v.type == JSON_TRUE;
	case COND_FALSE:
		return v.type == JSON_FALSE;
	case COND_NULL:
		return v.type == JSON_NULL;
	}
	return false;
}

/* Does a scalar satisfy any condition of the leaf? */
static bool leaf_match_scalar(const struct leaf *l, json_value v)
{
	struct strval sv;
	bool r = false;

	strval_init(&sv, v);
	for (size_t i = 0; i < l->nconds && !r; i++)
		r = cond_match(&l->conds[i], v, &sv);
	strval_release(&sv);
	return r;
}

/* What one pass over the event found for a field. */
struct fstate {
	bool settled;        /* holds whatever else is found */
	bool has_value;      /* a leaf: some scalar value is present */
	uint64_t dotted;     /* a child: views with members "key.x" */
};

/* Feed a value (scalar, or array to flatten) to a leaf's state. */
static void leaf_feed(const struct leaf *l, json_value v, struct fstate *st,
		      unsigned depth)
{
	if (v.type == JSON_OBJECT)
		return;
	if (v.type == JSON_ARRAY) {
		json_iter it;
		json_value e;

		if (depth >= FILTER_MAX_EVENT_DEPTH)
			return;
		json_iter_init(&it, v);
		while (!st->settled && json_iter_element(&it, &e))
			leaf_feed(l, e, st, depth + 1);
		return;
	}
	st->has_value = true;
	if (leaf_match_scalar(l, v))
		st->settled = true;
}

/* An event object whose keys are seen relative to path[from..depth). */
struct view {
	json_value obj;
	unsigned from;
};

struct matcher {
	const struct field *path[FILTER_MAX_DEPTH + 1];
	unsigned edepth;     /* event nesting of the object being matched */
};

/* A key's decoded bytes (into scratch when escaped; free *heap after). */
static void key_bytes(json_value k, char *scratch, size_t scratch_size,
		      const char **p, size_t *n, char **heap)
{
	*heap = NULL;
	if (!json_string_has_escape(k)) {
		*p = k.p + 1;
		*n = k.n - 2;
		return;
	}
	if (k.n > scratch_size)
		scratch = *heap = xmalloc(k.n);
	*n = json_string_decode(k, scratch);
	*p = scratch;
}

/* Strip "seg1.seg2...segN." (path[from..depth)) from the key; false if the
 * key does not start with it. */
static bool strip_path(const struct matcher *m, unsigned from, unsigned depth,
		       const char **k, size_t *kn)
{
	const char *p = *k;
	size_t n = *kn;

	for (unsigned i = from; i < depth; i++) {
		const struct field *f = m->path[i];

		if (n < f->keylen + 1 || memcmp(p, f->key, f->keylen) || p[f->keylen] != '.')
			return false;
		p += f->keylen + 1;
		n -= f->keylen + 1;
	}
	*k = p;
	*kn = n;
	return true;
}

static bool match_node(struct matcher *m, const struct node *nd, unsigned depth,
		       const struct view *views, size_t nviews);

/* Match a child node against each object in v (arrays flattened), alone
 * or together with extra views.  *objects counts the objects seen. */
static bool child_try(struct matcher *m, const struct node *child, unsigned depth,
		      json_value v, const struct view *extra, size_t nextra,
		      size_t *objects, unsigned edepth)
{
	if (v.type == JSON_OBJECT) {
		struct view views[FILTER_MAX_DEPTH + 2];
		unsigned saved = m->edepth;
		bool r;

		(*objects)++;
		views[0].obj = v;
		views[0].from = depth + 1;
		if (nextra)
			memcpy(views + 1, extra, nextra * sizeof(*extra));
		m->edepth = edepth;
		r = match_node(m, child, depth + 1, views, nextra + 1);
		m->edepth = saved;
		return r;
	}
	if (v.type == JSON_ARRAY && edepth < FILTER_MAX_EVENT_DEPTH) {
		json_iter it;
		json_value e;

		json_iter_init(&it, v);
		while (json_iter_element(&it, &e))
			if (child_try(m, child, depth, e, extra, nextra, objects, edepth + 1))
				return true;
	}
	return false;
}

/* Second look at a child field that one pass could not settle: it needs
 * the members of dotted keys ("key.x") or it is not monotone. */
static bool child_settle(struct matcher *m, const struct field *f, unsigned depth,
			 const struct view *views, size_t nviews, uint64_t dotted)
{
	struct view extra[FILTER_MAX_DEPTH + 1];
	size_t nextra = 0, objects = 0, occurrences = 0;
	json_value single = { NULL, 0, JSON_NULL };

	for (size_t i = 0; i < nviews; i++)
		if (dotted & ((uint64_t)1 << i))
			extra[nextra++] = views[i];
	m->path[depth] = f;
	/* count the real occurrences; a single object is seen together with
	 * the dotted members, several each on their own (this keeps the work
	 * linear on events with many elements) */
	for (size_t i = 0; i < nviews; i++) {
		json_iter it;
		json_value k, v;

		json_iter_init(&it, views[i].obj);
		while (json_iter_member(&it, &k, &v)) {
			char scratch[256], *heap;
			const char *kp;
			size_t kn;
			bool hit;

			key_bytes(k, scratch, sizeof(scratch), &kp, &kn, &heap);
			hit = strip_path(m, views[i].from, depth, &kp, &kn) &&
			      kn == f->keylen && !memcmp(kp, f->key, kn);
			free(heap);
			if (!hit)
				continue;
			occurrences++;
			if (occurrences == 1) {
				single = v;
				continue;
			}
			if (occurrences == 2 &&
			    child_try(m, f->child, depth, single, NULL, 0, &objects,
				      m->edepth + 1))
				return true;
			if (child_try(m, f->child, depth, v, NULL, 0, &objects,
				      m->edepth + 1))
				return true;
		}
	}
	if (occurrences == 1 &&
	    child_try(m, f->child, depth, single, extra, nextra, &objects, m->edepth + 1))
		return true;
	if (occurrences > 1 && nextra &&
	    match_node(m, f->child, depth + 1, extra, nextra))
		return true;
	if (!objects)
		return match_node(m, f->child, depth + 1, extra, nextra);
	return false;
}

/* Does the node (at path depth `depth`) match the union of the views? */
static bool match_node(struct matcher *m, const struct node *nd, unsigned depth,
		       const struct view *views, size_t nviews)
{
	struct fstate small[16], *st = small;
	size_t nsettled = 0;
	bool r = false;

	if (nd->nfields > sizeof(small) / sizeof(small[0]))
		st = xcalloc(nd->nfields, sizeof(*st));
	else
		memset(small, 0, sizeof(small));

	for (size_t i = 0; i < nviews && nsettled < nd->nfields; i++) {
		json_iter it;
		json_value k, v;

		json_iter_init(&it, views[i].obj);
		while (nsettled < nd->nfields && json_iter_member(&it, &k, &v)) {
			char scratch[256], *heap;
			const char *kp;
			size_t kn;

			key_bytes(k, scratch, sizeof(scratch), &kp, &kn, &heap);
			if (!strip_path(m, views[i].from, depth, &kp, &kn)) {
				free(heap);
				continue;
			}
			for (size_t j = 0; j < nd->nfields; j++) {
				const struct field *f = &nd->fields[j];
				size_t objects = 0;

				if (st[j].settled || kn < f->keylen || memcmp(kp, f->key, f->keylen))
					continue;
				if (kn > f->keylen) {
					if (f->child && kp[f->keylen] == '.')
						st[j].dotted |= (uint64_t)1 << i;
					continue;
				}
				if (f->leaf) {
					leaf_feed(f->leaf, v, &st[j], m->edepth + 1);
				} else if (f->child->monotone) {
					m->path[depth] = f;
					st[j].settled = child_try(m, f->child, depth, v, NULL, 0,
								  &objects, m->edepth + 1);
				}
				if (st[j].settled)
					nsettled++;
			}
			free(heap);
		}
	}
	if (nsettled == nd->nfields) {
		r = true;
		goto done;
	}
	/* leaves first: they are decided now */
	for (size_t j = 0; j < nd->nfields; j++) {
		const struct field *f = &nd->fields[j];

		if (f->leaf && !st[j].settled && !(f->leaf->exists_false && !st[j].has_value))
			goto done;
	}
	for (size_t j = 0; j < nd->nfields; j++) {
		const struct field *f = &nd->fields[j];

		if (!f->child || st[j].settled)
			continue;
		if (f->child->monotone && !st[j].dotted)
			goto done;   /* every occurrence was tried */
		if (!child_settle(m, f, depth, views, nviews, st[j].dotted))
			goto done;
	}
	r = true;
done:
	if (st != small)
		free(st);
	return r;
}

bool filter_match(const filter *f, json_value event)
{
	struct matcher m;
	struct view root;

	if (!f || event.type != JSON_OBJECT)
		return false;
	root.obj = event;
	root.from = 0;
	for (size_t i = 0; i < f->nalts; i++) {
		m.edepth = 0;
		if (match_node(&m, f->alts[i], 0, &root, 1))
			return true;
	}
	return false;
}
