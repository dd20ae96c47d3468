/* out: writing text nobody vouches for, for people and for programs.
 *
 * Owns: UTF-8 decoding and repair, the columns text takes on a terminal,
 * and linli's three text outputs: terminal text and tables, JSON, CSV.
 * Stored text is shown only through here. A roster name, a record, a
 * conflict's value, a peer's error text were all written by some committee
 * (or by whoever edited a replica.db), so none of it is trusted wherever it
 * is shown: a terminal, a spreadsheet or a program reading JSON.
 *
 * The Unicode tables (character classes, East Asian widths) are utf8proc's;
 * the rules are ours.
 *
 * Rules, for every function that takes untrusted text:
 *  1. What is written is valid UTF-8: each byte that does not start a valid
 *     sequence (invalid, overlong, a surrogate, past U+10FFFF, cut short)
 *     becomes one U+FFFD.
 *  2. Terminal: control characters (C0, DEL, C1), the line and paragraph
 *     separators and the bidi controls that reorder what follows become
 *     '?'. Columns: East Asian Wide and Fullwidth 2, combining marks and
 *     zero-width characters 0, others 1. A cut keeps whole characters and
 *     ends with '~', all within the width asked for.
 *  3. JSON: an li_json writes exactly one value. Keys only inside objects,
 *     a value inside an object only after its key; commas come from the
 *     writer. Misuse is an assertion. Strings escape '"', '\\' and every
 *     control character (\n \r \t, the others \u00XX, also DEL, C1 and
 *     U+2028/U+2029, which end a line in JavaScript).
 *  4. CSV (RFC 4180): a field is quoted when it holds a comma, a quote, CR
 *     or LF, its quotes doubled; a field starting with = + - @ TAB or CR
 *     gets a leading ' so that a spreadsheet never runs it as a formula;
 *     records end with CRLF; li_csv_begin writes the UTF-8 BOM spreadsheets
 *     need to read UTF-8.
 *  5. HTML (the dashboard): '&' '<' '>' '"' and '\'' become entities, so a
 *     value is inert both as element text and inside a quoted attribute;
 *     control characters and the bidi controls of rule 2 (not TAB, LF)
 *     become U+FFFD. A value placed in a URL is percent-encoded whole
 *     (everything but unreserved characters), then escaped as HTML.
 *
 * Write errors are not returned per call: as with stdio, the caller checks
 * fflush/ferror on the FILE once at the end. */
#ifndef LI_OUT_H
#define LI_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "li_limits.h"

/* ---- UTF-8 ---- */

/* Decodes the character at s (n >= 1 bytes left): returns the bytes it
 * takes (>= 1) and the code point in *cp, U+FFFD for a byte that does not
 * start a valid sequence (rule 1; one byte is consumed then). */
size_t li_utf8_next(const char *s, size_t n, uint32_t *cp);

/* Copies src (NULL: "") into dst, at most cap - 1 bytes (cap >= 1), cut
 * before a character that does not fit whole. Bytes are copied as they
 * are: use it to bound stored text, not to clean it. */
void li_utf8_copy(char *dst, size_t cap, const char *src);

/* ---- terminal (rule 2) ---- */

/* Columns s takes on a terminal once made safe. */
int li_out_width(const char *s);

/* s made safe for a terminal into out (cap >= 8 bytes, NUL-terminated),
 * within cols_max columns (>= 1) and cap - 1 bytes; '~' ends a cut. */
void li_out_clean(char *out, size_t cap, const char *s, int cols_max);

/* Writes s made safe, whole. For text that is not in a column (a value in
 * the audit log, a reason). */
void li_out_text(FILE *f, const char *s);

/* Writes s made safe and cut at cols_max columns (<= LI_OUT_CELL_COLS_MAX),
 * then spaces up to width columns: printf's "%-*s" counted in columns. */
void li_out_pad(FILE *f, const char *s, int width, int cols_max);

