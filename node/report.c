/* report: the street's report per committee and in total (see report.h).
 *
 *   li_report ──s_collect──▶ s_report (roster rows, counts, sync facts)
 *             ──s_write_text | s_write_json | s_write_csv──▶ out
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

#include "hlc.h"
#include "keys.h"
#include "roster.h"

#define S_STAGES 5
static const char *const s_stage[S_STAGES] = {"排查", "交办", "整改", "复核", "督查"};

typedef struct {
  int64_t hz_stage[S_STAGES], hz_open, hz_overdue;
  int64_t hl_open, hl_overdue, hl_rated, hl_good;
  int64_t care_month, disputes_open, notices_unacked;
} s_counts;

typedef struct {
  char name[LI_REPORT_TEXT_MAX + 1];
  char scope[LI_REPORT_TEXT_MAX + 1];
  bool revoked;
  bool key_ok; /* roster pubkey parsed into key */
  uint8_t key[LI_PK_BYTES];
  s_counts n;
  bool contact_known;
  int64_t last_contact_ms;
  bool lacks_known;
  int64_t committee_lacks, hub_lacks;
  bool commit_known;
  int64_t newest_commit_ms;
} s_row;

typedef struct {
  s_row *rows;
  size_t n, cap;
  s_counts total;
  bool total_lacks_known;
  int64_t total_committee_lacks, total_hub_lacks;
  char today[11], month[8];
  uint64_t now_ms;
} s_report;

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

/* Copies at most cap-1 bytes of src (NULL: ""), cutting before a UTF-8
 * continuation byte so a character is never split. */
static void s_copy_text(char *dst, size_t cap, const unsigned char *src) {
  size_t len = src ? strlen((const char *)src) : 0;
  if (len >= cap) {
    len = cap - 1;
    while (len > 0 && (src[len] & 0xC0) == 0x80) len--;
  }
  if (len) memcpy(dst, src, len);
  dst[len] = 0;
}

/* An INTEGER column; false for NULL or any other type (untrusted values). */
static bool s_col_int(sqlite3_stmt *st, int i, int64_t *v) {
  if (sqlite3_column_type(st, i) != SQLITE_INTEGER) return false;
  *v = sqlite3_column_int64(st, i);
  return true;
}

/* Decodes one UTF-8 character of s (at most n bytes, n >= 1); returns the
 * bytes consumed (>= 1) and U+FFFD in *cp for an invalid or overlong
 * sequence, a surrogate or a value past U+10FFFF. */
static size_t s_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned char c = s[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  if (len > n) {
    *cp = 0xFFFD;
    return 1;
  }
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = v;
  return len;
}

static size_t s_utf8_put(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Characters a terminal must not receive from untrusted text: C0, DEL, C1
 * controls and the bidirectional overrides that reorder what follows. */
static bool s_unsafe_for_terminal(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F;
}

/* Terminal columns of a character (East Asian wide and fullwidth: 2). */
static int s_cp_width(uint32_t cp) {
  if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x200B || cp == 0x200C || cp == 0x200D) return 0;
  if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) || (cp >= 0x3041 && cp <= 0x33FF) ||
      (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
      (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
      (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
    return 2;
  return 1;
}

/* Display width of valid UTF-8 (as made by s_text_clean). */
static int s_width(const char *s) {
  int w = 0;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += s_utf8_next((const unsigned char *)s + i, n - i, &cp);
    w += s_cp_width(cp);
  }
  return w;
}

#define S_CELL 256
/* The most terminal columns an untrusted name or scope may take. */
#define S_TEXT_COLS_MAX 32

/* Untrusted text made safe and bounded for the table: invalid UTF-8 as
 * U+FFFD, unsafe characters as '?', at most S_TEXT_COLS_MAX columns (cut
 * with a trailing '~'). out holds S_CELL bytes. */
static void s_text_clean(const char *in, char out[S_CELL]) {
  size_t n = strlen(in), o = 0;
  int total = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += s_utf8_next((const unsigned char *)in + i, n - i, &cp);
    total += s_unsafe_for_terminal(cp) ? 1 : s_cp_width(cp);
  }
  int room = total > S_TEXT_COLS_MAX ? S_TEXT_COLS_MAX - 1 : S_TEXT_COLS_MAX, w = 0;
  bool cut = total > S_TEXT_COLS_MAX;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += s_utf8_next((const unsigned char *)in + i, n - i, &cp);
    if (s_unsafe_for_terminal(cp)) cp = '?';
    int cw = s_cp_width(cp);
    if (w + cw > room) break;
    /* Zero-width characters take bytes but no columns: bound the bytes too,
     * leaving room for '~' and a caller's " (revoked)". */
    if (o + 4 > S_CELL - 16) {
      cut = true;
      break;
    }
    o += s_utf8_put(cp, out + o);
    w += cw;
  }
  if (cut) out[o++] = '~';
  out[o] = 0;
}

