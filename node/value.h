/* value: conversions between protobuf Values and SQLite values. */
#ifndef LI_VALUE_H
#define LI_VALUE_H

#include <sqlite3.h>
#include <stdbool.h>
#include "arena.h"
#include "err.h"
#include "linli.pb-c.h"
#include "replica.h"

/* A Value (in the arena) holding column col of st's current row. */
Linli__Value *li_value_from_column(li_arena *a, sqlite3_stmt *st, int col);
/* The same from an sqlite3_value. */
Linli__Value *li_value_from_sqlite(li_arena *a, sqlite3_value *v);
int li_value_bind(sqlite3_stmt *st, int idx, const Linli__Value *v);
/* true if v is acceptable for a column of affinity aff. */
bool li_value_fits(const Linli__Value *v, li_affinity aff);
/* true if v equals column col of st's current row (type and content). */
bool li_value_equals_column(const Linli__Value *v, sqlite3_stmt *st, int col);
/* Short printable form for messages and the audit log ("'abc'", "12", "NULL", "x'00ff'"). */
void li_value_format(const Linli__Value *v, char *buf, size_t cap);

#endif
