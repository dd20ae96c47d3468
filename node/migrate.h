/* migrate: street schema migrations (DESIGN 14). The hub is the one schema
 * authority: `linli schema apply FILE` there checks the file, applies it
 * with the capture rebuild and records it as a signed schema commit in its
 * street chain, in one transaction; every replica applies the commit as it
 * arrives, before any commit of the new version (merge holds those until
 * then), by the same check and the same apply.
 *
 * Owns: the migration checker (what SQL is additive), applying a checked
 * migration to a replica (the statements, capture rebuilt for a table that
 * gained columns, a new table tracked, linli_migrations, linli_meta
 * 'schema_version'), and reading linli_migrations back (schema show).
 *
 * What a migration may hold, one statement after another:
 *   ALTER TABLE t ADD [COLUMN] c TYPE [constraints]   t tracked; c appended;
 *        not NOT NULL without a DEFAULT; no REFERENCES
 *   CREATE TABLE t (...)      a new table the capture rules accept: a TEXT
 *        column scope in the PRIMARY KEY with TEXT key columns besides it,
 *        no FOREIGN KEY, not TEMP, not AS SELECT
 *   CREATE INDEX i ON t(...)  t tracked; not UNIQUE (a UNIQUE index would
 *        make a replica refuse rows another accepted)
 * Everything else is refused with the reason, and nothing changes: DROP,
 * RENAME, DROP COLUMN, changing a type (no statement above can), data
 * changes, triggers, views, PRAGMA, ATTACH.
 *
 * The check runs every statement on a scratch in-memory copy of the
 * tracked tables and their indexes, and compares the schema before and
 * after each: a statement must change exactly what its kind says (so a
 * statement that slips past the keyword reading still cannot remove or
 * change anything). The scratch database has low limits and a progress
 * cap, so hostile SQL text costs little.
 *
 *   file --li_migration_check()--> checked (statements, kinds, targets)
 *   checked --li_migration_apply(): statements, capture, catalogue row,
 *            schema_version, in the caller's transaction--> applied
 *   any error: nothing of the migration stays (the caller rolls back)
 *
 * Invariants:
 *  1. A checked migration has 1..LI_MIGRATION_STMTS_MAX statements, each
 *     exactly one statement of SQL (no ';' joins two), of LI_MIGRATION_BYTES_MAX
 *     bytes together, each with its kind and target table.
 *  2. A replica's schema_version equals LI_SCHEMA_VERSION plus the number
 *     of rows in linli_migrations, whose versions are 2..schema_version.
 *  3. Applying never removes or changes a column, table or index that was
 *     there; a tracked table that gained columns has its triggers built for
 *     them in the same transaction (capture.h invariant 1), so no write to
 *     a new column goes uncaptured.
 *
 * Failure: LI_ERR_MIGRATION with the statement's number and the reason;
 * LI_ERR_ROLE (schema apply on a committee); LI_ERR_TOO_BIG, LI_ERR_LIMIT;
 * LI_ERR_DB, LI_ERR_NOMEM. */
#ifndef LI_MIGRATE_H
#define LI_MIGRATE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "li_limits.h"
#include "replica.h"

typedef enum { LI_MIG_ADD_COLUMN = 1, LI_MIG_CREATE_TABLE, LI_MIG_CREATE_INDEX } li_mig_kind;

typedef struct {
  uint32_t version; /* the schema version it makes (0 until known) */
  int n;
  char *stmt[LI_MIGRATION_STMTS_MAX];   /* malloc'd, trimmed, no trailing ';' */
  li_mig_kind kind[LI_MIGRATION_STMTS_MAX];
  char *table[LI_MIGRATION_STMTS_MAX];  /* the table it adds to, creates or indexes */
  char *name[LI_MIGRATION_STMTS_MAX];   /* the column or index it adds (NULL for a table) */
} li_migration;

void li_migration_free(li_migration *m);

/* Checks sql (a file's text: statements separated by ';') against the
 * schema of db: its tracked tables (linli_tables) when db is a replica,
 * else every table. Nothing in db changes. */
li_err li_migration_check(sqlite3 *db, const char *sql, li_migration *out, li_errbuf *eb);

/* The same for statements already split (a schema commit's Migration). */
li_err li_migration_check_list(sqlite3 *db, char *const *stmts, size_t n, li_migration *out, li_errbuf *eb);

/* Applies a checked migration of version m->version ==
 * li_replica_schema_version(r) + 1 in the caller's open transaction, and
 * records it (hlc and seq: the schema commit's). A statement whose effect
 * is already there (a column or index of that name, or an untracked table
 * of exactly that definition, made by hand or by `track` on the hub) is
 * not run again; a local table of that name with another definition is
 * refused, saying how to move it aside. */
li_err li_migration_apply(li_replica *r, const li_migration *m, uint64_t hlc, uint64_t seq, uint64_t wall_ms,
                          li_errbuf *eb);

/* The hub: checks sql, seals pending local writes, applies the migration
 * and seals its signed schema commit in the street chain, all in one
 * transaction (r->id must be set). *version gets the new version. */
li_err li_schema_apply(li_replica *r, const char *sql, uint64_t wall_ms, uint32_t *version, li_errbuf *eb);

/* The hub: `track` of an existing table is a migration of its CREATE TABLE
 * statement (the table is kept, its rows published by the next seal). */
li_err li_schema_track(li_replica *r, const char *table, uint64_t wall_ms, uint32_t *version, li_errbuf *eb);

/* One applied migration, for `schema show`. */
typedef struct {
  uint32_t version;
  uint64_t hlc, seq, applied_ms;
  int n;
  const char *stmt[LI_MIGRATION_STMTS_MAX]; /* the statements (valid during the call) */
} li_migration_row;

/* Calls fn for each row of linli_migrations in version order. */
li_err li_migration_each(li_replica *r, li_err (*fn)(void *ctx, const li_migration_row *row, li_errbuf *eb), void *ctx,
                         li_errbuf *eb);

#endif
