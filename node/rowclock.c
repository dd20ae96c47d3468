/* rowclock: reading and writing linli_clock rows. */
#include "rowclock.h"

#include <assert.h>
#include <string.h>

#include "value.h"

#define S_ENTRY 12
_Static_assert(LI_ROWCLOCK_VERS_MAX == LI_TABLE_COLS_MAX * S_ENTRY, "vers entry size");

li_err li_rowclock_decode(const li_table *t, int64_t cl, const unsigned char *p, int n, li_rowclock *rc,
                          li_errbuf *eb) {
  rc->exists = true;
  rc->cl = cl;
  memset(rc->hlc, 0, sizeof(rc->hlc[0]) * (size_t)t->ncols);
  memset(rc->origin, 0, sizeof(rc->origin[0]) * (size_t)t->ncols);
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
    e = li_rowclock_decode(t, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), rc,
                           eb);
  } else if (rcode != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_clock");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return e;
}

int li_rowclock_vers(const li_table *t, const li_rowclock *rc, unsigned char *buf) {
  for (int i = 0; i < t->ncols; i++) {
    for (int b = 0; b < 8; b++) buf[i * S_ENTRY + b] = (unsigned char)(rc->hlc[i] >> (8 * b));
    for (int b = 0; b < 4; b++) buf[i * S_ENTRY + 8 + b] = (unsigned char)(rc->origin[i] >> (8 * b));
  }
  return t->ncols * S_ENTRY;
}

li_err li_rowclock_put(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key,
                       const li_rowclock *rc, li_errbuf *eb) {
  unsigned char buf[LI_ROWCLOCK_VERS_MAX];
  sqlite3_stmt *st = r->st_clock_put;
  li_rowclock_bind(st, 0, t->id, scope, key, rc->cl, buf, li_rowclock_vers(t, rc, buf), SQLITE_STATIC);
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
  if (sqlite3_column_type(st, col) != SQLITE_NULL)
    return li_rowclock_decode(t, sqlite3_column_int64(st, col), sqlite3_column_blob(st, col + 1),
                              sqlite3_column_bytes(st, col + 1), rc, eb);
  rc->exists = false;
  rc->cl = 0;
  memset(rc->hlc, 0, sizeof(rc->hlc[0]) * (size_t)t->ncols);
  memset(rc->origin, 0, sizeof(rc->origin[0]) * (size_t)t->ncols);
  return LI_OK;
}

sqlite3_stmt *li_rowclock_put_many(li_replica *r, int z) {
  assert(z >= 0 && z < LI_BULK_SIZES);
  if (!r->st_clock_put_many[z])
    r->st_clock_put_many[z] = li_replica_prepare_rows(r, r->st_clock_put, LI_BULK_ROWS >> (2 * z));
  return r->st_clock_put_many[z];
}

void li_rowclock_bind(sqlite3_stmt *st, int j, int tbl, const char *scope, const Linli__Value *key, int64_t cl,
                      const unsigned char *vers, int n, sqlite3_destructor_type del) {
  int at = 5 * j;
  sqlite3_bind_int(st, at + 1, tbl);
  sqlite3_bind_text(st, at + 2, scope, -1, SQLITE_STATIC);
  li_value_bind(st, at + 3, key);
  sqlite3_bind_int64(st, at + 4, cl);
  sqlite3_bind_blob(st, at + 5, vers, n, del);
}

li_err li_rowclock_batch_add(li_replica *r, li_rowclock_batch *b, const li_table *t, const char *scope,
                             const Linli__Value *key, const li_rowclock *rc, li_errbuf *eb) {
  assert(b->n < LI_ROWCLOCK_BATCH);
  b->tbl[b->n] = t->id;
  b->scope[b->n] = scope;
  b->key[b->n] = key;
  b->cl[b->n] = rc->cl;
  b->nvers[b->n] = li_rowclock_vers(t, rc, b->vers[b->n]);
  return ++b->n == LI_ROWCLOCK_BATCH ? li_rowclock_batch_flush(r, b, eb) : LI_OK;
}

li_err li_rowclock_batch_flush(li_replica *r, li_rowclock_batch *b, li_errbuf *eb) {
  li_err e = LI_OK;
  int n = b->n;
  b->n = 0;
  /* a full batch in one statement, what is left row by row as put does */
  sqlite3_stmt *many = n == LI_ROWCLOCK_BATCH ? li_rowclock_put_many(r, 0) : NULL;
  if (n == LI_ROWCLOCK_BATCH && !many) return li_db_fail(r, eb, "linli_clock");
  sqlite3_stmt *st = many ? many : r->st_clock_put;
  for (int i = 0; i < n && e == LI_OK; i++) {
    li_rowclock_bind(st, many ? i : 0, b->tbl[i], b->scope[i], b->key[i], b->cl[i], b->vers[i], b->nvers[i],
                     SQLITE_STATIC);
    if (many && i < n - 1) continue;
    int rcode = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rcode != SQLITE_DONE) e = li_db_fail(r, eb, "linli_clock");
  }
  return e;
}

