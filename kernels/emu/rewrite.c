/* dlc_emu_rewrite OUT_DIR FILE...: copies CUDA sources (the .cu and .cuh files of kernels/) into OUT_DIR
 * for the emulated build (.cu becomes .cpp), rewriting the two constructs that are not C++:
 *
 *   name<T...><<<grid, block[, shared[, stream]]>>>(args)
 *     -> ::dlc_emu::config(grid, block[, shared[, stream]]).run("name<T...>", name<T...>, args)
 *   extern __shared__ [__align__(n)] T name[];
 *     -> T *name = (T *)::dlc_emu::dynamic_shared();
 *   __shared__ T a[N], b;   (inside a function)
 *     -> __shared__ T a[N], b; ::dlc_emu::shared_poison(&a, sizeof a); (and for b)
 *        so that a block starts with its shared memory poisoned (NaN), as dynamic
 *        shared memory is: a read before the write that a barrier should order shows up.
 *
 * Comments, string and character literals are copied untouched; line breaks are kept and a
 * #line directive names the original file, so compiler messages point at kernels/. Nothing
 * else changes: the emulated build compiles the very kernel code a GPU build does. */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *p;
  size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) {
      fprintf(stderr, "dlc_emu_rewrite: out of memory\n");
      exit(1);
    }
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static int is_ident(int c) { return isalnum(c) || c == '_' || c == ':'; }

/* Length of the comment or literal starting at s[i], or 0. */
static size_t skip_len(const char *s, size_t i, size_t n) {
  if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
    size_t j = i;
    while (j < n && s[j] != '\n') j++;
    return j - i;
  }
  if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
    const char *e = strstr(s + i + 2, "*/");
    return e ? (size_t)(e + 2 - (s + i)) : n - i;
  }
  if (s[i] == '"' || s[i] == '\'') {
    size_t j = i + 1;
    while (j < n && s[j] != s[i]) j += s[j] == '\\' ? 2 : 1;
    return (j < n ? j + 1 : n) - i;
  }
  return 0;
}

static void die(const char *file, const char *s, size_t at, const char *what) {
  int line = 1;
  for (size_t i = 0; i < at; i++) line += s[i] == '\n';
  fprintf(stderr, "%s:%d: dlc_emu_rewrite: %s\n", file, line, what);
  exit(1);
}

/* After a function-scope `__shared__ T a[N], b;` ending at s[semi]: one shared_poison
 * call per declarator, on the same line. */
static void poison_calls(const char *file, const char *s, size_t d0, size_t semi, buf *out) {
  size_t i = d0;
  while (i < semi) {
    /* A declarator: up to the next comma outside brackets and parentheses. */
    size_t e = i;
    int depth = 0;
    while (e < semi && (depth > 0 || s[e] != ',')) {
      if (s[e] == '[' || s[e] == '(') depth++;
      if (s[e] == ']' || s[e] == ')') depth--;
      e++;
    }
    size_t ne = e;
    for (size_t k = i; k < e; k++)
      if (s[k] == '[' || s[k] == '=') {
        ne = k;
        break;
      }
    while (ne > i && isspace((unsigned char)s[ne - 1])) ne--;
    size_t nb = ne;
    while (nb > i && is_ident((unsigned char)s[nb - 1])) nb--;
    if (nb == ne) die(file, s, d0, "no name in a __shared__ declaration");
    char call[320];
    snprintf(call, sizeof call, " ::dlc_emu::shared_poison(&%.*s, sizeof %.*s);", (int)(ne - nb), s + nb,
             (int)(ne - nb), s + nb);
    puts_(out, call);
    i = e + 1;
  }
}

