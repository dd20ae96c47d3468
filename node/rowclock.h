/* rowclock: the per-row merge metadata in linli_clock (see replica.h):
 * the row's scope, causal length and each column's (hlc, origin index). */
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
  char scope[LI_SCOPE_MAX + 1];
  uint64_t hlc[LI_TABLE_COLS_MAX];
  uint32_t origin[LI_TABLE_COLS_MAX];
} li_rowclock;

/* key: the row's clock key (single key value, or JSON array text for composite keys). */
li_err li_rowclock_get(li_replica *r, const li_table *t, const Linli__Value *key, li_rowclock *rc, li_errbuf *eb);
li_err li_rowclock_put(li_replica *r, const li_table *t, const Linli__Value *key, const li_rowclock *rc,
                       li_errbuf *eb);

/* Composite keys: the JSON array text SQLite's json_array() would make of the
 * values (so it matches what the capture triggers record); single keys: the
 * value itself. */
li_err li_rowclock_key(li_replica *r, li_arena *a, const li_table *t, Linli__Value *const *pk, size_t npk,
                       const Linli__Value **key, li_errbuf *eb);

#endif
