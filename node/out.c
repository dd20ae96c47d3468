/* out: writing untrusted text to a terminal, as JSON and as CSV (see
 * out.h for the four rules).
 *
 *   stored bytes --li_utf8_next--> code points (U+FFFD for bad bytes)
 *     --s_terminal_cp, s_cp_width--> li_out_clean, li_out_text, li_out_pad, li_out_table_*
 *     --s_json_string-->             li_json_str, li_json_key
 *     --(quotes doubled)-->          li_csv_text
 *
 * JSON writer states (per open level, the top one is checked):
 *
 *   empty --value|container--> done                      (depth 0)
 *   object --li_json_key--> after_key --value--> object  (comma before the next key)
 *   array --value--> array                               (comma before the next value)
 *
 * Invariants of li_json (s_json_check):
 *  1. 0 <= depth <= LI_JSON_DEPTH_MAX.
 *  2. after_key only when the top open level is an object.
 *  3. done only at depth 0, and nothing is written after done but the
 *     final newline. */
#include "out.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <utf8proc.h>

/* ---- UTF-8 ---- */

size_t li_utf8_next(const char *s, size_t n, uint32_t *cp) {
  assert(s && n >= 1 && cp);
  utf8proc_int32_t v = 0;
  utf8proc_ssize_t len = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &v);
  if (len < 1 || v < 0) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = (uint32_t)v;
  return (size_t)len;
}

/* Encodes a code point li_utf8_next produced (always valid). */
static size_t s_utf8_put(uint32_t cp, char out[4]) {
  utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out);
  assert(n >= 1 && n <= 4);
  return (size_t)n;
}

void li_utf8_copy(char *dst, size_t cap, const char *src) {
  assert(dst && cap >= 1);
  size_t len = src ? strlen(src) : 0;
  if (len >= cap) {
    len = cap - 1;
    while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80) len--;
  }
  if (len) memcpy(dst, src, len);
  dst[len] = 0;
}

/* ---- terminal ---- */

/* Characters a terminal must not receive from untrusted text: they move
 * the cursor, change modes, end lines or reorder what follows. */
static bool s_unsafe_for_terminal(uint32_t cp) {
  utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
  if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP) return true;
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

static uint32_t s_terminal_cp(uint32_t cp) { return s_unsafe_for_terminal(cp) ? '?' : cp; }

static int s_cp_width(uint32_t cp) {
  int w = utf8proc_charwidth((utf8proc_int32_t)cp);
  return w < 0 ? 1 : w;
}

int li_out_width(const char *s) {
  int w = 0;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    w += s_cp_width(s_terminal_cp(cp));
  }
  return w;
}

void li_out_clean(char *out, size_t cap, const char *s, int cols_max) {
  assert(out && cap >= 8 && cols_max >= 1);
  size_t n = s ? strlen(s) : 0, o = 0, o_tilde = 0;
  int w = 0;
  bool cut = false;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    cp = s_terminal_cp(cp);
    char b[4];
    size_t len = s_utf8_put(cp, b);
    int cw = s_cp_width(cp);
    if (w + cw > cols_max || o + len > cap - 1) {
      cut = true;
      break;
    }
    memcpy(out + o, b, len);
    o += len;
    w += cw;
    /* where a cut would end: a '~' (one column, one byte) still fits after it */
    if (w <= cols_max - 1 && o <= cap - 2) o_tilde = o;
  }
  if (cut) {
    o = o_tilde;
    out[o++] = '~';
  }
  out[o] = 0;
}

void li_out_text(FILE *f, const char *s) {
  size_t n = s ? strlen(s) : 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    char b[4];
    fwrite(b, 1, s_utf8_put(s_terminal_cp(cp), b), f);
  }
}

void li_html_text(FILE *f, const char *s) {
  size_t n = s ? strlen(s) : 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    switch (cp) {
    case '&': fputs("&amp;", f); continue;
    case '<': fputs("&lt;", f); continue;
    case '>': fputs("&gt;", f); continue;
    case '"': fputs("&quot;", f); continue;
    case '\'': fputs("&#39;", f); continue;
    default: break;
    }
    if (cp != '\n' && cp != '\t' && s_unsafe_for_terminal(cp)) cp = 0xFFFD;
    char b[4];
    fwrite(b, 1, s_utf8_put(cp, b), f);
  }
}

void li_url_part(FILE *f, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
      fputc(*p, f);
    else
      fprintf(f, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
  }
}

static void s_spaces(FILE *f, int n) {
  for (int i = 0; i < n; i++) fputc(' ', f);
}

