/* benchrows: what the benchmarks share, so that every figure is measured
 * against the same baseline: the care_visits rows they insert, the plain
 * (untracked) copy of the table with the replica's own PRAGMAs
 * (li_replica_pragmas), the insert loop, and small file/time helpers. */
#ifndef LI_BENCHROWS_H
#define LI_BENCHROWS_H

#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replica.h"

static inline double br_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
  char id[48], resident[16], date[16], visitor[16], note[96];
  const char *kind, *outcome;
  int follow_up;
} br_row;

/* Row i of a scope: deterministic, realistic sizes. */
static inline void br_make_row(const char *scope, int64_t i, br_row *r) {
  static const char *const kinds[] = {"探访", "助餐", "适老化改造", "无障碍"};
  static const char *const outcomes[] = {
      "老人在家，身体状况良好", "已送餐上门，饭菜合口", "扶手安装完成，待验收",
      "坡道改造方案已确认", "未遇到，已电话联系家属", "血压偏高，已提醒就医",
  };
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}; /* 2025 */
  int d = (int)(i % 365), m = 0;
  while (d >= mdays[m]) d -= mdays[m++];
  snprintf(r->id, sizeof r->id, "%s-%08lld", scope, (long long)i);
  snprintf(r->resident, sizeof r->resident, "R-%05d", (int)((i * 7919) % 100000));
  snprintf(r->date, sizeof r->date, "2025-%02d-%02d", m + 1, d + 1);
  snprintf(r->visitor, sizeof r->visitor, "S-%03d", (int)(i % 40));
  r->kind = kinds[i % 4];
  r->outcome = outcomes[(i / 4) % 6];
  r->follow_up = i % 7 == 0;
  snprintf(r->note, sizeof r->note, "回访%07lld：血压平稳，饮食正常", (long long)(i % 10000000));
}

/* Inserts rows 0..n-1 of each of nscopes scopes (one prepared statement,
 * one transaction, COMMIT included). Returns seconds, or < 0 with err set. */
static inline double br_insert_rows(sqlite3 *db, const char *table, const char *const *scopes, int nscopes, int64_t n,
                                    char *err, size_t cap) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "INSERT INTO %s(id, scope, resident_ref, visited_on, visitor, kind, outcome, follow_up, note)"
           " VALUES(?,?,?,?,?,?,?,?,?)",
           table);
  sqlite3_stmt *st = NULL;
  double t0 = br_now();
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
      sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, cap, "insert into %s: %s", table, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
  }
  br_row r;
  for (int s = 0; s < nscopes; s++)
    for (int64_t i = 0; i < n; i++) {
      br_make_row(scopes[s], i, &r);
      sqlite3_bind_text(st, 1, r.id, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, scopes[s], -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 3, r.resident, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 4, r.date, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 5, r.visitor, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 6, r.kind, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 7, r.outcome, -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 8, r.follow_up);
      sqlite3_bind_text(st, 9, r.note, -1, SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) {
        snprintf(err, cap, "insert row %lld of %s into %s: %s", (long long)i, scopes[s], table, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
      }
      sqlite3_reset(st);
    }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, cap, "COMMIT on %s: %s", table, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return -1;
  }
  double secs = br_now() - t0;
  sqlite3_finalize(st);
  return secs;
}

/* The baseline: a fresh database at path with the replica's PRAGMAs and the
 * built-in schema's CREATE TABLE care_visits and its index, renamed
 * care_visits_plain. NULL with err set on failure. */
static inline sqlite3 *br_plain_open(const char *path, char *err, size_t cap) {
  const char *a = strstr(li_street_sql, "CREATE TABLE IF NOT EXISTS care_visits (");
  const char *ix = a ? strstr(a, "CREATE INDEX IF NOT EXISTS care_visits_scope_date ON care_visits(") : NULL;
  const char *ie = ix ? strstr(ix, ";") : NULL;
  const char *te = a ? strstr(a, ");") : NULL;
  if (!ie || !te) {
    snprintf(err, cap, "cannot find care_visits in the built-in schema (config/schema/street.sql)");
    return NULL;
  }
  size_t scap = (size_t)(ie - a) + 256;
  char *schema = malloc(scap);
  if (!schema) {
    snprintf(err, cap, "out of memory");
    return NULL;
  }
  const char *tname = a + strlen("CREATE TABLE IF NOT EXISTS care_visits");
  const char *iname = ix + strlen("CREATE INDEX IF NOT EXISTS care_visits_scope_date ON care_visits");
  snprintf(schema, scap,
           "CREATE TABLE care_visits_plain%.*s;\n"
           "CREATE INDEX care_visits_plain_scope_date ON care_visits_plain%.*s;\n",
           (int)(te + 1 - tname), tname, (int)(ie - iname), iname);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK ||
      sqlite3_exec(db, li_replica_pragmas, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, cap, "plain db %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
    sqlite3_close(db);
    db = NULL;
  }
  free(schema);
  return db;
}

static inline int br_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  if ((flag == FTW_DP ? rmdir(p) : unlink(p)) != 0) fprintf(stderr, "bench: cannot remove %s\n", p);
  return 0;
}

static inline void br_rm_rf(const char *p) {
  struct stat sb;
  if (lstat(p, &sb) == 0) nftw(p, br_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
