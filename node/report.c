/* report: the street's report per committee and in total (see report.h).
 *
 *   li_report ──s_collect──▶ li_report_data (roster rows, counts, sync facts)
 *             ──s_write_text | s_write_json | s_write_csv──▶ out
 *                (through out.h: li_out_table, li_json, li_csv)
 *
 * Collecting runs every query inside one savepoint (one read snapshot);
 * writing starts only after it has succeeded. */
#include "report.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "hlc.h"
#include "keys.h"
#include "out.h"
#include "roster.h"

const char *const li_report_stage[LI_REPORT_STAGES] = {"排查", "交办", "整改", "复核", "督查"};

/* ---- small helpers ---- */

static bool s_valid_date(const char *d) {
  if (!d || strlen(d) != 10) return false;
  for (int i = 0; i < 10; i++) {
    bool dash = i == 4 || i == 7;
    if (dash ? d[i] != '-' : (d[i] < '0' || d[i] > '9')) return false;
  }
  int month = (d[5] - '0') * 10 + (d[6] - '0'), day = (d[8] - '0') * 10 + (d[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* An INTEGER column; false for NULL or any other type (untrusted values). */
static bool s_col_int(sqlite3_stmt *st, int i, int64_t *v) {
  if (sqlite3_column_type(st, i) != SQLITE_INTEGER) return false;
  *v = sqlite3_column_int64(st, i);
  return true;
}

#define S_CELL 256

void li_report_utc(int64_t ms, char *buf, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || (uint64_t)ms > LI_HLC_MS_MAX || !gmtime_r(&t, &tm) ||
      strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "?");
}

/* "45s", "3m", "2h", "5d"; a time ahead of now (clock skew) counts as 0s. */
void li_report_age(uint64_t now_ms, int64_t then_ms, char *buf, size_t cap) {
  uint64_t s = then_ms >= 0 && (uint64_t)then_ms < now_ms ? (now_ms - (uint64_t)then_ms) / 1000 : 0;
  if (s < 60) snprintf(buf, cap, "%" PRIu64 "s", s);
  else if (s < 3600) snprintf(buf, cap, "%" PRIu64 "m", s / 60);
  else if (s < 86400) snprintf(buf, cap, "%" PRIu64 "h", s / 3600);
  else snprintf(buf, cap, "%" PRIu64 "d", s / 86400);
}

static uint64_t s_age_ms(uint64_t now_ms, int64_t then_ms) {
  return then_ms >= 0 && (uint64_t)then_ms < now_ms ? now_ms - (uint64_t)then_ms : 0;
}

/* Satisfaction in tenths of a percent, rounded half up: 2 of 3 -> 667;
 * false when none rated (or the counts cannot be a share). */
static bool s_permille(int64_t good, int64_t rated, int64_t *permille) {
  if (rated <= 0 || good < 0 || good > rated) return false;
  *permille = (good * 1000 + rated / 2) / rated;
  return true;
}

/* The same as text with one decimal ("66.7"), "-" when none rated. */
void li_report_pct(int64_t good, int64_t rated, char *buf, size_t cap) {
  int64_t pm;
  if (s_permille(good, rated, &pm)) snprintf(buf, cap, "%" PRId64 ".%" PRId64, pm / 10, pm % 10);
  else snprintf(buf, cap, "-");
}

/* ---- collecting ---- */

/* ?1 scope, ?2 today, ?3 this month ("YYYY-MM"). Each subquery is an
 * aggregate without GROUP BY, so the statement yields exactly one row. */
static const char s_sql_counts[] =
    "SELECT h.*, c.*, v.*, d.*, n.* FROM "
    "(SELECT coalesce(sum(stage = '排查'), 0), coalesce(sum(stage = '交办'), 0), "
    "  coalesce(sum(stage = '整改'), 0), coalesce(sum(stage = '复核'), 0), "
    "  coalesce(sum(stage = '督查'), 0), "
    "  coalesce(sum(typeof(deadline) = 'text' AND deadline <> '' AND deadline < ?2), 0) "
    " FROM hazards WHERE scope = ?1 AND stage IN ('排查', '交办', '整改', '复核', '督查')) h, "
    "(SELECT coalesce(sum(status <> '已办结'), 0), "
    "  coalesce(sum(status <> '已办结' AND typeof(due_on) = 'text' AND due_on <> '' AND due_on < ?2), 0), "
    "  coalesce(sum(satisfaction IS NOT NULL), 0), coalesce(sum(satisfaction = '好'), 0) "
    " FROM hotline_cases WHERE scope = ?1) c, "
    "(SELECT count(*) FROM care_visits WHERE scope = ?1 AND substr(visited_on, 1, 7) = ?3) v, "
    "(SELECT count(*) FROM disputes WHERE scope = ?1 AND status IN ('受理', '调解中')) d, "
    "(SELECT count(*) FROM notices x WHERE x.scope = 'street' "
    "  AND (trim(x.audience) = 'all' "
    "       OR instr(',' || replace(x.audience, ' ', '') || ',', ',' || ?1 || ',') > 0) "
    "  AND (x.valid_to IS NULL OR x.valid_to >= ?2) "
    "  AND NOT EXISTS (SELECT 1 FROM notice_acks a WHERE a.notice_id = x.id AND a.scope = ?1)) n";

static const char s_sql_peer[] =
    "SELECT last_contact_ms, behind_us, behind_them, schema_version FROM linli_peers WHERE key = ?1";

static li_err s_add_row(li_report_data *rep, li_report_row **out, li_errbuf *eb) {
  if (rep->n == rep->cap) {
    if (rep->cap >= LI_REPORT_COMMITTEES_MAX)
      return li_fail(eb, LI_ERR_LIMIT, "the roster lists more than %d committees (LI_REPORT_COMMITTEES_MAX)",
                     LI_REPORT_COMMITTEES_MAX);
    size_t cap = rep->cap ? rep->cap * 2 : 32;
    if (cap > LI_REPORT_COMMITTEES_MAX) cap = LI_REPORT_COMMITTEES_MAX;
    li_report_row *p = realloc(rep->rows, cap * sizeof *p);
    if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the report");
    rep->rows = p;
    rep->cap = cap;
  }
  *out = &rep->rows[rep->n++];
  memset(*out, 0, sizeof **out);
  return LI_OK;
}

static li_err s_prepare(li_replica *r, const char *sql, sqlite3_stmt **st, li_errbuf *eb) {
  if (sqlite3_prepare_v2(r->db, sql, -1, st, NULL) == SQLITE_OK) return LI_OK;
  return li_fail(eb, LI_ERR_SCHEMA,
                 "the report needs the street schema (roster, hazards, hotline_cases, care_visits, disputes, "
                 "notices, notice_acks): %s",
                 sqlite3_errmsg(r->db));
}

static li_err s_collect_roster(li_replica *r, li_report_data *rep, li_errbuf *eb) {
  bool hub = r->role == LI_ROLE_HUB;
  li_roster_row *rows = NULL;
  size_t n = 0;
  li_err e = li_roster_rows(r, hub ? NULL : r->scope, LI_REPORT_COMMITTEES_MAX, &rows, &n, eb);
  if (e == LI_ERR_LIMIT)
    return li_fail(eb, e, "the roster lists more than %d committees (LI_REPORT_COMMITTEES_MAX)", LI_REPORT_COMMITTEES_MAX);
  if (e) return e;
  for (size_t i = 0; i < n && !e; i++) {
    li_report_row *row;
    if ((e = s_add_row(rep, &row, eb))) break;
    snprintf(row->name, sizeof row->name, "%s", rows[i].name);
    snprintf(row->scope, sizeof row->scope, "%s", rows[i].scope);
    row->key_ok = rows[i].key_ok;
    memcpy(row->key, rows[i].key, LI_PK_BYTES);
    row->revoked = rows[i].revoked;
  }
  free(rows);
  if (e) return e;
  if (!hub && rep->n == 0) {
    /* The roster has not reached this committee yet: report on itself. */
    li_report_row *row;
    if ((e = s_add_row(rep, &row, eb))) return e;
    li_utf8_copy(row->name, sizeof row->name, r->scope);
    li_utf8_copy(row->scope, sizeof row->scope, r->scope);
    memcpy(row->key, r->self, LI_PK_BYTES);
    row->key_ok = true;
  }
  return LI_OK;
}

static li_err s_collect_counts(li_replica *r, li_report_data *rep, sqlite3_stmt *st, li_report_row *row, li_errbuf *eb) {
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, row->scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, rep->today, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rep->month, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) return li_db_fail(r, eb, "report: counts");
  li_report_counts *n = &row->n;
  int c = 0;
  for (int i = 0; i < LI_REPORT_STAGES; i++) {
    n->hz_stage[i] = sqlite3_column_int64(st, c++);
    n->hz_open += n->hz_stage[i];
  }
  n->hz_overdue = sqlite3_column_int64(st, c++);
  n->hl_open = sqlite3_column_int64(st, c++);
  n->hl_overdue = sqlite3_column_int64(st, c++);
  n->hl_rated = sqlite3_column_int64(st, c++);
  n->hl_good = sqlite3_column_int64(st, c++);
  n->care_month = sqlite3_column_int64(st, c++);
  n->disputes_open = sqlite3_column_int64(st, c++);
  n->notices_unacked = sqlite3_column_int64(st, c++);
  assert(c == sqlite3_column_count(st));
  if (sqlite3_step(st) != SQLITE_DONE) return li_db_fail(r, eb, "report: counts");
  return LI_OK;
}

/* The newest commit of origin, when it has one with a well-formed hlc: a
 * malformed one leaves it unknown, as every other untrusted value of the
 * report (linli verify is the command that names it). */
static li_err s_collect_newest(li_replica *r, const uint8_t *origin, li_report_row *row, li_errbuf *eb) {
  uint64_t hlc = 0;
  bool found = false;
  li_err e = li_chain_newest_hlc(r, origin, &hlc, &found, eb);
  if (e == LI_ERR_TAMPERED) return LI_OK;
  if (e) return e;
  if (found) {
    row->commit_known = true;
    row->newest_commit_ms = (int64_t)LI_HLC_MS(hlc);
  }
  return LI_OK;
}

static li_err s_collect_sync(li_replica *r, sqlite3_stmt *peer, li_report_row *row, li_errbuf *eb) {
  bool hub = r->role == LI_ROLE_HUB;
  if (hub && !row->key_ok) return LI_OK; /* a malformed roster key: nothing to match */
  /* On the hub the peer is the committee; on a committee it is the hub. */
  const uint8_t *peer_key = hub ? row->key : r->network;
  const uint8_t *origin = hub ? row->key : r->self;
  sqlite3_reset(peer);
  sqlite3_bind_blob(peer, 1, peer_key, LI_PK_BYTES, SQLITE_STATIC);
  int rc = sqlite3_step(peer);
  if (rc == SQLITE_ROW) {
    int64_t ms, us, them;
    row->contact_known = s_col_int(peer, 0, &ms) && ms >= 0 && (uint64_t)ms <= LI_HLC_MS_MAX;
    if (row->contact_known) row->last_contact_ms = ms;
    row->lacks_known = s_col_int(peer, 1, &us) && s_col_int(peer, 2, &them) && us >= 0 && them >= 0;
    if (row->lacks_known) {
      row->committee_lacks = hub ? us : them;
      row->hub_lacks = hub ? them : us;
    }
    int64_t v;
    if (hub && s_col_int(peer, 3, &v) && v > 0 && v <= LI_SCHEMA_VERSION_MAX) row->schema_version = v;
  } else if (rc != SQLITE_DONE) {
    return li_db_fail(r, eb, "report: linli_peers");
  }
  sqlite3_reset(peer);
  if (!hub) row->schema_version = li_replica_schema_version(r);
  return s_collect_newest(r, origin, row, eb);
}

static void s_add_counts(li_report_counts *t, const li_report_counts *n) {
  for (int i = 0; i < LI_REPORT_STAGES; i++) t->hz_stage[i] += n->hz_stage[i];
  t->hz_open += n->hz_open;
  t->hz_overdue += n->hz_overdue;
  t->hl_open += n->hl_open;
  t->hl_overdue += n->hl_overdue;
  t->hl_rated += n->hl_rated;
  t->hl_good += n->hl_good;
  t->care_month += n->care_month;
  t->disputes_open += n->disputes_open;
  t->notices_unacked += n->notices_unacked;
}

static void s_totals(li_report_data *rep) {
  /* Rows are ordered by scope: a scope's rows are adjacent; count it once. */
  for (size_t i = 0; i < rep->n; i++) {
    const li_report_row *row = &rep->rows[i];
    if (i == 0 || strcmp(row->scope, rep->rows[i - 1].scope) != 0) s_add_counts(&rep->total, &row->n);
    if (row->lacks_known) {
      rep->total_lacks_known = true;
      rep->total_committee_lacks += row->committee_lacks;
      rep->total_hub_lacks += row->hub_lacks;
    }
  }
}

static li_err s_collect(li_replica *r, li_report_data *rep, li_errbuf *eb) {
  li_err e = s_collect_roster(r, rep, eb);
  if (e) return e;
  sqlite3_stmt *counts = NULL, *peer = NULL;
  if ((e = s_prepare(r, s_sql_counts, &counts, eb)) || (e = s_prepare(r, s_sql_peer, &peer, eb))) goto done;
  for (size_t i = 0; i < rep->n && !e; i++) {
    e = s_collect_counts(r, rep, counts, &rep->rows[i], eb);
    if (!e) e = s_collect_sync(r, peer, &rep->rows[i], eb);
  }
  if (!e) s_totals(rep);
  rep->schema_version = li_replica_schema_version(r);
  for (size_t i = 0; i < rep->n; i++)
    rep->schema_behind += !rep->rows[i].revoked && rep->rows[i].schema_version != (int64_t)rep->schema_version;
done:
  sqlite3_finalize(counts);
  sqlite3_finalize(peer);
  return e;
}

/* ---- text ---- */

enum { C_NAME, C_SCOPE, C_STAGE0, C_HZ_OVERDUE = C_STAGE0 + LI_REPORT_STAGES, C_HL_OPEN, C_HL_OVERDUE, C_SAT,
       C_CARE, C_DISPUTES, C_NOTICES, C_CONTACT, C_C_LACKS, C_H_LACKS, C_NEWEST, C_SCHEMA, C__COUNT };

static const li_out_col s_text_cols[C__COUNT] = {
    {"committee", LI_OUT_LEFT}, {"scope", LI_OUT_LEFT},    {"排查", LI_OUT_RIGHT},   {"交办", LI_OUT_RIGHT},
    {"整改", LI_OUT_RIGHT},     {"复核", LI_OUT_RIGHT},    {"督查", LI_OUT_RIGHT},   {"overdue", LI_OUT_RIGHT},
    {"cases", LI_OUT_RIGHT},    {"late", LI_OUT_RIGHT},    {"sat%", LI_OUT_RIGHT},   {"care", LI_OUT_RIGHT},
    {"disputes", LI_OUT_RIGHT}, {"unacked", LI_OUT_RIGHT}, {"last contact", LI_OUT_LEFT},
    {"lacks", LI_OUT_RIGHT},    {"hub lacks", LI_OUT_RIGHT}, {"newest", LI_OUT_RIGHT},  {"schema", LI_OUT_RIGHT}};
/* The same headings in Chinese (LANG=zh_CN*), the dashboard's words. */
static const li_out_col s_text_cols_zh[C__COUNT] = {
    {"居委会", LI_OUT_LEFT},  {"范围", LI_OUT_LEFT},     {"排查", LI_OUT_RIGHT},   {"交办", LI_OUT_RIGHT},
    {"整改", LI_OUT_RIGHT},   {"复核", LI_OUT_RIGHT},    {"督查", LI_OUT_RIGHT},   {"逾期", LI_OUT_RIGHT},
    {"工单", LI_OUT_RIGHT},   {"超期", LI_OUT_RIGHT},    {"好评%", LI_OUT_RIGHT},  {"探访", LI_OUT_RIGHT},
    {"纠纷", LI_OUT_RIGHT},   {"未确认", LI_OUT_RIGHT},  {"最后联系", LI_OUT_LEFT},
    {"本会缺", LI_OUT_RIGHT}, {"街道缺", LI_OUT_RIGHT},  {"最新提交", LI_OUT_RIGHT}, {"版本", LI_OUT_RIGHT}};
_Static_assert(C__COUNT <= LI_OUT_TABLE_COLS_MAX, "the report fits a text table");

typedef struct {
  char text[C__COUNT][S_CELL];
  const char *cells[C__COUNT]; /* text[i], as the table takes them */
} s_cells;

static void s_cells_init(s_cells *c) {
  for (int col = 0; col < C__COUNT; col++) c->cells[col] = c->text[col];
}

static void s_count_cells(const li_report_counts *n, s_cells *cl) {
  char(*c)[S_CELL] = cl->text;
  for (int i = 0; i < LI_REPORT_STAGES; i++) snprintf(c[C_STAGE0 + i], S_CELL, "%" PRId64, n->hz_stage[i]);
  snprintf(c[C_HZ_OVERDUE], S_CELL, "%" PRId64, n->hz_overdue);
  snprintf(c[C_HL_OPEN], S_CELL, "%" PRId64, n->hl_open);
  snprintf(c[C_HL_OVERDUE], S_CELL, "%" PRId64, n->hl_overdue);
  li_report_pct(n->hl_good, n->hl_rated, c[C_SAT], S_CELL);
  snprintf(c[C_CARE], S_CELL, "%" PRId64, n->care_month);
  snprintf(c[C_DISPUTES], S_CELL, "%" PRId64, n->disputes_open);
  snprintf(c[C_NOTICES], S_CELL, "%" PRId64, n->notices_unacked);
}

static void s_lacks_cells(bool known, int64_t committee_lacks, int64_t hub_lacks, s_cells *cl) {
  if (known) {
    snprintf(cl->text[C_C_LACKS], S_CELL, "%" PRId64, committee_lacks);
    snprintf(cl->text[C_H_LACKS], S_CELL, "%" PRId64, hub_lacks);
  } else {
    snprintf(cl->text[C_C_LACKS], S_CELL, "-");
    snprintf(cl->text[C_H_LACKS], S_CELL, "-");
  }
}

static void s_row_cells(const li_report_data *rep, const li_report_row *row, s_cells *cl) {
  char(*c)[S_CELL] = cl->text;
  /* the name is cut before " (revoked)" is added, so the mark always shows */
  char name[S_CELL - sizeof " (revoked)"];
  li_out_clean(name, sizeof name, row->name, LI_OUT_TEXT_COLS_MAX);
  snprintf(c[C_NAME], S_CELL, "%s%s", name, row->revoked ? " (revoked)" : "");
  li_out_clean(c[C_SCOPE], S_CELL, row->scope, LI_OUT_TEXT_COLS_MAX);
  s_count_cells(&row->n, cl);
  if (row->contact_known) li_report_utc(row->last_contact_ms, c[C_CONTACT], S_CELL);
  else snprintf(c[C_CONTACT], S_CELL, "never");
  s_lacks_cells(row->lacks_known, row->committee_lacks, row->hub_lacks, cl);
  if (row->commit_known) li_report_age(rep->now_ms, row->newest_commit_ms, c[C_NEWEST], S_CELL);
  else snprintf(c[C_NEWEST], S_CELL, "-");
  if (row->schema_version) snprintf(c[C_SCHEMA], S_CELL, "v%" PRId64 "%s", row->schema_version,
                                    row->schema_version < (int64_t)rep->schema_version ? " (old)" : "");
  else snprintf(c[C_SCHEMA], S_CELL, "?");
}

static void s_total_cells(const li_report_data *rep, s_cells *cl) {
  char(*c)[S_CELL] = cl->text;
  snprintf(c[C_NAME], S_CELL, "TOTAL");
  c[C_SCOPE][0] = 0;
  s_count_cells(&rep->total, cl);
  c[C_CONTACT][0] = 0;
  s_lacks_cells(rep->total_lacks_known, rep->total_committee_lacks, rep->total_hub_lacks, cl);
  c[C_NEWEST][0] = 0;
  snprintf(c[C_SCHEMA], S_CELL, "v%u", rep->schema_version);
}

static void s_write_text(const li_report_data *rep, bool zh, FILE *out) {
  /* Cells are built twice (widths, then printing) so that memory stays one
   * row of cells (on the stack) whatever the number of committees. */
  s_cells c;
  s_cells_init(&c);
  li_out_table t;
  li_out_table_init(&t, zh ? s_text_cols_zh : s_text_cols, C__COUNT);
  for (size_t i = 0; i < rep->n; i++) {
    s_row_cells(rep, &rep->rows[i], &c);
    li_out_table_fit(&t, c.cells);
  }
  s_total_cells(rep, &c);
  li_out_table_fit(&t, c.cells);

  char gen[32];
  li_report_utc((int64_t)(rep->now_ms <= LI_HLC_MS_MAX ? rep->now_ms : 0), gen, sizeof gen);
  if (zh) fprintf(out, "linli 街道报表  生成于 %s  今天 %s\n\n", gen, rep->today);
  else fprintf(out, "linli report  generated %s  today %s\n\n", gen, rep->today);
  li_out_table_header(out, &t);
  li_out_table_rule(out, &t);
  for (size_t i = 0; i < rep->n; i++) {
    s_row_cells(rep, &rep->rows[i], &c);
    li_out_table_row(out, &t, c.cells);
  }
  li_out_table_rule(out, &t);
  s_total_cells(rep, &c);
  li_out_table_row(out, &t, c.cells);
  if (zh)
    fprintf(out,
            "\n排查..督查: 各阶段未销号隐患; 逾期: 超过整改期限的未销号隐患\n"
            "工单, 超期: 未办结和超期的12345工单; 好评%%: 已评价工单中“好”的比例\n"
            "探访: %s 的关爱探访次数; 纠纷: 未结纠纷; 未确认: 未确认的通知\n"
            "本会缺: 居委会尚未收到的提交; 街道缺: 街道尚未收到的提交; 最新提交: 居委会最新提交距今\n"
            "版本: 居委会最后报告的街道数据结构版本 (?: 此后未联系)\n",
            rep->month);
  else
    fprintf(out,
          "\n排查..督查: open hazards by stage; overdue: open hazards past their deadline\n"
          "cases, late: open and overdue hotline cases; sat%%: share rated 好 of rated cases\n"
          "care: care visits in %s; disputes: open disputes; unacked: notices not acknowledged\n"
          "lacks: commits the committee lacks; hub lacks: commits the hub lacks;"
          " newest: age of the committee's newest commit\n"
          "schema: the street schema version the committee last said it is at (?: not heard since)\n",
          rep->month);
  if (rep->schema_behind) {
    if (zh) fprintf(out, "\n街道数据结构版本 %u; 尚未收到:", rep->schema_version);
    else fprintf(out, "\nstreet schema version %u; not received yet by:", rep->schema_version);
    for (size_t i = 0; i < rep->n; i++) {
      const li_report_row *row = &rep->rows[i];
      if (row->revoked || row->schema_version == (int64_t)rep->schema_version) continue;
      fputc(' ', out);
      li_out_text(out, row->name);
      if (row->schema_version) fprintf(out, " (v%" PRId64 ")", row->schema_version);
      else fputs(zh ? " (未联系)" : " (not heard)", out);
    }
    fputs("\n", out);
  }
}

/* ---- JSON ---- */

static void s_json_counts(li_json *j, const li_report_counts *n) {
  li_json_key(j, "hazards");
  li_json_object(j);
  li_json_kint(j, "open", n->hz_open);
  li_json_kint(j, "overdue", n->hz_overdue);
  li_json_key(j, "by_stage");
  li_json_object(j);
  for (int i = 0; i < LI_REPORT_STAGES; i++) li_json_kint(j, li_report_stage[i], n->hz_stage[i]);
  li_json_object_end(j);
  li_json_object_end(j);
  li_json_key(j, "hotline");
  li_json_object(j);
  li_json_kint(j, "open", n->hl_open);
  li_json_kint(j, "overdue", n->hl_overdue);
  li_json_kint(j, "rated", n->hl_rated);
  li_json_kint(j, "good", n->hl_good);
  int64_t pm;
  li_json_key(j, "satisfaction_pct");
  if (s_permille(n->hl_good, n->hl_rated, &pm)) li_json_fixed(j, pm, 1);
  else li_json_null(j);
  li_json_object_end(j);
  li_json_kint(j, "care_visits_this_month", n->care_month);
  li_json_kint(j, "disputes_open", n->disputes_open);
  li_json_kint(j, "notices_unacknowledged", n->notices_unacked);
}

/* committee_lacks and hub_lacks, or null for both */
static void s_json_lacks(li_json *j, bool known, int64_t committee_lacks, int64_t hub_lacks) {
  li_json_key(j, "committee_lacks");
  if (known) li_json_int(j, committee_lacks);
  else li_json_null(j);
  li_json_key(j, "hub_lacks");
  if (known) li_json_int(j, hub_lacks);
  else li_json_null(j);
}

static void s_json_sync(li_json *j, const li_report_data *rep, const li_report_row *row) {
  li_json_key(j, "sync");
  li_json_object(j);
  char buf[32];
  li_report_utc(row->last_contact_ms, buf, sizeof buf);
  li_json_kstr(j, "last_contact", row->contact_known ? buf : NULL);
  li_json_key(j, "last_contact_ms");
  if (row->contact_known) li_json_int(j, row->last_contact_ms);
  else li_json_null(j);
  s_json_lacks(j, row->lacks_known, row->committee_lacks, row->hub_lacks);
  li_json_key(j, "schema_version");
  if (row->schema_version) li_json_int(j, row->schema_version);
  else li_json_null(j);
  li_json_kbool(j, "schema_current", row->schema_version == (int64_t)rep->schema_version);
  li_report_age(rep->now_ms, row->newest_commit_ms, buf, sizeof buf);
  li_json_kstr(j, "newest_commit_age", row->commit_known ? buf : NULL);
  li_json_key(j, "newest_commit_age_ms");
  if (row->commit_known) li_json_uint(j, s_age_ms(rep->now_ms, row->newest_commit_ms));
  else li_json_null(j);
  li_json_object_end(j);
}

static void s_json_row(li_json *j, const li_report_data *rep, const li_report_row *row) {
  li_json_object(j);
  li_json_kstr(j, "name", row->name);
  li_json_kstr(j, "scope", row->scope);
  li_json_kbool(j, "revoked", row->revoked);
  s_json_counts(j, &row->n);
  s_json_sync(j, rep, row);
  li_json_object_end(j);
}

static void s_write_json(const li_report_data *rep, FILE *out) {
  char gen[32];
  li_report_utc((int64_t)(rep->now_ms <= LI_HLC_MS_MAX ? rep->now_ms : 0), gen, sizeof gen);
  li_json j;
  li_json_init(&j, out);
  li_json_object(&j);
  li_json_kstr(&j, "generated", gen);
  li_json_kstr(&j, "today", rep->today);
  li_json_kint(&j, "schema_version", rep->schema_version);
  li_json_key(&j, "committees");
  li_json_array(&j);
  for (size_t i = 0; i < rep->n; i++) {
    li_json_space(&j, "\n  "); /* one committee a line */
    s_json_row(&j, rep, &rep->rows[i]);
  }
  if (rep->n) li_json_space(&j, "\n");
  li_json_array_end(&j);
  li_json_space(&j, "\n");
  li_json_key(&j, "total");
  li_json_object(&j);
  s_json_counts(&j, &rep->total);
  s_json_lacks(&j, rep->total_lacks_known, rep->total_committee_lacks, rep->total_hub_lacks);
  li_json_object_end(&j);
  li_json_object_end(&j);
  li_json_end(&j);
}

/* ---- CSV ---- */

static void s_csv_counts(li_csv *c, const li_report_counts *n) {
  for (int i = 0; i < LI_REPORT_STAGES; i++) li_csv_int(c, n->hz_stage[i]);
  li_csv_int(c, n->hz_open);
  li_csv_int(c, n->hz_overdue);
  li_csv_int(c, n->hl_open);
  li_csv_int(c, n->hl_overdue);
  li_csv_int(c, n->hl_rated);
  li_csv_int(c, n->hl_good);
  char pct[32];
  li_report_pct(n->hl_good, n->hl_rated, pct, sizeof pct);
  li_csv_plain(c, pct);
  li_csv_int(c, n->care_month);
  li_csv_int(c, n->disputes_open);
  li_csv_int(c, n->notices_unacked);
}

static void s_csv_lacks(li_csv *c, bool known, int64_t committee_lacks, int64_t hub_lacks) {
  if (known) {
    li_csv_int(c, committee_lacks);
    li_csv_int(c, hub_lacks);
  } else {
    li_csv_plain(c, "-");
    li_csv_plain(c, "-");
  }
}

static const char *const s_csv_header[] = {
    "committee", "scope", "revoked", "hazards_排查", "hazards_交办", "hazards_整改", "hazards_复核", "hazards_督查",
    "hazards_open", "hazards_overdue", "hotline_open", "hotline_overdue", "hotline_rated", "hotline_good",
    "satisfaction_pct", "care_visits_this_month", "disputes_open", "notices_unacknowledged", "last_contact_utc",
    "committee_lacks", "hub_lacks", "newest_commit_age", "schema_version"};

static void s_csv_row(li_csv *c, const li_report_data *rep, const li_report_row *row) {
  li_csv_text(c, row->name);
  li_csv_text(c, row->scope);
  li_csv_plain(c, row->revoked ? "yes" : "no");
  s_csv_counts(c, &row->n);
  char buf[32];
  if (row->contact_known) li_report_utc(row->last_contact_ms, buf, sizeof buf);
  else snprintf(buf, sizeof buf, "never");
  li_csv_plain(c, buf);
  s_csv_lacks(c, row->lacks_known, row->committee_lacks, row->hub_lacks);
  if (row->commit_known) li_report_age(rep->now_ms, row->newest_commit_ms, buf, sizeof buf);
  else snprintf(buf, sizeof buf, "-");
  li_csv_plain(c, buf);
  if (row->schema_version) snprintf(buf, sizeof buf, "%" PRId64, row->schema_version);
  else snprintf(buf, sizeof buf, "-");
  li_csv_plain(c, buf);
  li_csv_end_row(c);
}

static void s_write_csv(const li_report_data *rep, FILE *out) {
  li_csv c;
  li_csv_begin(&c, out);
  for (size_t i = 0; i < sizeof s_csv_header / sizeof *s_csv_header; i++) li_csv_text(&c, s_csv_header[i]);
  li_csv_end_row(&c);
  for (size_t i = 0; i < rep->n; i++) s_csv_row(&c, rep, &rep->rows[i]);
  li_csv_text(&c, "TOTAL");
  li_csv_text(&c, ""); /* scope */
  li_csv_text(&c, ""); /* revoked */
  s_csv_counts(&c, &rep->total);
  li_csv_text(&c, ""); /* last contact */
  s_csv_lacks(&c, rep->total_lacks_known, rep->total_committee_lacks, rep->total_hub_lacks);
  li_csv_text(&c, ""); /* newest commit */
  char v[16];
  snprintf(v, sizeof v, "%u", rep->schema_version);
  li_csv_plain(&c, v);
  li_csv_end_row(&c);
}

/* ---- entry ---- */

li_err li_report_collect(li_report_data *out, li_replica *r, uint64_t now_ms, const char *today, li_errbuf *eb) {
  assert(r && r->db && out);
  memset(out, 0, sizeof *out);
  if (!s_valid_date(today)) return li_fail(eb, LI_ERR_USAGE, "report: today must be a date YYYY-MM-DD");
  memcpy(out->today, today, 10);
  memcpy(out->month, today, 7);
  out->now_ms = now_ms;
  if (sqlite3_exec(r->db, "SAVEPOINT li_report", NULL, NULL, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "report: savepoint");
  li_err e = s_collect(r, out, eb);
  sqlite3_exec(r->db, "RELEASE li_report", NULL, NULL, NULL);
  if (e) li_report_free(out);
  return e;
}

void li_report_free(li_report_data *d) {
  free(d->rows);
  memset(d, 0, sizeof *d);
}

li_err li_report_write(const li_report_data *d, li_report_format fmt, bool zh, FILE *out, li_errbuf *eb) {
  assert(fmt == LI_REPORT_TEXT || fmt == LI_REPORT_JSON || fmt == LI_REPORT_CSV);
  errno = 0;
  switch (fmt) {
  case LI_REPORT_TEXT: s_write_text(d, zh, out); break;
  case LI_REPORT_JSON: s_write_json(d, out); break;
  case LI_REPORT_CSV: s_write_csv(d, out); break;
  }
  if (fflush(out) != 0 || ferror(out))
    return li_fail(eb, LI_ERR_IO, "cannot write the report: %s", errno ? strerror(errno) : "write error");
  return LI_OK;
}

li_err li_report(li_replica *r, li_report_format fmt, uint64_t now_ms, const char *today, FILE *out,
                 li_errbuf *eb) {
  assert(out);
  li_report_data d;
  li_err e = li_report_collect(&d, r, now_ms, today, eb);
  if (e) return e;
  e = li_report_write(&d, fmt, false, out, eb);
  li_report_free(&d);
  return e;
}