void li_out_pad(FILE *f, const char *s, int width, int cols_max) {
  assert(cols_max >= 1 && cols_max <= LI_OUT_CELL_COLS_MAX);
  char cell[LI_OUT_CELL_BYTES];
  li_out_clean(cell, sizeof cell, s, cols_max);
  fputs(cell, f);
  s_spaces(f, width - li_out_width(cell));
}

void li_out_table_init(li_out_table *t, const li_out_col *cols, int ncols) {
  assert(t && cols && ncols >= 1 && ncols <= LI_OUT_TABLE_COLS_MAX);
  memset(t, 0, sizeof *t);
  t->cols = cols;
  t->ncols = ncols;
  for (int c = 0; c < ncols; c++) {
    char cell[LI_OUT_CELL_BYTES];
    li_out_clean(cell, sizeof cell, cols[c].header, LI_OUT_CELL_COLS_MAX);
    t->width[c] = li_out_width(cell);
  }
}

void li_out_table_fit(li_out_table *t, const char *const *cells) {
  for (int c = 0; c < t->ncols; c++) {
    char cell[LI_OUT_CELL_BYTES];
    li_out_clean(cell, sizeof cell, cells[c], LI_OUT_CELL_COLS_MAX);
    int w = li_out_width(cell);
    if (w > t->width[c]) t->width[c] = w;
  }
}

void li_out_table_row(FILE *f, const li_out_table *t, const char *const *cells) {
  for (int c = 0; c < t->ncols; c++) {
    char cell[LI_OUT_CELL_BYTES];
    li_out_clean(cell, sizeof cell, cells[c], LI_OUT_CELL_COLS_MAX);
    int pad = t->width[c] - li_out_width(cell);
    if (c) fputs("  ", f);
    if (t->cols[c].align == LI_OUT_RIGHT) s_spaces(f, pad);
    fputs(cell, f);
    if (t->cols[c].align == LI_OUT_LEFT && c < t->ncols - 1) s_spaces(f, pad);
  }
  fputc('\n', f);
}

void li_out_table_header(FILE *f, const li_out_table *t) {
  const char *cells[LI_OUT_TABLE_COLS_MAX];
  for (int c = 0; c < t->ncols; c++) cells[c] = t->cols[c].header;
  li_out_table_row(f, t, cells);
}

void li_out_table_rule(FILE *f, const li_out_table *t) {
  int total = 2 * (t->ncols - 1);
  for (int c = 0; c < t->ncols; c++) total += t->width[c];
  for (int i = 0; i < total; i++) fputc('-', f);
  fputc('\n', f);
}

/* ---- JSON ---- */

static bool s_json_check(const li_json *j) {
  if (!j->f || j->depth < 0 || j->depth > LI_JSON_DEPTH_MAX) return false;
  if (j->after_key && (j->depth == 0 || !j->is_object[j->depth - 1])) return false;
  if (j->done && j->depth != 0) return false;
  return true;
}

static void s_json_string(FILE *f, const char *s) {
  size_t n = strlen(s);
  fputc('"', f);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    if (cp == '"' || cp == '\\') {
      fputc('\\', f);
      fputc((int)cp, f);
    } else if (cp == '\n') {
      fputs("\\n", f);
    } else if (cp == '\r') {
      fputs("\\r", f);
    } else if (cp == '\t') {
      fputs("\\t", f);
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
      fprintf(f, "\\u%04x", (unsigned)cp);
    } else {
      char b[4];
      fwrite(b, 1, s_utf8_put(cp, b), f);
    }
  }
  fputc('"', f);
}

static void s_json_flush_space(li_json *j) {
  if (j->space) fputs(j->space, j->f);
  j->space = NULL;
}

/* Before a value (scalar or container): its comma in an array, and layout. */
static void s_json_before_value(li_json *j) {
  assert(s_json_check(j));
  assert(!j->done);
  if (j->depth > 0) {
    int top = j->depth - 1;
    if (j->is_object[top]) {
      assert(j->after_key); /* a value inside an object needs its key first */
      j->after_key = false;
    } else {
      if (j->has_items[top]) fputc(',', j->f);
      j->has_items[top] = true;
    }
  }
  s_json_flush_space(j);
}

static void s_json_after_value(li_json *j) {
  if (j->depth == 0) j->done = true;
  assert(s_json_check(j));
}

void li_json_init(li_json *j, FILE *f) {
  assert(j && f);
  memset(j, 0, sizeof *j);
  j->f = f;
  assert(s_json_check(j));
}

static void s_json_open(li_json *j, bool object) {
  s_json_before_value(j);
  assert(j->depth < LI_JSON_DEPTH_MAX);
  fputc(object ? '{' : '[', j->f);
  j->is_object[j->depth] = object;
  j->has_items[j->depth] = false;
  j->depth++;
  assert(s_json_check(j));
}

