/* value: conversions between protobuf Values and SQLite values.
 *
 * Owns the mapping of the five SQLite storage classes to Linli__Value
 * (NULL, INTEGER i, REAL f, TEXT t, BLOB b), the type check merge applies
 * to remote values (li_value_fits) and the printable form of a value.
 *
 * Invariants:
 *  1. li_value_from_sqlite of a bound li_value_bind(v) gives v back (same
 *     case and content), except a NaN, which SQLite stores as NULL, and a
 *     text with a NUL, which a Value cannot hold (it keeps what precedes
 *     the NUL).
 *  2. li_value_fits accepts every value a replica can hold in a column of
 *     that affinity (SQLite keeps a TEXT or BLOB in an INTEGER column, a
 *     BLOB in a TEXT column, ...): what one replica sealed, every replica
 *     accepts (DESIGN 13). It refuses only what SQLite never stores in such
 *     a column: an INTEGER or REAL in a TEXT column (stored as its text).
 *  3. li_value_format writes valid UTF-8 without control characters,
 *     whatever the text: it is untrusted (it came in a commit).
 */
#ifndef LI_VALUE_H
#define LI_VALUE_H

#include <sqlite3.h>
#include <stdbool.h>
#include "arena.h"
#include "err.h"
#include "linli.pb-c.h"
#include "replica.h"

/* A Value (in the arena) holding column col of st's current row; NULL when
 * out of memory. */
Linli__Value *li_value_from_column(li_arena *a, sqlite3_stmt *st, int col);
/* The same from an sqlite3_value. */
Linli__Value *li_value_from_sqlite(li_arena *a, sqlite3_value *v);
/* sqlite3_bind_* of v (borrowed: v must outlive the statement's use). */
int li_value_bind(sqlite3_stmt *st, int idx, const Linli__Value *v);
/* true if a column of affinity aff can hold v (invariant 2). */
bool li_value_fits(const Linli__Value *v, li_affinity aff);
/* true if v equals column col of st's current row (type and content). */
bool li_value_equals_column(const Linli__Value *v, sqlite3_stmt *st, int col);
/* Short printable form for messages and the audit log: NULL, 12, 0.5,
 * 'text' (a quote doubled, a backslash as \\, a control character or an
 * invalid byte as \xNN, a bidirectional or line-separator mark as \u{NNNN}),
 * x'<N bytes>'. Cut at a character boundary with "...'" when it does not
 * fit in cap; always NUL-terminated when cap > 0. */
void li_value_format(const Linli__Value *v, char *buf, size_t cap);

#endif