static void s_iso_utc(int64_t ms, char *buf, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || (uint64_t)ms > LI_HLC_MS_MAX || !gmtime_r(&t, &tm) ||
      strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "?");
}

/* "45s", "3m", "2h", "5d"; a time ahead of now (clock skew) counts as 0s. */
static void s_age(uint64_t now_ms, int64_t then_ms, char *buf, size_t cap) {
  uint64_t s = then_ms >= 0 && (uint64_t)then_ms < now_ms ? (now_ms - (uint64_t)then_ms) / 1000 : 0;
  if (s < 60) snprintf(buf, cap, "%" PRIu64 "s", s);
  else if (s < 3600) snprintf(buf, cap, "%" PRIu64 "m", s / 60);
  else if (s < 86400) snprintf(buf, cap, "%" PRIu64 "h", s / 3600);
  else snprintf(buf, cap, "%" PRIu64 "d", s / 86400);
}

static uint64_t s_age_ms(uint64_t now_ms, int64_t then_ms) {
  return then_ms >= 0 && (uint64_t)then_ms < now_ms ? now_ms - (uint64_t)then_ms : 0;
}

/* Percentage with one decimal, rounded half up: 2 of 3 -> "66.7". */
static bool s_pct(int64_t good, int64_t rated, char *buf, size_t cap) {
  if (rated <= 0 || good < 0 || good > rated) {
    snprintf(buf, cap, "-");
    return false;
  }
  int64_t permille = (good * 1000 + rated / 2) / rated;
  snprintf(buf, cap, "%" PRId64 ".%" PRId64, permille / 10, permille % 10);
  return true;
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

static const char s_sql_peer[] = "SELECT last_contact_ms, behind_us, behind_them FROM linli_peers WHERE key = ?1";
static const char s_sql_newest[] = "SELECT max(hlc) FROM linli_log WHERE origin = ?1";

static li_err s_add_row(s_report *rep, s_row **out, li_errbuf *eb) {
  if (rep->n == rep->cap) {
    if (rep->cap >= LI_REPORT_COMMITTEES_MAX)
      return li_fail(eb, LI_ERR_LIMIT, "the roster lists more than %d committees (LI_REPORT_COMMITTEES_MAX)",
                     LI_REPORT_COMMITTEES_MAX);
    size_t cap = rep->cap ? rep->cap * 2 : 32;
    if (cap > LI_REPORT_COMMITTEES_MAX) cap = LI_REPORT_COMMITTEES_MAX;
    s_row *p = realloc(rep->rows, cap * sizeof *p);
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

static li_err s_collect_roster(li_replica *r, s_report *rep, li_errbuf *eb) {
  bool hub = r->role == LI_ROLE_HUB;
  li_roster_row *rows = NULL;
  size_t n = 0;
  li_err e = li_roster_rows(r, hub ? NULL : r->scope, LI_REPORT_COMMITTEES_MAX, &rows, &n, eb);
  if (e == LI_ERR_LIMIT)
    return li_fail(eb, e, "the roster lists more than %d committees (LI_REPORT_COMMITTEES_MAX)", LI_REPORT_COMMITTEES_MAX);
  if (e) return e;
  for (size_t i = 0; i < n && !e; i++) {
    s_row *row;
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
    s_row *row;
    if ((e = s_add_row(rep, &row, eb))) return e;
    s_copy_text(row->name, sizeof row->name, (const unsigned char *)r->scope);
    s_copy_text(row->scope, sizeof row->scope, (const unsigned char *)r->scope);
    memcpy(row->key, r->self, LI_PK_BYTES);
    row->key_ok = true;
  }
  return LI_OK;
}

static li_err s_collect_counts(li_replica *r, s_report *rep, sqlite3_stmt *st, s_row *row, li_errbuf *eb) {
  sqlite3_reset(st);
  sqlite3_bind_text(st, 1, row->scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, rep->today, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, rep->month, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_ROW) return li_db_fail(r, eb, "report: counts");
  s_counts *n = &row->n;
  int c = 0;
  for (int i = 0; i < S_STAGES; i++) {
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

static li_err s_collect_sync(li_replica *r, sqlite3_stmt *peer, sqlite3_stmt *newest, s_row *row, li_errbuf *eb) {
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
  } else if (rc != SQLITE_DONE) {
    return li_db_fail(r, eb, "report: linli_peers");
  }
  sqlite3_reset(newest);
  sqlite3_bind_blob(newest, 1, origin, LI_PK_BYTES, SQLITE_STATIC);
  if (sqlite3_step(newest) != SQLITE_ROW) return li_db_fail(r, eb, "report: linli_log");
  int64_t hlc;
  if (s_col_int(newest, 0, &hlc) && hlc >= 0) {
    row->commit_known = true;
    row->newest_commit_ms = (int64_t)LI_HLC_MS((uint64_t)hlc);
  }
  sqlite3_reset(newest);
  sqlite3_reset(peer);
  return LI_OK;
}

static void s_add_counts(s_counts *t, const s_counts *n) {
  for (int i = 0; i < S_STAGES; i++) t->hz_stage[i] += n->hz_stage[i];
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

static void s_totals(s_report *rep) {
  /* Rows are ordered by scope: a scope's rows are adjacent; count it once. */
  for (size_t i = 0; i < rep->n; i++) {
    const s_row *row = &rep->rows[i];
    if (i == 0 || strcmp(row->scope, rep->rows[i - 1].scope) != 0) s_add_counts(&rep->total, &row->n);
    if (row->lacks_known) {
      rep->total_lacks_known = true;
      rep->total_committee_lacks += row->committee_lacks;
      rep->total_hub_lacks += row->hub_lacks;
    }
  }
}

static li_err s_collect(li_replica *r, s_report *rep, li_errbuf *eb) {
  li_err e = s_collect_roster(r, rep, eb);
  if (e) return e;
  sqlite3_stmt *counts = NULL, *peer = NULL, *newest = NULL;
  if ((e = s_prepare(r, s_sql_counts, &counts, eb)) || (e = s_prepare(r, s_sql_peer, &peer, eb)) ||
      (e = s_prepare(r, s_sql_newest, &newest, eb)))
    goto done;
  for (size_t i = 0; i < rep->n && !e; i++) {
    e = s_collect_counts(r, rep, counts, &rep->rows[i], eb);
    if (!e) e = s_collect_sync(r, peer, newest, &rep->rows[i], eb);
  }
  if (!e) s_totals(rep);
done:
  sqlite3_finalize(counts);
  sqlite3_finalize(peer);
  sqlite3_finalize(newest);
  return e;
}

/* ---- text ---- */

enum { C_NAME, C_SCOPE, C_STAGE0, C_HZ_OVERDUE = C_STAGE0 + S_STAGES, C_HL_OPEN, C_HL_OVERDUE, C_SAT,
       C_CARE, C_DISPUTES, C_NOTICES, C_CONTACT, C_C_LACKS, C_H_LACKS, C_NEWEST, C__COUNT };

static const char *const s_text_header[C__COUNT] = {
    "committee", "scope", "排查", "交办", "整改", "复核", "督查", "overdue", "cases", "late", "sat%",
    "care", "disputes", "unacked", "last contact", "lacks", "hub lacks", "newest"};

static bool s_left_aligned(int col) { return col == C_NAME || col == C_SCOPE || col == C_CONTACT; }

typedef char s_cells[C__COUNT][S_CELL];

static void s_count_cells(const s_counts *n, s_cells c) {
  for (int i = 0; i < S_STAGES; i++) snprintf(c[C_STAGE0 + i], S_CELL, "%" PRId64, n->hz_stage[i]);
  snprintf(c[C_HZ_OVERDUE], S_CELL, "%" PRId64, n->hz_overdue);
  snprintf(c[C_HL_OPEN], S_CELL, "%" PRId64, n->hl_open);
  snprintf(c[C_HL_OVERDUE], S_CELL, "%" PRId64, n->hl_overdue);
  s_pct(n->hl_good, n->hl_rated, c[C_SAT], S_CELL);
  snprintf(c[C_CARE], S_CELL, "%" PRId64, n->care_month);
  snprintf(c[C_DISPUTES], S_CELL, "%" PRId64, n->disputes_open);
  snprintf(c[C_NOTICES], S_CELL, "%" PRId64, n->notices_unacked);
}

static void s_row_cells(const s_report *rep, const s_row *row, s_cells c) {
  char name[S_CELL];
  s_text_clean(row->name, name);
  snprintf(c[C_NAME], S_CELL, "%s%s", name, row->revoked ? " (revoked)" : "");
  s_text_clean(row->scope, c[C_SCOPE]);
  s_count_cells(&row->n, c);
  if (row->contact_known) s_iso_utc(row->last_contact_ms, c[C_CONTACT], S_CELL);
  else snprintf(c[C_CONTACT], S_CELL, "never");
  if (row->lacks_known) {
    snprintf(c[C_C_LACKS], S_CELL, "%" PRId64, row->committee_lacks);
    snprintf(c[C_H_LACKS], S_CELL, "%" PRId64, row->hub_lacks);
  } else {
    snprintf(c[C_C_LACKS], S_CELL, "-");
    snprintf(c[C_H_LACKS], S_CELL, "-");
  }
  if (row->commit_known) s_age(rep->now_ms, row->newest_commit_ms, c[C_NEWEST], S_CELL);
  else snprintf(c[C_NEWEST], S_CELL, "-");
}

static void s_total_cells(const s_report *rep, s_cells c) {
  snprintf(c[C_NAME], S_CELL, "TOTAL");
  c[C_SCOPE][0] = 0;
  s_count_cells(&rep->total, c);
  c[C_CONTACT][0] = 0;
  if (rep->total_lacks_known) {
    snprintf(c[C_C_LACKS], S_CELL, "%" PRId64, rep->total_committee_lacks);
    snprintf(c[C_H_LACKS], S_CELL, "%" PRId64, rep->total_hub_lacks);
  } else {
    snprintf(c[C_C_LACKS], S_CELL, "-");
    snprintf(c[C_H_LACKS], S_CELL, "-");
  }
  c[C_NEWEST][0] = 0;
}

static void s_pad(FILE *out, int n) {
  for (int i = 0; i < n; i++) fputc(' ', out);
}

static void s_print_cells(FILE *out, s_cells c, const int width[C__COUNT]) {
  for (int col = 0; col < C__COUNT; col++) {
    int pad = width[col] - s_width(c[col]);
    if (col) fputs("  ", out);
    if (s_left_aligned(col)) {
      fputs(c[col], out);
      if (col < C__COUNT - 1) s_pad(out, pad);
    } else {
      s_pad(out, pad);
      fputs(c[col], out);
    }
  }
  fputc('\n', out);
}

static void s_width_of(s_cells c, int width[C__COUNT]) {
  for (int col = 0; col < C__COUNT; col++) {
    int w = s_width(c[col]);
    if (w > width[col]) width[col] = w;
  }
}

static void s_write_text(const s_report *rep, FILE *out) {
  /* Cells are built twice (widths, then printing) so that memory stays one
   * row of cells (on the stack) whatever the number of committees. */
  s_cells cells, *c = &cells;
  int width[C__COUNT];
  for (int col = 0; col < C__COUNT; col++) width[col] = s_width(s_text_header[col]);
  for (size_t i = 0; i < rep->n; i++) {
    s_row_cells(rep, &rep->rows[i], *c);
    s_width_of(*c, width);
  }
  s_total_cells(rep, *c);
  s_width_of(*c, width);

  char gen[32];
  s_iso_utc((int64_t)(rep->now_ms <= LI_HLC_MS_MAX ? rep->now_ms : 0), gen, sizeof gen);
  fprintf(out, "linli report  generated %s  today %s\n\n", gen, rep->today);
  for (int col = 0; col < C__COUNT; col++) snprintf((*c)[col], S_CELL, "%s", s_text_header[col]);
  s_print_cells(out, *c, width);
  int total_width = 2 * (C__COUNT - 1);
  for (int col = 0; col < C__COUNT; col++) total_width += width[col];
  for (int i = 0; i < total_width; i++) fputc('-', out);
  fputc('\n', out);
  for (size_t i = 0; i < rep->n; i++) {
    s_row_cells(rep, &rep->rows[i], *c);
    s_print_cells(out, *c, width);
  }
  for (int i = 0; i < total_width; i++) fputc('-', out);
  fputc('\n', out);
  s_total_cells(rep, *c);
  s_print_cells(out, *c, width);
  fprintf(out,
          "\n排查..督查: open hazards by stage; overdue: open hazards past their deadline\n"
          "cases, late: open and overdue hotline cases; sat%%: share rated 好 of rated cases\n"
          "care: care visits in %s; disputes: open disputes; unacked: notices not acknowledged\n"
          "lacks: commits the committee lacks; hub lacks: commits the hub lacks;"
          " newest: age of the committee's newest commit\n",
          rep->month);
}

/* ---- JSON ---- */

static void s_json_str(FILE *out, const char *s) {
  size_t n = strlen(s);
  fputc('"', out);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += s_utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (cp == '"' || cp == '\\') {
      fputc('\\', out);
      fputc((int)cp, out);
    } else if (cp == '\n') {
      fputs("\\n", out);
    } else if (cp == '\r') {
      fputs("\\r", out);
    } else if (cp == '\t') {
      fputs("\\t", out);
    } else if (cp < 0x20 || cp == 0x7F || cp == 0x2028 || cp == 0x2029) {
      fprintf(out, "\\u%04x", (unsigned)cp);
    } else {
      char b[4];
      fwrite(b, 1, s_utf8_put(cp, b), out);
    }
  }
  fputc('"', out);
}

static void s_json_counts(FILE *out, const s_counts *n) {
  fprintf(out, "\"hazards\":{\"open\":%" PRId64 ",\"overdue\":%" PRId64 ",\"by_stage\":{", n->hz_open,
          n->hz_overdue);
  for (int i = 0; i < S_STAGES; i++) fprintf(out, "%s\"%s\":%" PRId64, i ? "," : "", s_stage[i], n->hz_stage[i]);
  char pct[32];
  bool rated = s_pct(n->hl_good, n->hl_rated, pct, sizeof pct);
  fprintf(out,
          "}},\"hotline\":{\"open\":%" PRId64 ",\"overdue\":%" PRId64 ",\"rated\":%" PRId64 ",\"good\":%" PRId64
          ",\"satisfaction_pct\":%s},",
          n->hl_open, n->hl_overdue, n->hl_rated, n->hl_good, rated ? pct : "null");
  fprintf(out, "\"care_visits_this_month\":%" PRId64 ",\"disputes_open\":%" PRId64
               ",\"notices_unacknowledged\":%" PRId64,
          n->care_month, n->disputes_open, n->notices_unacked);
}

static void s_json_row(const s_report *rep, const s_row *row, FILE *out) {
  fputs("{\"name\":", out);
  s_json_str(out, row->name);
  fputs(",\"scope\":", out);
  s_json_str(out, row->scope);
  fprintf(out, ",\"revoked\":%s,", row->revoked ? "true" : "false");
  s_json_counts(out, &row->n);
  fputs(",\"sync\":{\"last_contact\":", out);
  if (row->contact_known) {
    char iso[32];
    s_iso_utc(row->last_contact_ms, iso, sizeof iso);
    fprintf(out, "\"%s\",\"last_contact_ms\":%" PRId64, iso, row->last_contact_ms);
  } else {
    fputs("null,\"last_contact_ms\":null", out);
  }
  if (row->lacks_known)
    fprintf(out, ",\"committee_lacks\":%" PRId64 ",\"hub_lacks\":%" PRId64, row->committee_lacks, row->hub_lacks);
  else
    fputs(",\"committee_lacks\":null,\"hub_lacks\":null", out);
  if (row->commit_known) {
    char age[32];
    s_age(rep->now_ms, row->newest_commit_ms, age, sizeof age);
    fprintf(out, ",\"newest_commit_age\":\"%s\",\"newest_commit_age_ms\":%" PRIu64 "}}", age,
            s_age_ms(rep->now_ms, row->newest_commit_ms));
  } else {
    fputs(",\"newest_commit_age\":null,\"newest_commit_age_ms\":null}}", out);
  }
}

static void s_write_json(const s_report *rep, FILE *out) {
  char gen[32];
  s_iso_utc((int64_t)(rep->now_ms <= LI_HLC_MS_MAX ? rep->now_ms : 0), gen, sizeof gen);
  fprintf(out, "{\"generated\":\"%s\",\"today\":\"%s\",\"committees\":[", gen, rep->today);
  for (size_t i = 0; i < rep->n; i++) {
    if (i) fputc(',', out);
    fputs("\n  ", out);
    s_json_row(rep, &rep->rows[i], out);
  }
  fputs(rep->n ? "\n],\n\"total\":{" : "],\n\"total\":{", out);
  s_json_counts(out, &rep->total);
  if (rep->total_lacks_known)
    fprintf(out, ",\"committee_lacks\":%" PRId64 ",\"hub_lacks\":%" PRId64 "}}\n", rep->total_committee_lacks,
            rep->total_hub_lacks);
  else
    fputs(",\"committee_lacks\":null,\"hub_lacks\":null}}\n", out);
}

/* ---- CSV ---- */

/* One RFC 4180 field of untrusted text: invalid UTF-8 as U+FFFD, quoted when
 * it holds a comma, quote, CR or LF (quotes doubled), and a leading ' when it
 * starts like a spreadsheet formula. */
static void s_csv_text(FILE *out, const char *s) {
  bool quote = strpbrk(s, ",\"\r\n") != NULL;
  if (quote) fputc('"', out);
  if (s[0] && strchr("=+-@\t\r", s[0])) fputc('\'', out);
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    i += s_utf8_next((const unsigned char *)s + i, n - i, &cp);
    if (cp == '"') fputc('"', out);
    char b[4];
    fwrite(b, 1, s_utf8_put(cp, b), out);
  }
  if (quote) fputc('"', out);
}

static void s_csv_counts(FILE *out, const s_counts *n) {
  for (int i = 0; i < S_STAGES; i++) fprintf(out, ",%" PRId64, n->hz_stage[i]);
  char pct[32];
  s_pct(n->hl_good, n->hl_rated, pct, sizeof pct);
  fprintf(out,
          ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%" PRId64 ",%" PRId64
          ",%" PRId64,
          n->hz_open, n->hz_overdue, n->hl_open, n->hl_overdue, n->hl_rated, n->hl_good, pct, n->care_month,
          n->disputes_open, n->notices_unacked);
}

static void s_write_csv(const s_report *rep, FILE *out) {
  fputs("\xEF\xBB\xBF", out);
  fputs("committee,scope,revoked", out);
  for (int i = 0; i < S_STAGES; i++) fprintf(out, ",hazards_%s", s_stage[i]);
  fputs(",hazards_open,hazards_overdue,hotline_open,hotline_overdue,hotline_rated,hotline_good,"
        "satisfaction_pct,care_visits_this_month,disputes_open,notices_unacknowledged,"
        "last_contact_utc,committee_lacks,hub_lacks,newest_commit_age\r\n",
        out);
  for (size_t i = 0; i < rep->n; i++) {
    const s_row *row = &rep->rows[i];
    s_csv_text(out, row->name);
    fputc(',', out);
    s_csv_text(out, row->scope);
    fputs(row->revoked ? ",yes" : ",no", out);
    s_csv_counts(out, &row->n);
    char buf[32];
    if (row->contact_known) s_iso_utc(row->last_contact_ms, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "never");
    fprintf(out, ",%s", buf);
    if (row->lacks_known) fprintf(out, ",%" PRId64 ",%" PRId64, row->committee_lacks, row->hub_lacks);
    else fputs(",-,-", out);
    if (row->commit_known) s_age(rep->now_ms, row->newest_commit_ms, buf, sizeof buf);
    else snprintf(buf, sizeof buf, "-");
    fprintf(out, ",%s\r\n", buf);
  }
  fputs("TOTAL,,", out);
  s_csv_counts(out, &rep->total);
  if (rep->total_lacks_known)
    fprintf(out, ",,%" PRId64 ",%" PRId64 ",\r\n", rep->total_committee_lacks, rep->total_hub_lacks);
  else
    fputs(",,-,-,\r\n", out);
}

/* ---- entry ---- */

li_err li_report(li_replica *r, li_report_format fmt, uint64_t now_ms, const char *today, FILE *out,
                 li_errbuf *eb) {
  assert(r && r->db && out);
  assert(fmt == LI_REPORT_TEXT || fmt == LI_REPORT_JSON || fmt == LI_REPORT_CSV);
  if (!s_valid_date(today)) return li_fail(eb, LI_ERR_USAGE, "report: today must be a date YYYY-MM-DD");
  s_report rep;
  memset(&rep, 0, sizeof rep);
  memcpy(rep.today, today, 10);
  memcpy(rep.month, today, 7);
  rep.now_ms = now_ms;

  if (sqlite3_exec(r->db, "SAVEPOINT li_report", NULL, NULL, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "report: savepoint");
  li_err e = s_collect(r, &rep, eb);
  sqlite3_exec(r->db, "RELEASE li_report", NULL, NULL, NULL);
  if (e) {
    free(rep.rows);
    return e;
  }
  errno = 0;
  switch (fmt) {
  case LI_REPORT_TEXT: s_write_text(&rep, out); break;
  case LI_REPORT_JSON: s_write_json(&rep, out); break;
  case LI_REPORT_CSV: s_write_csv(&rep, out); break;
  }
  free(rep.rows);
  if (fflush(out) != 0 || ferror(out))
    return li_fail(eb, LI_ERR_IO, "cannot write the report: %s", errno ? strerror(errno) : "write error");
  return LI_OK;
}