static void s_json_close(li_json *j, bool object) {
  assert(s_json_check(j));
  assert(j->depth > 0 && j->is_object[j->depth - 1] == object && !j->after_key);
  s_json_flush_space(j);
  fputc(object ? '}' : ']', j->f);
  j->depth--;
  s_json_after_value(j);
}

void li_json_object(li_json *j) { s_json_open(j, true); }
void li_json_object_end(li_json *j) { s_json_close(j, true); }
void li_json_array(li_json *j) { s_json_open(j, false); }
void li_json_array_end(li_json *j) { s_json_close(j, false); }

void li_json_key(li_json *j, const char *key) {
  assert(s_json_check(j));
  assert(key && j->depth > 0 && j->is_object[j->depth - 1] && !j->after_key);
  int top = j->depth - 1;
  if (j->has_items[top]) fputc(',', j->f);
  j->has_items[top] = true;
  s_json_flush_space(j);
  s_json_string(j->f, key);
  fputc(':', j->f);
  j->after_key = true;
  assert(s_json_check(j));
}

void li_json_str(li_json *j, const char *s) {
  if (!s) {
    li_json_null(j);
    return;
  }
  s_json_before_value(j);
  s_json_string(j->f, s);
  s_json_after_value(j);
}

void li_json_int(li_json *j, int64_t v) {
  s_json_before_value(j);
  fprintf(j->f, "%" PRId64, v);
  s_json_after_value(j);
}

void li_json_uint(li_json *j, uint64_t v) {
  s_json_before_value(j);
  fprintf(j->f, "%" PRIu64, v);
  s_json_after_value(j);
}

void li_json_fixed(li_json *j, int64_t scaled, int places) {
  assert(places >= 1 && places <= 9);
  uint64_t unit = 1;
  for (int i = 0; i < places; i++) unit *= 10;
  /* the magnitude as unsigned, so INT64_MIN has one too */
  uint64_t mag = scaled < 0 ? (uint64_t)0 - (uint64_t)scaled : (uint64_t)scaled;
  s_json_before_value(j);
  fprintf(j->f, "%s%" PRIu64 ".%0*" PRIu64, scaled < 0 ? "-" : "", mag / unit, places, mag % unit);
  s_json_after_value(j);
}

void li_json_bool(li_json *j, bool v) {
  s_json_before_value(j);
  fputs(v ? "true" : "false", j->f);
  s_json_after_value(j);
}

void li_json_null(li_json *j) {
  s_json_before_value(j);
  fputs("null", j->f);
  s_json_after_value(j);
}

void li_json_space(li_json *j, const char *ws) {
  assert(s_json_check(j));
  assert(ws && strspn(ws, " \t\r\n") == strlen(ws));
  j->space = ws;
}

void li_json_end(li_json *j) {
  assert(s_json_check(j));
  assert(j->done); /* exactly one complete value */
  s_json_flush_space(j);
  fputc('\n', j->f);
}

void li_json_kstr(li_json *j, const char *key, const char *s) {
  li_json_key(j, key);
  li_json_str(j, s);
}

void li_json_kint(li_json *j, const char *key, int64_t v) {
  li_json_key(j, key);
  li_json_int(j, v);
}

void li_json_kbool(li_json *j, const char *key, bool v) {
  li_json_key(j, key);
  li_json_bool(j, v);
}

/* ---- CSV ---- */

void li_csv_begin(li_csv *c, FILE *f) {
  assert(c && f);
  c->f = f;
  c->fields = 0;
  fputs("\xEF\xBB\xBF", f);
}

static void s_csv_separator(li_csv *c) {
  if (c->fields) fputc(',', c->f);
  c->fields++;
}

void li_csv_text(li_csv *c, const char *s) {
  s_csv_separator(c);
  if (!s) return;
  bool quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) fputc('"', c->f);
  if (s[0] && strchr("=+-@\t\r", s[0])) fputc('\'', c->f);
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += li_utf8_next(s + i, n - i, &cp);
    if (cp == '"') fputc('"', c->f);
    char b[4];
    fwrite(b, 1, s_utf8_put(cp, b), c->f);
  }
  if (quote) fputc('"', c->f);
}

void li_csv_int(li_csv *c, int64_t v) {
  s_csv_separator(c);
  fprintf(c->f, "%" PRId64, v);
}

void li_csv_plain(li_csv *c, const char *s) {
  assert(s && !strpbrk(s, ",\"\r\n"));
  s_csv_separator(c);
  fputs(s, c->f);
}

void li_csv_end_row(li_csv *c) {
  fputs("\r\n", c->f);
  c->fields = 0;
}
