/* rowclock: the per-row merge metadata in linli_clock (see replica.h): a
 * row's causal length and each column's (hlc, origin index), keyed by
 * (table, scope, key columns besides scope): a row's identity
 * (capture.h). */
#ifndef LI_ROWCLOCK_H
#define LI_ROWCLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include "arena.h"
#include "err.h"
#include "li_limits.h"
#include "linli.pb-c.h"
#include "replica.h"

typedef struct {
  bool exists;                 /* a linli_clock row was found */
  int64_t cl;                  /* 0 when !exists */
  uint64_t hlc[LI_TABLE_COLS_MAX];
  uint32_t origin[LI_TABLE_COLS_MAX];
} li_rowclock;

/* The clock of the row (t, scope, key); key: li_rowclock_key's. get
 * fills rc (exists false and zeros when there is none; LI_ERR_TAMPERED for
 * a malformed stored row), put replaces it. LI_ERR_DB otherwise. */
li_err li_rowclock_get(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key, li_rowclock *rc,
                       li_errbuf *eb);
li_err li_rowclock_put(li_replica *r, const li_table *t, const char *scope, const Linli__Value *key,
                       const li_rowclock *rc, li_errbuf *eb);

/* rc from a linli_clock row's cl and vers (n bytes at p), as get reads
 * them: LI_ERR_TAMPERED when malformed. For a caller that reads many clock
 * rows in one statement (apply). */
li_err li_rowclock_decode(const li_table *t, int64_t cl, const unsigned char *p, int n, li_rowclock *rc,
                          li_errbuf *eb);

/* The bytes of linli_clock.vers of rc (put's), into buf of at least
 * LI_ROWCLOCK_VERS_MAX bytes; returns their count. For a caller that writes
 * many clock rows in one statement (apply). */
#define LI_ROWCLOCK_VERS_MAX (LI_TABLE_COLS_MAX * 12)
int li_rowclock_vers(const li_table *t, const li_rowclock *rc, unsigned char *buf);

/* Clock rows written k to a statement (seal and apply: one INSERT OR
 * REPLACE per row costs a statement's start and halt each): put's
 * statement of k = LI_BULK_ROWS >> (2 * z) rows, prepared on first use and
 * kept on the replica; NULL when SQLite cannot prepare it. */
sqlite3_stmt *li_rowclock_put_many(li_replica *r, int z);
/* Binds row j (from 0) of such a statement, or of put's own (j 0): the
 * clock cl with vers (n bytes, li_rowclock_vers's, bound with destructor
 * del) of (tbl, scope, key); scope and key must live until the step. */
void li_rowclock_bind(sqlite3_stmt *st, int j, int tbl, const char *scope, const Linli__Value *key, int64_t cl,
                      const unsigned char *vers, int n, sqlite3_destructor_type del);

/* The same clock read from a row of another statement (seal's one pass):
 * column col is linli_clock.cl, NULL when the row has none, col + 1 its
 * vers. */
li_err li_rowclock_from_columns(const li_table *t, sqlite3_stmt *st, int col, li_rowclock *rc, li_errbuf *eb);
/* Clock writes queued and written LI_ROWCLOCK_BATCH rows to a statement
 * (li_rowclock_put_many), with put's result. What a batch holds is not in
 * linli_clock until it is flushed: flush before reading a clock it may
 * hold. scope and key are the caller's and must live until then. */
#define LI_ROWCLOCK_BATCH LI_BULK_ROWS
typedef struct {
  int n;
  int tbl[LI_ROWCLOCK_BATCH];
  const char *scope[LI_ROWCLOCK_BATCH];
  const Linli__Value *key[LI_ROWCLOCK_BATCH];
  int64_t cl[LI_ROWCLOCK_BATCH];
  unsigned char vers[LI_ROWCLOCK_BATCH][LI_ROWCLOCK_VERS_MAX];
  int nvers[LI_ROWCLOCK_BATCH];
} li_rowclock_batch;
/* Queues rc as the clock of (t, scope, key); flushes a full batch. */
li_err li_rowclock_batch_add(li_replica *r, li_rowclock_batch *b, const li_table *t, const char *scope,
                             const Linli__Value *key, const li_rowclock *rc, li_errbuf *eb);
/* Writes what is queued; the batch is empty after it, also on error. */
li_err li_rowclock_batch_flush(li_replica *r, li_rowclock_batch *b, li_errbuf *eb);

/* The clock key of the key columns besides scope (RowChange.pk): for
 * several, the JSON array text SQLite's json_array() makes of them (so it
 * matches what the capture triggers record); for one, the value itself.
 * LI_ERR_SCHEMA when npk is not the table's number of such columns. */
li_err li_rowclock_key(li_replica *r, li_arena *a, const li_table *t, Linli__Value *const *pk, size_t npk,
                       const Linli__Value **key, li_errbuf *eb);

#endif
