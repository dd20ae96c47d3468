/* value: protobuf Value <-> SQLite. */
#include "value.h"

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
  switch (aff) {
  case LI_AFF_TEXT: return v->v_case == LINLI__VALUE__V_T || v->v_case == LINLI__VALUE__V_NULL;
  case LI_AFF_INT: return v->v_case == LINLI__VALUE__V_I || v->v_case == LINLI__VALUE__V_NULL;
  case LI_AFF_REAL:
    return v->v_case == LINLI__VALUE__V_F || v->v_case == LINLI__VALUE__V_I || v->v_case == LINLI__VALUE__V_NULL;
  default: return true;
  }
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

void li_value_format(const Linli__Value *v, char *buf, size_t cap) {
  switch (v->v_case) {
  case LINLI__VALUE__V_I: snprintf(buf, cap, "%lld", (long long)v->i); break;
  case LINLI__VALUE__V_F: snprintf(buf, cap, "%.17g", v->f); break;
  case LINLI__VALUE__V_T: snprintf(buf, cap, "'%s'", v->t); break;
  case LINLI__VALUE__V_B: snprintf(buf, cap, "x'<%zu bytes>'", v->b.len); break;
  default: snprintf(buf, cap, "NULL");
  }
}
