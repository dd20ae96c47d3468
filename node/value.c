/* value: protobuf Value <-> SQLite, the type check of remote values and
 * the printable form. See value.h. */
#include "value.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

Linli__Value *li_value_from_sqlite(li_arena *a, sqlite3_value *sv) {
  Linli__Value *v = li_arena_alloc(a, sizeof *v);
  if (!v) return NULL;
  linli__value__init(v);
  switch (sqlite3_value_type(sv)) {
  case SQLITE_INTEGER:
    v->v_case = LINLI__VALUE__V_I;
    v->i = sqlite3_value_int64(sv);
    break;
  case SQLITE_FLOAT:
    v->v_case = LINLI__VALUE__V_F;
    v->f = sqlite3_value_double(sv);
    break;
  case SQLITE_TEXT: {
    const char *t = (const char *)sqlite3_value_text(sv);
    v->v_case = LINLI__VALUE__V_T;
    v->t = li_arena_strndup(a, t ? t : "", (size_t)sqlite3_value_bytes(sv));
    if (!v->t) return NULL;
    break;
  }
  case SQLITE_BLOB: {
    size_t n = (size_t)sqlite3_value_bytes(sv);
    v->v_case = LINLI__VALUE__V_B;
    v->b.len = n;
    v->b.data = li_arena_alloc(a, n);
    if (!v->b.data) return NULL;
    if (n) memcpy(v->b.data, sqlite3_value_blob(sv), n);
    break;
  }
  default:
    v->v_case = LINLI__VALUE__V_NULL;
    v->null = 1;
  }
  return v;
}

Linli__Value *li_value_from_column(li_arena *a, sqlite3_stmt *st, int col) {
  return li_value_from_sqlite(a, sqlite3_column_value(st, col));
}

int li_value_bind(sqlite3_stmt *st, int idx, const Linli__Value *v) {
  switch (v->v_case) {
  case LINLI__VALUE__V_I: return sqlite3_bind_int64(st, idx, v->i);
  case LINLI__VALUE__V_F: return sqlite3_bind_double(st, idx, v->f);
  case LINLI__VALUE__V_T: return sqlite3_bind_text(st, idx, v->t, -1, SQLITE_STATIC);
  case LINLI__VALUE__V_B: return sqlite3_bind_blob(st, idx, v->b.len ? (const void *)v->b.data : "", (int)v->b.len, SQLITE_STATIC);
  default: return sqlite3_bind_null(st, idx);
  }
}

bool li_value_fits(const Linli__Value *v, li_affinity aff) {
  /* TEXT affinity turns every INTEGER and REAL into its text before storing
   * it; every other affinity keeps some value of each class (a text or
   * blob that does not look like a number stays as it is), so a replica
   * can have sealed it. */
  if (aff == LI_AFF_TEXT) return v->v_case != LINLI__VALUE__V_I && v->v_case != LINLI__VALUE__V_F;
  return true;
}

bool li_value_equals_column(const Linli__Value *v, sqlite3_stmt *st, int col) {
  int ty = sqlite3_column_type(st, col);
  switch (v->v_case) {
  case LINLI__VALUE__V_I: return ty == SQLITE_INTEGER && sqlite3_column_int64(st, col) == v->i;
  case LINLI__VALUE__V_F: return ty == SQLITE_FLOAT && sqlite3_column_double(st, col) == v->f;
  case LINLI__VALUE__V_T: {
    if (ty != SQLITE_TEXT) return false;
    size_t n = strlen(v->t);
    return (size_t)sqlite3_column_bytes(st, col) == n && memcmp(sqlite3_column_text(st, col), v->t, n) == 0;
  }
  case LINLI__VALUE__V_B:
    return ty == SQLITE_BLOB && (size_t)sqlite3_column_bytes(st, col) == v->b.len &&
           (v->b.len == 0 || memcmp(sqlite3_column_blob(st, col), v->b.data, v->b.len) == 0);
  default: return ty == SQLITE_NULL;
  }
}

/* ---- printable form ---- */

/* Length of the well-formed UTF-8 sequence at s (at most n bytes) and its
 * code point, or 0 when the bytes there are not one. */
static size_t s_utf8(const unsigned char *s, size_t n, uint32_t *cp) {
  size_t len;
  uint32_t v, min;
  if (s[0] < 0x80) len = 1, v = s[0], min = 0;
  else if ((s[0] & 0xE0) == 0xC0) len = 2, v = s[0] & 0x1F, min = 0x80;
  else if ((s[0] & 0xF0) == 0xE0) len = 3, v = s[0] & 0x0F, min = 0x800;
  else if ((s[0] & 0xF8) == 0xF0) len = 4, v = s[0] & 0x07, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

/* Marks that reorder or break the text around them on a terminal. */
static bool s_invisible_mark(uint32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

/* The printable piece of the character at s (out holds 16 bytes); *used
 * gets the bytes it stands for. */
static size_t s_piece(const unsigned char *s, size_t n, char *out, size_t *used) {
  uint32_t cp = 0;
  size_t len = s_utf8(s, n, &cp);
  *used = len ? len : 1;
  if (len == 0 || cp < 0x20 || cp == 0x7F) return (size_t)snprintf(out, 16, "\\x%02x", s[0]);
  if ((cp >= 0x80 && cp <= 0x9F) || s_invisible_mark(cp)) return (size_t)snprintf(out, 16, "\\u{%04x}", (unsigned)cp);
  if (cp == '\'') return (size_t)snprintf(out, 16, "''");
  if (cp == '\\') return (size_t)snprintf(out, 16, "\\\\");
  memcpy(out, s, len);
  return len;
}

/* 'text' as li_value_format prints it. */
static void s_format_text(const char *t, char *buf, size_t cap) {
  static const char cut[] = "...'";
  const unsigned char *s = (const unsigned char *)t;
  size_t n = strlen(t), total = 2, used, k;
  char piece[16];
  for (size_t i = 0; i < n; i += used) total += s_piece(s + i, n - i, piece, &used);
  bool fits = total < cap;
  size_t room = fits ? cap - 1 : (cap > sizeof cut ? cap - sizeof cut : 0), o = 0;
  if (o < room) buf[o++] = '\'';
  for (size_t i = 0; i < n && o < room; i += used) {
    if ((k = s_piece(s + i, n - i, piece, &used)) > room - o) break;
    memcpy(buf + o, piece, k);
    o += k;
  }
  const char *end = fits ? "'" : cut;
  for (size_t j = 0; end[j] && o + 1 < cap; j++) buf[o++] = end[j];
  buf[o] = 0;
}

void li_value_format(const Linli__Value *v, char *buf, size_t cap) {
  if (cap == 0) return;
  switch (v->v_case) {
  case LINLI__VALUE__V_I: snprintf(buf, cap, "%lld", (long long)v->i); break;
  case LINLI__VALUE__V_F: snprintf(buf, cap, "%.17g", v->f); break;
  case LINLI__VALUE__V_T: s_format_text(v->t ? v->t : "", buf, cap); break;
  case LINLI__VALUE__V_B: snprintf(buf, cap, "x'<%zu bytes>'", v->b.len); break;
  default: snprintf(buf, cap, "NULL");
  }
}
