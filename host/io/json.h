/* A small JSON reader for file headers (safetensors), and the growing string the writers
 * (safetensors headers, training logs) build text in. The whole text becomes a flat array of
 * nodes; strings are decoded (escapes, \u surrogate pairs to UTF-8) into one arena as long
 * as the text, so no node points into the text and the text need not be NUL-terminated.
 * Nesting depth is bounded and every read is checked against the text's length. */
#ifndef DLC_JSON_H
#define DLC_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum dlc_json_type {
  DLC_JSON_NULL,
  DLC_JSON_FALSE,
  DLC_JSON_TRUE,
  DLC_JSON_NUMBER,
  DLC_JSON_STRING,
  DLC_JSON_ARRAY,
  DLC_JSON_OBJECT
} dlc_json_type;

typedef struct dlc_json_node {
  dlc_json_type type;
  int count;         /* array or object: the number of children */
  int first, next;   /* the first child and the next sibling, -1 when none */
  const char *key;   /* a member of an object: its key, NUL-terminated */
  size_t key_len;    /* (keys and strings may hold \u0000: compare lengths too) */
  const char *str;   /* a string: its decoded bytes, NUL-terminated */
  size_t str_len;
  int is_uint;       /* a number written as a non-negative integer that fits uint64 */
  uint64_t u;
  size_t pos;        /* byte offset in the text, for messages */
} dlc_json_node;

typedef struct dlc_json_doc {
  dlc_json_node *nodes; /* nodes[0] is the root */
  int count, cap;
  char *arena;
  size_t arena_len, arena_cap;
  char error[160];      /* why parsing failed ... */
  size_t error_pos;     /* ... and where */
} dlc_json_doc;

#define DLC_JSON_MAX_DEPTH 64

/* Parses text[0, len): one value with optional surrounding whitespace. Returns 0 on
 * success; otherwise -1 with doc->error and doc->error_pos set, or -2 when memory ran out.
 * dlc_json_free releases the document either way. */
int dlc_json_parse(const char *text, size_t len, dlc_json_doc *doc);
void dlc_json_free(dlc_json_doc *doc);

static inline const dlc_json_node *dlc_json_at(const dlc_json_doc *doc, int i) {
  return i >= 0 && i < doc->count ? &doc->nodes[i] : NULL;
}

/* The member of object `obj` named `key` (the first one), or NULL. */
const dlc_json_node *dlc_json_member(const dlc_json_doc *doc, const dlc_json_node *obj, const char *key);

/* 1 when s[0, len) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), else 0. */
int dlc_utf8_valid(const char *s, size_t len);

/* ---- writing: a growing NUL-terminated string; oom = 1 (and nothing more is added) once an
 * allocation failed. Start from {0}; the owner frees p. */
typedef struct dlc_sbuf {
  char *p;
  size_t len, cap;
  int oom;
} dlc_sbuf;
void dlc_sb_put(dlc_sbuf *b, const char *s, size_t n);
void dlc_sb_printf(dlc_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string: quotes, backslashes and control characters escaped, UTF-8 kept. */
void dlc_sb_json_string(dlc_sbuf *b, const char *s);

#endif
