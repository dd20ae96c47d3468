/* fuzz_schema_commit: li_commit_open of schema commits (a Commit carrying a
 * Migration), signed here by the test hub so every input reaches the
 * decode and s_check_commit. The input:
 *
 *   [mode][schema_version u32 LE][rest]     (missing bytes read as 0)
 *
 * mode & 3, what rest is:
 *   0, 3  [migration version u32 LE][statements, split on NUL bytes]: a
 *         Migration built with protobuf-c; whether it opens is known in
 *         advance (s_expect) and must be the verdict
 *   1     the bytes of the Migration field itself, hostile: appended to a
 *         valid commit as field 9
 *   2     the whole Commit, hostile (as fuzz_commit_signed, from seeds that
 *         carry migrations)
 * mode & 4: the commit carries a table change as well; mode & 8: it is
 * seq 2 with a prev hash instead of seq 1.
 *
 * Beyond "no crash, no leak": a schema commit that opens holds everything
 * s_check_commit promises merge (version == schema_version >= 2, at most
 * LI_SCHEMA_VERSION_MAX, 1..LI_MIGRATION_STMTS_MAX non-empty statements of
 * at most LI_MIGRATION_BYTES_MAX together, no tables, no rows), and in
 * mode 0 it carries exactly the statements built. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "commit.h"
#include "fuzz_util.h"
#include "hlc.h"
#include "li_limits.h"
#include "linli.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_STMTS_MAX (LI_MIGRATION_STMTS_MAX + 2) /* pieces built in mode 0: a few over the limit */

static void s_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_schema_commit: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

static uint32_t s_u32(const uint8_t *p, size_t n) {
  uint8_t b[4] = {0};
  memcpy(b, p, n < 4 ? n : 4);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* What s_check_commit promises of a schema commit that opened. */
static void s_check_open(const li_commit *c) {
  const Linli__Commit *k = c->c;
  if (memcmp(c->origin, fz_hub()->pk, LI_PK_BYTES) != 0) s_fail("opened with another origin", NULL);
  if (!k->migration) {
    if (k->n_tables == 0 || c->nrows == 0) s_fail("a commit without a migration opened with no changes", NULL);
    return;
  }
  const Linli__Migration *m = k->migration;
  if (m->version < 2 || m->version != k->schema_version || k->schema_version > LI_SCHEMA_VERSION_MAX)
    s_fail("a schema commit opened with a bad version", NULL);
  if (k->n_tables != 0 || c->nrows != 0) s_fail("a schema commit opened with row changes", NULL);
  if (m->n_statements < 1 || m->n_statements > LI_MIGRATION_STMTS_MAX)
    s_fail("a schema commit opened with a bad statement count", NULL);
  size_t bytes = 0;
  for (size_t i = 0; i < m->n_statements; i++) {
    if (!m->statements[i] || !m->statements[i][0]) s_fail("a schema commit opened with an empty statement", NULL);
    bytes += strlen(m->statements[i]);
  }
  if (bytes > LI_MIGRATION_BYTES_MAX) s_fail("a schema commit opened over LI_MIGRATION_BYTES_MAX", NULL);
  if (m->base.n_unknown_fields) s_fail("a schema commit opened with unknown fields", NULL);
}

/* A valid commit of the hub's street chain, without its changes. */
static void s_commit(Linli__Commit *c, uint8_t mode, uint32_t schema_version, uint8_t prev[LI_HASH_BYTES]) {
  linli__commit__init(c);
  c->origin = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)fz_hub()->pk};
  c->scope = (char *)"street";
  c->seq = mode & 8 ? 2 : 1;
  if (mode & 8) c->prev = (ProtobufCBinaryData){LI_HASH_BYTES, prev};
  c->hlc = LI_HLC_MAKE(FZ_WALL_MS - 1000, 0);
  c->schema_version = schema_version;
}

/* Opens signed commit bytes; checks what opened. */
static li_err s_open(const uint8_t *commit, size_t len, const Linli__Migration *built) {
  size_t slen;
  uint8_t *sc = fz_sign(commit, len, &slen);
  if (!sc) return LI_ERR_NOMEM;
  li_arena a;
  li_arena_init(&a);
  li_commit c;
  li_errbuf eb = {{0}};
  li_err e = li_commit_open(fz_hub()->pk, sc, slen, &a, &c, &eb);
  if (e == LI_OK) {
    s_check_open(&c);
    if (built) {
      const Linli__Migration *m = c.c->migration;
      if (!m || m->n_statements != built->n_statements) s_fail("the statements do not come back", NULL);
      for (size_t i = 0; i < m->n_statements; i++)
        if (strcmp(m->statements[i], built->statements[i]) != 0) s_fail("a statement comes back otherwise", NULL);
    }
  } else if (!eb.msg[0]) {
    s_fail("refused without a reason", li_errname(e));
  }
  li_arena_free(&a);
  free(sc);
  return e;
}

