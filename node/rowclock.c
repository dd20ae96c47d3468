/* rowclock: reading and writing linli_clock rows. */
#include "rowclock.h"

#include <string.h>

#include "value.h"

#define S_ENTRY 12

li_err li_rowclock_get(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key, li_rowclock *rc,
                       li_errbuf *eb) {
  sqlite3_stmt *st = r->st_clock_get;
  rc->exists = false;
  rc->cl = 0;
  memset(rc->hlc, 0, sizeof(rc->hlc[0]) * (size_t)t->ncols);
  memset(rc->origin, 0, sizeof(rc->origin[0]) * (size_t)t->ncols);
  sqlite3_bind_int(st, 1, t->id);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  li_value_bind(st, 3, key);
  int rcode = sqlite3_step(st);
  li_err e = LI_OK;
  if (rcode == SQLITE_ROW) {
    rc->exists = true;
    rc->cl = sqlite3_column_int64(st, 0);
    int n = sqlite3_column_bytes(st, 1);
    const unsigned char *p = sqlite3_column_blob(st, 1);
    if (rc->cl < 1 || n % S_ENTRY != 0 || n / S_ENTRY > t->ncols) {
      e = li_fail(eb, LI_ERR_TAMPERED, "linli_clock row of table %s is malformed", t->name);
    } else {
      for (int i = 0; i < n / S_ENTRY; i++) {
        uint64_t h = 0;
        uint32_t o = 0;
        for (int b = 7; b >= 0; b--) h = (h << 8) | p[i * S_ENTRY + b];
        for (int b = 3; b >= 0; b--) o = (o << 8) | p[i * S_ENTRY + 8 + b];
        rc->hlc[i] = h;
        rc->origin[i] = o;
      }
    }
  } else if (rcode != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_clock");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

li_err li_rowclock_put(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key,
                       const li_rowclock *rc, li_errbuf *eb) {
  unsigned char buf[LI_TABLE_COLS_MAX * S_ENTRY];
  for (int i = 0; i < t->ncols; i++) {
    for (int b = 0; b < 8; b++) buf[i * S_ENTRY + b] = (unsigned char)(rc->hlc[i] >> (8 * b));
    for (int b = 0; b < 4; b++) buf[i * S_ENTRY + 8 + b] = (unsigned char)(rc->origin[i] >> (8 * b));
  }
  sqlite3_stmt *st = r->st_clock_put;
  sqlite3_bind_int(st, 1, t->id);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  li_value_bind(st, 3, key);
  sqlite3_bind_int64(st, 4, rc->cl);
  sqlite3_bind_blob(st, 5, buf, t->ncols * S_ENTRY, SQLITE_STATIC);
  int rcode = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rcode == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "linli_clock");
}

li_err li_rowclock_key(li_replica *r, li_arena *a, const li_table *t, Linli__Value *const *pk, size_t npk,
                       const Linli__Value **key, li_errbuf *eb) {
  if (npk != (size_t)t->npk)
    return li_fail(eb, LI_ERR_SCHEMA, "table %s has %d key columns, a change names %zu", t->name, t->npk, npk);
  if (npk == 1) {
    *key = pk[0];
    return LI_OK;
  }
  char sql[128] = "SELECT json_array(?";
  for (size_t i = 1; i < npk; i++) strcat(sql, ",?");
  strcat(sql, ")");
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(r, eb, "json_array");
  for (size_t i = 0; i < npk; i++) li_value_bind(st, (int)i + 1, pk[i]);
  li_err e = LI_OK;
  if (sqlite3_step(st) == SQLITE_ROW) {
    Linli__Value *v = li_value_from_column(a, st, 0);
    if (!v) e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
    *key = v;
  } else {
    e = li_db_fail(r, eb, "json_array");
  }
  sqlite3_finalize(st);
  return e;
}

li_err li_rowclock_from_columns(const li_table *t, sqlite3_stmt *st, int col, li_rowclock *rc, li_errbuf *eb) {
  rc->exists = sqlite3_column_type(st, col) != SQLITE_NULL;
  rc->cl = rc->exists ? sqlite3_column_int64(st, col) : 0;
  memset(rc->hlc, 0, sizeof(rc->hlc[0]) * (size_t)t->ncols);
  memset(rc->origin, 0, sizeof(rc->origin[0]) * (size_t)t->ncols);
  if (!rc->exists) return LI_OK;
  int n = sqlite3_column_bytes(st, col + 1);
  const unsigned char *p = sqlite3_column_blob(st, col + 1);
  if (rc->cl < 1 || n % S_ENTRY != 0 || n / S_ENTRY > t->ncols)
    return li_fail(eb, LI_ERR_TAMPERED, "linli_clock row of table %s is malformed", t->name);
  for (int i = 0; i < n / S_ENTRY; i++) {
    uint64_t h = 0;
    uint32_t o = 0;
    for (int b = 7; b >= 0; b--) h = (h << 8) | p[i * S_ENTRY + b];
    for (int b = 3; b >= 0; b--) o = (o << 8) | p[i * S_ENTRY + 8 + b];
    rc->hlc[i] = h;
    rc->origin[i] = o;
  }
  return LI_OK;
}

/* One INSERT or UPDATE of a clock row (li_rowclock_write): st's changes. */
static int s_clock_step(li_replica *r, sqlite3_stmt *st, const li_table *t, const char *scope, const Linli__Value *key,
                        int64_t cl, const unsigned char *buf) {
  sqlite3_bind_int(st, 1, t->id);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  li_value_bind(st, 3, key);
  sqlite3_bind_int64(st, 4, cl);
  sqlite3_bind_blob(st, 5, buf, t->ncols * S_ENTRY, SQLITE_STATIC);
  int rcode = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rcode == SQLITE_DONE ? sqlite3_changes(r->db) : -1;
}

li_err li_rowclock_write(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key,
                         const li_rowclock *rc, li_errbuf *eb) {
  unsigned char buf[LI_TABLE_COLS_MAX * S_ENTRY];
  for (int i = 0; i < t->ncols; i++) {
    for (int b = 0; b < 8; b++) buf[i * S_ENTRY + b] = (unsigned char)(rc->hlc[i] >> (8 * b));
    for (int b = 0; b < 4; b++) buf[i * S_ENTRY + 8 + b] = (unsigned char)(rc->origin[i] >> (8 * b));
  }
  int n = 0;
  if (rc->exists) n = s_clock_step(r, r->st_clock_upd, t, scope, key, rc->cl, buf);
  /* a row said to exist that is not there any more is written afresh */
  if (n == 0) n = s_clock_step(r, r->st_clock_ins, t, scope, key, rc->cl, buf);
  return n == 1 ? LI_OK : li_db_fail(r, eb, "linli_clock");
}