/* Rewrites src into out. `done` is how much of src has been copied so far. */
static void rewrite(const char *file, const char *s, size_t n, buf *out) {
  size_t done = 0, i = 0;
  int braces = 0; /* depth of { }: 0 at file scope */
  while (i < n) {
    size_t sk = skip_len(s, i, n);
    if (sk) {
      i += sk;
      continue;
    }
    if (s[i] == '#') { /* a directive (a macro body may hold anything): copied as it is */
      size_t j = i;
      while (j < n && s[j] != '\n') j += (s[j] == '\\' && j + 1 < n) ? 2 : 1;
      if (!memmem(s + i, j - i, "<<<", 3)) {
        i = j;
        continue;
      }
      i++; /* a launch inside a macro: rewritten below */
      continue;
    }
    if (s[i] == '{') braces++;
    if (s[i] == '}') braces--;
    if (braces > 0 && strncmp(s + i, "__shared__", 10) == 0 && (i == 0 || !is_ident((unsigned char)s[i - 1])) &&
        !is_ident((unsigned char)s[i + 10])) {
      /* (`extern __shared__` never gets here: the `extern` branch below consumes it.) */
      const char *semi = memchr(s + i, ';', n - i);
      if (!semi) die(file, s, i, "__shared__ declaration without ;");
      size_t d0 = i + 10;
      /* The declarators start at the first name: the identifier before the first '[',
       * ',', '=' or ';' at parenthesis depth 0; the text before it is the type. */
      size_t first_end = d0;
      int depth = 0;
      while (s + first_end < semi && (depth > 0 || (s[first_end] != ',' && s[first_end] != '[' &&
                                                    s[first_end] != '='))) {
        if (s[first_end] == '(') depth++;
        if (s[first_end] == ')') depth--;
        first_end++;
      }
      size_t ne = first_end;
      while (ne > d0 && isspace((unsigned char)s[ne - 1])) ne--;
      size_t nb = ne;
      while (nb > d0 && is_ident((unsigned char)s[nb - 1])) nb--;
      put(out, s + done, (size_t)(semi - s) + 1 - done);
      poison_calls(file, s, nb, (size_t)(semi - s), out);
      done = i = (size_t)(semi - s) + 1;
      continue;
    }
    if (strncmp(s + i, "<<<", 3) == 0) {
      /* The kernel name: an identifier, then optional template arguments, then blanks. */
      size_t e = i;
      while (e > done && isspace((unsigned char)s[e - 1])) e--;
      size_t name_end = e;
      if (e > done && s[e - 1] == '>') {
        int depth = 0;
        do {
          e--;
          if (s[e] == '>') depth++;
          if (s[e] == '<') depth--;
        } while (e > done && depth > 0);
        if (depth != 0) die(file, s, i, "unbalanced template arguments before <<<");
        while (e > done && isspace((unsigned char)s[e - 1])) e--;
      }
      size_t name_start = e;
      while (name_start > done && is_ident((unsigned char)s[name_start - 1])) name_start--;
      if (name_start == e) die(file, s, i, "no kernel name before <<<");
      const char *close = strstr(s + i + 3, ">>>");
      if (!close) die(file, s, i, "<<< without >>>");
      size_t cfg0 = i + 3, cfg1 = (size_t)(close - s), j = cfg1 + 3;
      size_t ws2 = j;
      while (j < n && isspace((unsigned char)s[j])) j++;
      if (j >= n || s[j] != '(') die(file, s, i, "no argument list after >>>");
      size_t k = j + 1;
      while (k < n && isspace((unsigned char)s[k])) k++;
      int empty = k < n && s[k] == ')';

      put(out, s + done, name_start - done);
      puts_(out, "::dlc_emu::config(");
      put(out, s + cfg0, cfg1 - cfg0);
      puts_(out, ").run(\"");
      for (size_t c = name_start; c < name_end; c++)
        if (!isspace((unsigned char)s[c])) put(out, s + c, 1);
      puts_(out, "\", ");
      put(out, s + name_start, name_end - name_start);
      put(out, s + name_end, i - name_end); /* blanks (line breaks) before <<< */
      put(out, s + ws2, j - ws2);           /* and after >>> */
      if (!empty) puts_(out, ", ");
      done = i = j + 1;
      continue;
    }
    if (strncmp(s + i, "extern", 6) == 0 && (i == 0 || !is_ident((unsigned char)s[i - 1]))) {
      size_t j = i + 6;
      while (j < n && isspace((unsigned char)s[j])) j++;
      if (strncmp(s + j, "__shared__", 10) == 0) {
        const char *semi = memchr(s + j, ';', n - j);
        if (!semi) die(file, s, i, "extern __shared__ without ;");
        size_t d0 = j + 10, d1 = (size_t)(semi - s);
        /* The declaration: [__align__(n)] TYPE NAME[] */
        char decl[512];
        size_t len = d1 - d0;
        if (len >= sizeof decl) die(file, s, i, "extern __shared__ declaration too long");
        memcpy(decl, s + d0, len);
        decl[len] = 0;
        char *al = strstr(decl, "__align__");
        if (al) {
          char *rp = strchr(al, ')');
          if (!rp) die(file, s, i, "bad __align__");
          memset(al, ' ', (size_t)(rp + 1 - al));
        }
        char *br = strrchr(decl, '[');
        if (!br) die(file, s, i, "extern __shared__ must declare an array T name[]");
        *br = 0;
        char *ne = br;
        while (ne > decl && isspace((unsigned char)ne[-1])) ne--;
        char *nb = ne;
        while (nb > decl && is_ident((unsigned char)nb[-1])) nb--;
        if (nb == ne) die(file, s, i, "no name in extern __shared__ declaration");
        char name[128], type[512];
        snprintf(name, sizeof name, "%.*s", (int)(ne - nb), nb);
        *nb = 0;
        char *t = decl;
        while (isspace((unsigned char)*t)) t++;
        char *te = t + strlen(t);
        while (te > t && isspace((unsigned char)te[-1])) *--te = 0;
        snprintf(type, sizeof type, "%s", t);
        put(out, s + done, i - done);
        char line[1200];
        snprintf(line, sizeof line, "%s *%s = (%s *)::dlc_emu::dynamic_shared()", type, name, type);
        puts_(out, line);
        done = i = d1; /* the ';' is copied with what follows */
        continue;
      }
    }
    i++;
  }
  put(out, s + done, n - done);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: dlc_emu_rewrite OUT_DIR FILE.cu|FILE.cuh...\n");
    return 2;
  }
  for (int a = 2; a < argc; a++) {
    const char *in = argv[a];
    FILE *f = fopen(in, "rb");
    if (!f) {
      perror(in);
      return 1;
    }
    buf src = {0};
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) put(&src, chunk, got);
    fclose(f);
    if (!src.p) put(&src, "", 0);
    buf out = {0};
    char head[4200];
    snprintf(head, sizeof head, "#line 1 \"%s\"\n", in);
    puts_(&out, head);
    rewrite(in, src.p, src.n, &out);

    const char *base = strrchr(in, '/');
    base = base ? base + 1 : in;
    char path[4096];
    size_t bl = strlen(base);
    if (bl > 3 && strcmp(base + bl - 3, ".cu") == 0)
      snprintf(path, sizeof path, "%s/%.*s.cpp", argv[1], (int)(bl - 3), base);
    else
      snprintf(path, sizeof path, "%s/%s", argv[1], base);
    /* Write only when the text changed, so unchanged kernels are not recompiled. */
    FILE *old = fopen(path, "rb");
    if (old) {
      buf cur = {0};
      while ((got = fread(chunk, 1, sizeof chunk, old)) > 0) put(&cur, chunk, got);
      fclose(old);
      int same = cur.n == out.n && (out.n == 0 || memcmp(cur.p, out.p, out.n) == 0);
      free(cur.p);
      if (same) {
        free(src.p);
        free(out.p);
        continue;
      }
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "wb");
    if (!o || fwrite(out.p, 1, out.n, o) != out.n || fclose(o) != 0 || rename(tmp, path) != 0) {
      perror(path);
      return 1;
    }
    free(src.p);
    free(out.p);
  }
  return 0;
}
