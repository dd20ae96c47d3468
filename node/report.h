/* report: the street's report (DOMAIN.md, "Questions the street's report
 * must answer"), per committee and in total, as an aligned text table, JSON
 * or CSV for a spreadsheet.
 *
 * Owns: the report's queries over a replica and its three renderings. It
 * reads only; it never writes the replica.
 *
 * Rows: one per roster row with role 'committee', ordered by member_scope
 * then name (revoked entries included and marked), then TOTAL. On a
 * committee node only the roster rows of its own scope (or, before the
 * roster has reached it, one row for itself). TOTAL sums the committee rows,
 * each scope once (a re-keyed committee has two roster rows, one scope);
 * street-scope records are not any committee's and are not in it.
 *
 * Per row:
 *   hazards    open by stage (排查 交办 整改 复核 督查; 销号 is closed) and
 *              how many open are overdue (deadline < today);
 *   hotline    open (status <> '已办结'), overdue (due_on < today, open),
 *              satisfaction = count('好') / count(rated), "-" when none rated;
 *   care       visits whose visited_on falls in today's month;
 *   disputes   open (status 受理 or 调解中);
 *   notices    street notices addressed to the scope ('all' or a comma list
 *              naming it), still valid (valid_to null or >= today), with no
 *              notice_acks row of that scope;
 *   sync       last contact (linli_peers.last_contact_ms, ISO UTC, "never"),
 *              commits the committee lacks and commits the hub lacks
 *              (linli_peers.behind_us / behind_them on the hub; the other way
 *              round on a committee, whose peer is the hub), and the age of
 *              the committee's newest commit (max HLC in linli_log).
 *
 * Invariants:
 *  1. All numbers come from one read snapshot (a savepoint around the queries).
 *  2. Nothing is written to out before every query has succeeded: a database
 *     error leaves out untouched.
 *  3. Text from the database is untrusted and reaches out only through
 *     node/out.h (its rules 1-4): invalid UTF-8 becomes U+FFFD, JSON strings
 *     are escaped, CSV fields are quoted per RFC 4180 and a field starting
 *     with = + - @ TAB or CR gets a leading ' (no spreadsheet formulas), and
 *     the text table replaces control characters with '?' and cuts a name
 *     or scope at LI_OUT_TEXT_COLS_MAX columns with '~' (before a
 *     " (revoked)" mark, which always shows).
 */
#ifndef LI_REPORT_H
#define LI_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "replica.h"

typedef enum {
  LI_REPORT_TEXT = 0, /* aligned table for a terminal */
  LI_REPORT_JSON,     /* {"generated","today","committees":[...],"total":{...}} */
  LI_REPORT_CSV,      /* UTF-8 BOM, header, one line per committee and TOTAL, CRLF */
} li_report_format;

#define LI_REPORT_STAGES 5
/* The open stages, in order (销号 is closed). */
extern const char *const li_report_stage[LI_REPORT_STAGES];

/* The figures of one committee, or of the street in total. */
typedef struct {
  int64_t hz_stage[LI_REPORT_STAGES], hz_open, hz_overdue;
  int64_t hl_open, hl_overdue, hl_rated, hl_good;
  int64_t care_month, disputes_open, notices_unacked;
} li_report_counts;

/* One roster row. Text is as stored (untrusted): show it through out.h. */
typedef struct {
  char name[LI_REPORT_TEXT_MAX + 1];
  char scope[LI_REPORT_TEXT_MAX + 1];
  bool revoked;
  bool key_ok; /* roster pubkey parsed into key */
  uint8_t key[LI_PK_BYTES];
  li_report_counts n;
  bool contact_known;
  int64_t last_contact_ms;
  bool lacks_known;
  int64_t committee_lacks, hub_lacks;
  bool commit_known;
  int64_t newest_commit_ms;
  int64_t schema_version; /* the committee's street schema version as last heard; 0: unknown */
} li_report_row;

/* The report as data: what every rendering (text, JSON, CSV, the
 * dashboard's pages) shows, so that they cannot disagree. */
typedef struct {
  li_report_row *rows;
  size_t n, cap;
  li_report_counts total;
  bool total_lacks_known;
  int64_t total_committee_lacks, total_hub_lacks;
  char today[11], month[8];
  uint64_t now_ms;
  uint32_t schema_version; /* this node's */
  size_t schema_behind;    /* committees not known to be at it */
} li_report_data;

/* LI_REPORT_COMMITTEES_MAX (over it: LI_ERR_LIMIT) and LI_REPORT_TEXT_MAX
 * are in li_limits.h. */

/* Writes the report of replica r to out.
 * now_ms: wall clock (generated time, ages); today: the caller's local date
 * "YYYY-MM-DD" (overdue, this month).
 * Fails with LI_ERR_USAGE for a malformed today, LI_ERR_SCHEMA when the
 * replica lacks the street schema's tables, LI_ERR_DB on a database error,
 * LI_ERR_LIMIT over LI_REPORT_COMMITTEES_MAX (nothing written in these
 * cases), LI_ERR_NOMEM, and LI_ERR_IO when out cannot be written. */
li_err li_report(li_replica *r, li_report_format fmt, uint64_t now_ms, const char *today, FILE *out,
                 li_errbuf *eb);

/* The two halves of li_report: collect (same failures, nothing kept on
 * failure; free with li_report_free, safe twice) and write (LI_ERR_IO).
 * zh: the text table's headings and legend in Chinese. */
li_err li_report_collect(li_report_data *out, li_replica *r, uint64_t now_ms, const char *today, li_errbuf *eb);
void li_report_free(li_report_data *d);
li_err li_report_write(const li_report_data *d, li_report_format fmt, bool zh, FILE *out, li_errbuf *eb);

/* The report's own ways of writing a time: ISO UTC ("?" when absurd), an
 * age ("45s", "3m", "2h", "5d"; ahead of now counts as 0s), and the share
 * rated 好 with one decimal ("66.7"; "-" when none rated). */
void li_report_utc(int64_t ms, char *buf, size_t cap);
void li_report_age(uint64_t now_ms, int64_t then_ms, char *buf, size_t cap);
void li_report_pct(int64_t good, int64_t rated, char *buf, size_t cap);

#endif