typedef enum { LI_OUT_LEFT = 0, LI_OUT_RIGHT } li_out_align;

typedef struct {
  const char *header;
  li_out_align align;
} li_out_col;

/* A text table: columns two spaces apart, each as wide as its widest cell
 * (header included). Cells are untrusted text, cleaned and cut at
 * LI_OUT_CELL_COLS_MAX columns. Fit every row first, then write: rows are
 * not kept, so a caller with many rows builds each twice and holds one. */
typedef struct {
  const li_out_col *cols;
  int ncols;
  int width[LI_OUT_TABLE_COLS_MAX];
} li_out_table;

/* cols (borrowed, 1..LI_OUT_TABLE_COLS_MAX of them) set the headers. */
void li_out_table_init(li_out_table *t, const li_out_col *cols, int ncols);
/* Widens the columns to fit a row of t->ncols cells. */
void li_out_table_fit(li_out_table *t, const char *const *cells);
void li_out_table_header(FILE *f, const li_out_table *t);
/* One row; the last column is not padded when left-aligned. */
void li_out_table_row(FILE *f, const li_out_table *t, const char *const *cells);
/* A line of '-' as wide as the table. */
void li_out_table_rule(FILE *f, const li_out_table *t);

/* ---- HTML (rule 5) ---- */

/* Writes s escaped for HTML text or a quoted attribute value. */
void li_html_text(FILE *f, const char *s);
/* Writes s percent-encoded for one query value or path segment (RFC 3986
 * unreserved characters stay); its output needs no further HTML escaping. */
void li_url_part(FILE *f, const char *s);

/* ---- JSON (rule 3) ---- */

typedef struct {
  FILE *f;
  int depth;                          /* open objects and arrays */
  bool is_object[LI_JSON_DEPTH_MAX];  /* per open level: object, else array */
  bool has_items[LI_JSON_DEPTH_MAX];  /* per open level: the next item needs a comma */
  bool after_key;                     /* in an object: a key is written, its value is not */
  bool done;                          /* the one value is complete */
  const char *space;                  /* layout to write before the next token */
} li_json;

void li_json_init(li_json *j, FILE *f);
void li_json_object(li_json *j);
void li_json_object_end(li_json *j);
void li_json_array(li_json *j);
void li_json_array_end(li_json *j);
void li_json_key(li_json *j, const char *key);
void li_json_str(li_json *j, const char *s); /* NULL writes null */
void li_json_int(li_json *j, int64_t v);
void li_json_uint(li_json *j, uint64_t v);
/* A decimal with a fixed number of places (1..9): (667, 1) is 66.7. */
void li_json_fixed(li_json *j, int64_t scaled, int places);
void li_json_bool(li_json *j, bool v);
void li_json_null(li_json *j);
/* Layout only: ws (spaces, tabs, newlines; borrowed until the next token)
 * is written before the next token, after the comma that precedes it. */
void li_json_space(li_json *j, const char *ws);
/* Ends the document: asserts the value is complete, writes a newline. */
void li_json_end(li_json *j);

/* A key and its value, the common pair. */
void li_json_kstr(li_json *j, const char *key, const char *s);
void li_json_kint(li_json *j, const char *key, int64_t v);
void li_json_kbool(li_json *j, const char *key, bool v);

/* ---- CSV (rule 4) ---- */

typedef struct {
  FILE *f;
  int fields; /* written in the current record */
} li_csv;

/* Starts a document: writes the UTF-8 BOM. */
void li_csv_begin(li_csv *c, FILE *f);
/* A field of untrusted text (NULL: empty). */
void li_csv_text(li_csv *c, const char *s);
void li_csv_int(li_csv *c, int64_t v);
/* A field linli made itself (a number, a date, "-"): written as it is,
 * without the formula guard, so "-" stays "-". It must need no quoting
 * (asserted). Never for stored text. */
void li_csv_plain(li_csv *c, const char *s);
/* Ends the record with CRLF. */
void li_csv_end_row(li_csv *c);

#endif
