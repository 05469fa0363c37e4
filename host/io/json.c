/* The JSON reader (json.h): recursive descent over RFC 8259, depth-bounded. */
#include "io/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
  const unsigned char *s;
  size_t len, at;
  dlc_json_doc *doc;
  int oom;
} parser;

static int fail(parser *p, const char *why) {
  if (!p->doc->error[0]) {
    snprintf(p->doc->error, sizeof p->doc->error, "%s", why);
    p->doc->error_pos = p->at;
  }
  return -1;
}

static void skip_ws(parser *p) {
  while (p->at < p->len && (p->s[p->at] == ' ' || p->s[p->at] == '\t' || p->s[p->at] == '\n' || p->s[p->at] == '\r'))
    p->at++;
}

static int new_node(parser *p, dlc_json_type type) {
  dlc_json_doc *d = p->doc;
  if (d->count == d->cap) {
    int cap = d->cap ? d->cap * 2 : 64;
    if (cap < 0 || (size_t)cap > SIZE_MAX / sizeof *d->nodes) cap = -1;
    dlc_json_node *n = cap > 0 ? realloc(d->nodes, sizeof *n * (size_t)cap) : NULL;
    if (!n) {
      p->oom = 1;
      return fail(p, "out of memory");
    }
    d->nodes = n;
    d->cap = cap;
  }
  dlc_json_node *n = &d->nodes[d->count];
  memset(n, 0, sizeof *n);
  n->type = type;
  n->first = n->next = -1;
  n->pos = p->at;
  return d->count++;
}

static int hex4(parser *p, unsigned *v) {
  if (p->len - p->at < 4) return fail(p, "truncated \\u escape");
  *v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p->s[p->at++], h;
    if (c >= '0' && c <= '9') h = c - '0';
    else if (c >= 'a' && c <= 'f') h = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') h = c - 'A' + 10;
    else return fail(p, "bad hex digit in a \\u escape");
    *v = *v << 4 | h;
  }
  return 0;
}

/* A decoded string never outgrows its source ("\u00e9" is 6 bytes in, 2 out; the quotes
 * pay for the NUL), so the arena, sized to the text, never moves. */
static void put(parser *p, unsigned char c) { p->doc->arena[p->doc->arena_len++] = (char)c; }