/* Mode 0's verdict, from the rules of commit.h / s_check_commit. */
static bool s_expect(const Linli__Commit *c, size_t packed) {
  const Linli__Migration *m = c->migration;
  if (packed > LI_COMMIT_BYTES_MAX || c->n_tables) return false;
  if (c->schema_version < 2 || c->schema_version > LI_SCHEMA_VERSION_MAX || m->version != c->schema_version) return false;
  if (m->n_statements < 1 || m->n_statements > LI_MIGRATION_STMTS_MAX) return false;
  size_t bytes = 0;
  for (size_t i = 0; i < m->n_statements; i++) {
    if (!m->statements[i][0]) return false;
    bytes += strlen(m->statements[i]);
  }
  return bytes <= LI_MIGRATION_BYTES_MAX;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_init();
  uint8_t mode = size ? data[0] : 0;
  uint32_t sv = s_u32(data + (size > 1), size > 1 ? size - 1 : 0);
  const uint8_t *rest = data + (size < 5 ? size : 5);
  size_t rest_len = size < 5 ? 0 : size - 5;
  if ((mode & 3) == 2) { /* the whole Commit */
    s_open(rest, rest_len, NULL);
    return 0;
  }
  uint8_t prev[LI_HASH_BYTES];
  memset(prev, 0x5A, sizeof prev);
  Linli__Commit c;
  s_commit(&c, mode, sv, prev);
  Linli__Value id = LINLI__VALUE__INIT, *pk[1] = {&id};
  id.v_case = LINLI__VALUE__V_T;
  id.t = (char *)"n1";
  Linli__RowChange rc = LINLI__ROW_CHANGE__INIT, *rows[1] = {&rc};
  rc.n_pk = 1;
  rc.pk = pk;
  rc.cl = 2;
  Linli__TableChanges tc = LINLI__TABLE_CHANGES__INIT, *tabs[1] = {&tc};
  tc.table = (char *)"notices";
  tc.n_rows = 1;
  tc.rows = rows;
  if (mode & 4) {
    c.n_tables = 1;
    c.tables = tabs;
  }
  if ((mode & 3) == 1) { /* the Migration field's bytes */
    size_t head = linli__commit__get_packed_size(&c);
    uint8_t *buf = malloc(head + 1 + 10 + rest_len);
    if (!buf) return 0;
    size_t n = linli__commit__pack(&c, buf);
    buf[n++] = 0x4a; /* field 9, length-delimited */
    for (uint64_t v = rest_len; ; v >>= 7) {
      buf[n++] = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
      if (v < 0x80) break;
    }
    if (rest_len) memcpy(buf + n, rest, rest_len);
    n += rest_len;
    li_err e = s_open(buf, n, NULL);
    if (e == LI_OK && (c.n_tables || rest_len == 0)) s_fail("opened with a table or an empty migration", NULL);
    free(buf);
    return 0;
  }
  /* mode 0: the statements built with protobuf-c */
  Linli__Migration mg = LINLI__MIGRATION__INIT;
  mg.version = s_u32(rest, rest_len);
  const uint8_t *p = rest_len > 4 ? rest + 4 : rest + rest_len;
  size_t plen = rest_len > 4 ? rest_len - 4 : 0;
  char *text = malloc(plen + 1), *stmts[S_STMTS_MAX];
  if (!text) return 0;
  memcpy(text, p, plen);
  text[plen] = 0;
  size_t n = 0;
  if (plen) {
    stmts[n++] = text;
    for (size_t i = 0; i < plen && n < S_STMTS_MAX; i++)
      if (text[i] == 0) stmts[n++] = text + i + 1;
  }
  mg.n_statements = n;
  mg.statements = stmts;
  c.migration = &mg;
  size_t len = linli__commit__get_packed_size(&c);
  uint8_t *buf = malloc(len ? len : 1);
  if (buf) {
    linli__commit__pack(&c, buf);
    li_err e = s_open(buf, len, &mg);
    if ((e == LI_OK) != s_expect(&c, len)) s_fail(e == LI_OK ? "opened against the rules" : "refused within the rules", NULL);
    free(buf);
  }
  free(text);
  return 0;
}