static void put_utf8(parser *p, unsigned cp) {
  if (cp < 0x80) {
    put(p, (unsigned char)cp);
  } else if (cp < 0x800) {
    put(p, (unsigned char)(0xC0 | cp >> 6));
    put(p, (unsigned char)(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    put(p, (unsigned char)(0xE0 | cp >> 12));
    put(p, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
    put(p, (unsigned char)(0x80 | (cp & 0x3F)));
  } else {
    put(p, (unsigned char)(0xF0 | cp >> 18));
    put(p, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)));
    put(p, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
    put(p, (unsigned char)(0x80 | (cp & 0x3F)));
  }
}

/* At the opening quote; decodes into the arena. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
  p->at++;
  size_t start = p->doc->arena_len;
  for (;;) {
    if (p->at >= p->len) return fail(p, "unterminated string");
    unsigned char c = p->s[p->at];
    if (c == '"') {
      p->at++;
      break;
    }
    if (c < 0x20) return fail(p, "control character in a string");
    if (c != '\\') {
      put(p, c);
      p->at++;
      continue;
    }
    if (++p->at >= p->len) return fail(p, "unterminated escape");
    c = p->s[p->at++];
    switch (c) {
      case '"': case '\\': case '/': put(p, c); break;
      case 'b': put(p, '\b'); break;
      case 'f': put(p, '\f'); break;
      case 'n': put(p, '\n'); break;
      case 'r': put(p, '\r'); break;
      case 't': put(p, '\t'); break;
      case 'u': {
        unsigned cp, lo;
        if (hex4(p, &cp)) return -1;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, "lone low surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (p->len - p->at < 2 || p->s[p->at] != '\\' || p->s[p->at + 1] != 'u')
            return fail(p, "high surrogate without its low half");
          p->at += 2;
          if (hex4(p, &lo)) return -1;
          if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, "high surrogate without its low half");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        put_utf8(p, cp);
        break;
      }
      default: return fail(p, "unknown escape in a string");
    }
  }
  put(p, '\0');
  *out = p->doc->arena + start;
  *out_len = p->doc->arena_len - start - 1;
  return 0;
}

static int parse_number(parser *p, dlc_json_node *n) {
  int neg = 0, integer = 1;
  if (p->s[p->at] == '-') {
    neg = 1;
    p->at++;
  }
  if (p->at >= p->len || p->s[p->at] < '0' || p->s[p->at] > '9') return fail(p, "bad number");
  uint64_t v = 0;
  int overflow = 0;
  if (p->s[p->at] == '0') {
    p->at++;
  } else {
    while (p->at < p->len && p->s[p->at] >= '0' && p->s[p->at] <= '9') {
      unsigned d = p->s[p->at++] - '0';
      if (v > (UINT64_MAX - d) / 10) overflow = 1;
      else v = v * 10 + d;
    }
  }
  if (p->at < p->len && p->s[p->at] == '.') {
    integer = 0;
    p->at++;
    if (p->at >= p->len || p->s[p->at] < '0' || p->s[p->at] > '9') return fail(p, "bad number");
    while (p->at < p->len && p->s[p->at] >= '0' && p->s[p->at] <= '9') p->at++;
  }
  if (p->at < p->len && (p->s[p->at] == 'e' || p->s[p->at] == 'E')) {
    integer = 0;
    p->at++;
    if (p->at < p->len && (p->s[p->at] == '+' || p->s[p->at] == '-')) p->at++;
    if (p->at >= p->len || p->s[p->at] < '0' || p->s[p->at] > '9') return fail(p, "bad number");
    while (p->at < p->len && p->s[p->at] >= '0' && p->s[p->at] <= '9') p->at++;
  }
  n->is_uint = integer && !neg && !overflow;
  n->u = n->is_uint ? v : 0;
  return 0;
}

static int literal(parser *p, const char *word) {
  size_t n = strlen(word);
  if (p->len - p->at < n || memcmp(p->s + p->at, word, n) != 0) return fail(p, "unexpected character");
  p->at += n;
  return 0;
}

static int parse_value(parser *p, int depth);

/* Appends child index c to the node at index parent (by index: the array may move). */
static void link_child(parser *p, int parent, int *last, int c) {
  dlc_json_doc *d = p->doc;
  if (*last < 0) d->nodes[parent].first = c;
  else d->nodes[*last].next = c;
  *last = c;
  d->nodes[parent].count++;
}

static int parse_container(parser *p, int depth, int object) {
  if (depth >= DLC_JSON_MAX_DEPTH) return fail(p, "nested too deeply");
  int self = new_node(p, object ? DLC_JSON_OBJECT : DLC_JSON_ARRAY);
  if (self < 0) return -1;
  p->at++;
  skip_ws(p);
  char close = object ? '}' : ']';
  if (p->at < p->len && p->s[p->at] == (unsigned char)close) {
    p->at++;
    return self;
  }
  int last = -1;
  for (;;) {
    const char *key = NULL;
    size_t key_len = 0;
    if (object) {
      skip_ws(p);
      if (p->at >= p->len || p->s[p->at] != '"') return fail(p, "expected a string key");
      if (parse_string(p, &key, &key_len)) return -1;
      skip_ws(p);
      if (p->at >= p->len || p->s[p->at] != ':') return fail(p, "expected ':' after a key");
      p->at++;
    }
    int c = parse_value(p, depth + 1);
    if (c < 0) return -1;
    p->doc->nodes[c].key = key;
    p->doc->nodes[c].key_len = key_len;
    link_child(p, self, &last, c);
    skip_ws(p);
    if (p->at >= p->len) return fail(p, object ? "unterminated object" : "unterminated array");
    if (p->s[p->at] == ',') {
      p->at++;
      continue;
    }
    if (p->s[p->at] == (unsigned char)close) {
      p->at++;
      return self;
    }
    return fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static int parse_value(parser *p, int depth) {
  skip_ws(p);
  if (p->at >= p->len) return fail(p, "unexpected end of text");
  unsigned char c = p->s[p->at];
  if (c == '{' || c == '[') return parse_container(p, depth, c == '{');
  if (c == '"') {
    int n = new_node(p, DLC_JSON_STRING);
    if (n < 0) return -1;
    const char *s;
    size_t l;
    if (parse_string(p, &s, &l)) return -1;
    p->doc->nodes[n].str = s;
    p->doc->nodes[n].str_len = l;
    return n;
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    int n = new_node(p, DLC_JSON_NUMBER);
    if (n < 0) return -1;
    return parse_number(p, &p->doc->nodes[n]) ? -1 : n;
  }
  dlc_json_type t = c == 't' ? DLC_JSON_TRUE : c == 'f' ? DLC_JSON_FALSE : DLC_JSON_NULL;
  if (c != 't' && c != 'f' && c != 'n') return fail(p, "unexpected character");
  int n = new_node(p, t);
  if (n < 0) return -1;
  return literal(p, t == DLC_JSON_TRUE ? "true" : t == DLC_JSON_FALSE ? "false" : "null") ? -1 : n;
}

int dlc_json_parse(const char *text, size_t len, dlc_json_doc *doc) {
  memset(doc, 0, sizeof *doc);
  parser p = {(const unsigned char *)text, len, 0, doc, 0};
  doc->arena_cap = len + 1;
  doc->arena = malloc(doc->arena_cap);
  if (!doc->arena) {
    snprintf(doc->error, sizeof doc->error, "out of memory");
    return -2;
  }
  if (parse_value(&p, 0) < 0) return p.oom ? -2 : -1;
  skip_ws(&p);
  if (p.at != len) {
    fail(&p, "text after the value");
    return -1;
  }
  return 0;
}

void dlc_json_free(dlc_json_doc *doc) {
  if (!doc) return;
  free(doc->nodes);
  free(doc->arena);
  doc->nodes = NULL;
  doc->arena = NULL;
  doc->count = doc->cap = 0;
}

const dlc_json_node *dlc_json_member(const dlc_json_doc *doc, const dlc_json_node *obj, const char *key) {
  if (!obj || obj->type != DLC_JSON_OBJECT) return NULL;
  size_t kl = strlen(key);
  for (int c = obj->first; c >= 0; c = doc->nodes[c].next) {
    const dlc_json_node *n = &doc->nodes[c];
    if (n->key_len == kl && memcmp(n->key, key, kl) == 0) return n;
  }
  return NULL;
}

int dlc_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int more;
    unsigned cp, min;
    if (c >= 0xC2 && c <= 0xDF) { more = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { more = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { more = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (len - i <= (size_t)more) return 0;
    for (int k = 1; k <= more; k++) {
      unsigned b = s[i + (size_t)k];
      if ((b & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += (size_t)more + 1;
  }
  return 1;
}

/* ---------------------------------------------------------------- writing */

void dlc_sb_put(dlc_sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void dlc_sb_printf(dlc_sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof small) {
    dlc_sb_put(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  dlc_sb_put(b, big, (size_t)n);
  free(big);
}

void dlc_sb_json_string(dlc_sbuf *b, const char *s) {
  dlc_sb_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[8];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*p;
      dlc_sb_put(b, esc, 2);
    } else if (*p < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
      dlc_sb_put(b, esc, 6);
    } else {
      dlc_sb_put(b, (const char *)p, 1);
    }
  }
  dlc_sb_put(b, "\"", 1);
}
