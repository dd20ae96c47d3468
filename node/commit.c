/* commit: seal (pack + sign) and open (verify + decode) signed commits, and
 * read a commit's chain position from its wire format. See commit.h. */
#include "commit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hlc.h"
#include "li_limits.h"

void li_commit_name(const uint8_t origin[LI_PK_BYTES], const char *scope, uint64_t seq, char *buf, size_t cap) {
  char t[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(origin, t);
  snprintf(buf, cap, "commit %s#%llu by %.10s", scope, (unsigned long long)seq, t);
}

static li_err s_check_value(const Linli__Value *v, li_errbuf *eb) {
  switch (v->v_case) {
  case LINLI__VALUE__V_NULL:
  case LINLI__VALUE__V_I:
  case LINLI__VALUE__V_F:
    return LI_OK;
  case LINLI__VALUE__V_T:
    if (!v->t) return li_fail(eb, LI_ERR_DECODE, "text value missing");
    if (strlen(v->t) > LI_VALUE_BYTES_MAX)
      return li_fail(eb, LI_ERR_TOO_BIG, "text value over %u bytes (LI_VALUE_BYTES_MAX)", LI_VALUE_BYTES_MAX);
    return LI_OK;
  case LINLI__VALUE__V_B:
    if (v->b.len > LI_VALUE_BYTES_MAX)
      return li_fail(eb, LI_ERR_TOO_BIG, "blob value over %u bytes (LI_VALUE_BYTES_MAX)", LI_VALUE_BYTES_MAX);
    return LI_OK;
  default:
    return li_fail(eb, LI_ERR_DECODE, "value with no type");
  }
}

/* Structural checks of a decoded commit; everything merge relies on. */
static li_err s_check_commit(const Linli__Commit *c, const uint8_t *signer, size_t *nrows, li_errbuf *eb) {
  if (c->origin.len != LI_PK_BYTES || memcmp(c->origin.data, signer, LI_PK_BYTES) != 0)
    return li_fail(eb, LI_ERR_DECODE, "commit origin differs from its signer");
  if (!c->scope || !li_valid_scope(c->scope)) return li_fail(eb, LI_ERR_DECODE, "commit has an invalid scope");
  if (c->seq < 1 || c->seq > (uint64_t)INT64_MAX) return li_fail(eb, LI_ERR_DECODE, "commit seq out of range");
  if ((c->seq == 1) != (c->prev.len == 0) || (c->prev.len != 0 && c->prev.len != LI_HASH_BYTES))
    return li_fail(eb, LI_ERR_DECODE, "commit prev hash malformed for seq %llu", (unsigned long long)c->seq);
  if (LI_HLC_MS(c->hlc) == 0 || c->hlc > (uint64_t)INT64_MAX)
    return li_fail(eb, LI_ERR_DECODE, "commit clock out of range");
  if (c->n_deps > LI_DEPS_MAX) return li_fail(eb, LI_ERR_LIMIT, "commit lists over %d deps (LI_DEPS_MAX)", LI_DEPS_MAX);
  for (size_t i = 0; i < c->n_deps; i++)
    if (c->deps[i]->origin.len != LI_PK_BYTES || c->deps[i]->seq > (uint64_t)INT64_MAX)
      return li_fail(eb, LI_ERR_DECODE, "commit dep %zu malformed", i);
  if (c->schema_version < 1 || c->schema_version > LI_SCHEMA_VERSION_MAX)
    return li_fail(eb, LI_ERR_DECODE, "commit schema version %u out of range", c->schema_version);
  if (c->migration) {
    const Linli__Migration *m = c->migration;
    if (m->base.n_unknown_fields) return li_fail(eb, LI_ERR_DECODE, "schema commit migration has unknown fields");
    if (c->n_tables) return li_fail(eb, LI_ERR_DECODE, "schema commit also carries row changes");
    if (m->version < 2 || m->version != c->schema_version)
      return li_fail(eb, LI_ERR_DECODE, "schema commit of version %u names migration version %u", c->schema_version,
                     m->version);
    if (m->n_statements == 0 || m->n_statements > LI_MIGRATION_STMTS_MAX)
      return li_fail(eb, LI_ERR_DECODE, "schema commit has %zu statements (1..%d, LI_MIGRATION_STMTS_MAX)",
                     m->n_statements, LI_MIGRATION_STMTS_MAX);
    size_t bytes = 0;
    for (size_t i = 0; i < m->n_statements; i++) {
      if (!m->statements[i] || !m->statements[i][0]) return li_fail(eb, LI_ERR_DECODE, "schema commit has an empty statement");
      bytes += strlen(m->statements[i]);
    }
    if (bytes > LI_MIGRATION_BYTES_MAX)
      return li_fail(eb, LI_ERR_TOO_BIG, "schema commit statements over %u bytes (LI_MIGRATION_BYTES_MAX)",
                     LI_MIGRATION_BYTES_MAX);
    *nrows = 0;
    return LI_OK;
  }
  if (c->n_tables == 0) return li_fail(eb, LI_ERR_DECODE, "commit has no changes");
  if (c->n_tables > LI_COMMIT_TABLES_MAX)
    return li_fail(eb, LI_ERR_LIMIT, "commit has over %d tables (LI_COMMIT_TABLES_MAX)", LI_COMMIT_TABLES_MAX);
  size_t rows = 0;
  for (size_t i = 0; i < c->n_tables; i++) {
    const Linli__TableChanges *t = c->tables[i];
    if (!t->table || !t->table[0]) return li_fail(eb, LI_ERR_DECODE, "table change without a table name");
    if (t->n_columns > LI_TABLE_COLS_MAX)
      return li_fail(eb, LI_ERR_LIMIT, "table %s: over %d columns (LI_TABLE_COLS_MAX)", t->table, LI_TABLE_COLS_MAX);
    for (size_t k = 0; k < t->n_columns; k++)
      if (!t->columns[k] || !t->columns[k][0]) return li_fail(eb, LI_ERR_DECODE, "empty column name");
    rows += t->n_rows;
    if (rows > LI_COMMIT_ROWS_MAX)
      return li_fail(eb, LI_ERR_LIMIT, "commit has over %d rows (LI_COMMIT_ROWS_MAX)", LI_COMMIT_ROWS_MAX);
    for (size_t j = 0; j < t->n_rows; j++) {
      const Linli__RowChange *rc = t->rows[j];
      li_err e;
      if (rc->n_pk == 0) return li_fail(eb, LI_ERR_DECODE, "row with no key");
      if (rc->n_pk > LI_PK_COLS_MAX)
        return li_fail(eb, LI_ERR_LIMIT, "row key of %zu columns, over %d (LI_PK_COLS_MAX)", rc->n_pk, LI_PK_COLS_MAX);
      for (size_t k = 0; k < rc->n_pk; k++)
        if ((e = s_check_value(rc->pk[k], eb))) return e;
      if (rc->cl < 1 || rc->cl > (uint64_t)INT64_MAX) return li_fail(eb, LI_ERR_DECODE, "row causal length out of range");
      if (rc->n_cols != rc->n_values) return li_fail(eb, LI_ERR_DECODE, "row has %zu columns but %zu values", rc->n_cols, rc->n_values);
      if (rc->cl % 2 == 0 && rc->n_cols) return li_fail(eb, LI_ERR_DECODE, "deleted row carries values");
      uint64_t seen = 0;
      for (size_t k = 0; k < rc->n_cols; k++) {
        if (rc->cols[k] >= t->n_columns) return li_fail(eb, LI_ERR_DECODE, "row names column %u of %zu", rc->cols[k], t->n_columns);
        if (seen & (UINT64_C(1) << rc->cols[k])) return li_fail(eb, LI_ERR_DECODE, "row names a column twice");
        seen |= UINT64_C(1) << rc->cols[k];
        if ((e = s_check_value(rc->values[k], eb))) return e;
      }
    }
  }
  *nrows = rows;
  return LI_OK;
}

li_err li_commit_open(const uint8_t network[LI_PK_BYTES], const uint8_t *sc, size_t len, li_arena *a,
                      li_commit *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  if (len > LI_SIGNED_COMMIT_BYTES_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "signed commit of %zu bytes is over the %u-byte cap (LI_SIGNED_COMMIT_BYTES_MAX)",
                   len, LI_SIGNED_COMMIT_BYTES_MAX);
  Linli__SignedCommit *w = linli__signed_commit__unpack(&a->pb, len, sc);
  if (!w) return li_fail(eb, LI_ERR_DECODE, "signed commit does not decode (truncated or not a commit)");
  if (w->base.n_unknown_fields)
    return li_fail(eb, LI_ERR_DECODE, "signed commit has %u unknown fields", w->base.n_unknown_fields);
  if (w->sig.len != LI_SIG_BYTES || w->signer.len != LI_PK_BYTES || w->network.len != LI_PK_BYTES ||
      w->commit.len == 0)
    return li_fail(eb, LI_ERR_DECODE, "signed commit lacks a signature, signer or network");
  if (w->commit.len > LI_COMMIT_BYTES_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "commit over %u bytes (LI_COMMIT_BYTES_MAX)", LI_COMMIT_BYTES_MAX);
  if (memcmp(w->network.data, network, LI_PK_BYTES) != 0) {
    char theirs[LI_PK_TEXT_LEN + 1], ours[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(w->network.data, theirs);
    li_pk_to_text(network, ours);
    return li_fail(eb, LI_ERR_WRONG_NETWORK, "commit belongs to network %s, this replica to %s", theirs, ours);
  }
  if (li_verify_commit(w->signer.data, network, w->commit.data, w->commit.len, w->sig.data) != 0) {
    char t[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(w->signer.data, t);
    return li_fail(eb, LI_ERR_BAD_SIG, "signature of a commit by %s does not verify: altered or forged", t);
  }
  Linli__Commit *c = linli__commit__unpack(&a->pb, w->commit.len, w->commit.data);
  if (!c) return li_fail(eb, LI_ERR_DECODE, "commit does not decode although its signature verifies");
  if (c->base.n_unknown_fields)
    return li_fail(eb, LI_ERR_DECODE, "commit has %u unknown fields", c->base.n_unknown_fields);
  li_err e = s_check_commit(c, w->signer.data, &out->nrows, eb);
  if (e) return e;
  out->c = c;
  out->origin = c->origin.data;
  out->scope = c->scope;
  out->seq = c->seq;
  out->hlc = c->hlc;
  out->sc = sc;
  out->sc_len = len;
  li_hash(w->commit.data, w->commit.len, out->hash);
  return LI_OK;
}

li_err li_commit_seal(const li_identity *id, const uint8_t network[LI_PK_BYTES], const Linli__Commit *c,
                      uint8_t **out, size_t *out_len, uint8_t hash[LI_HASH_BYTES], li_errbuf *eb) {
  size_t n = linli__commit__get_packed_size(c);
  if (n > LI_COMMIT_BYTES_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "commit of %zu bytes over the cap (LI_COMMIT_BYTES_MAX)", n);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  linli__commit__pack(c, buf);
  uint8_t sig[LI_SIG_BYTES];
  li_sign_commit(id, network, buf, n, sig);
  li_hash(buf, n, hash);
  Linli__SignedCommit w = LINLI__SIGNED_COMMIT__INIT;
  w.commit.data = buf;
  w.commit.len = n;
  w.sig.data = sig;
  w.sig.len = sizeof sig;
  w.signer.data = (uint8_t *)id->pk;
  w.signer.len = LI_PK_BYTES;
  w.network.data = (uint8_t *)network;
  w.network.len = LI_PK_BYTES;
  size_t m = linli__signed_commit__get_packed_size(&w);
  uint8_t *o = malloc(m);
  if (!o) {
    free(buf);
    return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  }
  linli__signed_commit__pack(&w, o);
  free(buf);
  *out = o;
  *out_len = m;
  return LI_OK;
}

/* ---- chain position, from the wire format ---- */

/* One field as read from the wire. */
typedef struct {
  uint32_t num;
  int wt;               /* wire type */
  uint64_t val;         /* wire type 0 */
  const uint8_t *data;  /* wire type 2 */
  size_t len;
} s_pb;

/* A varint of at most max bytes at *p. protobuf-c reads keys and length
 * prefixes in at most 5 bytes and values in at most 10; a longer varint is
 * malformed there, so it is here. */
static bool s_pb_varint(const uint8_t **p, const uint8_t *end, int max, uint64_t *v) {
  uint64_t x = 0;
  for (int i = 0; i < max && *p < end; i++) {
    uint8_t byte = *(*p)++;
    x |= (uint64_t)(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      *v = x;
      return true;
    }
  }
  return false;
}

/* The field at *p, which is moved past it. false on a truncated field, a
 * bad varint, field number 0, or wire types 3, 4, 6 and 7 (groups, which
 * protobuf-c does not support, and undefined ones). */
static bool s_pb_field(const uint8_t **p, const uint8_t *end, s_pb *f) {
  uint64_t key, n;
  if (!s_pb_varint(p, end, 5, &key) || (key >> 3) == 0) return false;
  f->num = (uint32_t)(key >> 3);
  f->wt = (int)(key & 7);
  switch (f->wt) {
  case 0: return s_pb_varint(p, end, 10, &f->val);
  case 1: n = 8; break;
  case 5: n = 4; break;
  case 2:
    if (!s_pb_varint(p, end, 5, &n) || n > (uint64_t)(end - *p)) return false;
    f->data = *p;
    f->len = (size_t)n;
    *p += n;
    return true;
  default: return false;
  }
  if (n > (uint64_t)(end - *p)) return false;
  *p += n;
  return true;
}

/* Whether field f may have its wire type in a message of desc: protobuf-c
 * refuses the whole message when a known field has another one. Unknown
 * fields pass (they are skipped). */
static bool s_pb_wire_ok(const ProtobufCMessageDescriptor *desc, const s_pb *f) {
  const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(desc, f->num);
  if (!fd) return true;
  int want = 0; /* the varint types */
  switch (fd->type) {
  case PROTOBUF_C_TYPE_SFIXED32:
  case PROTOBUF_C_TYPE_FIXED32:
  case PROTOBUF_C_TYPE_FLOAT: want = 5; break;
  case PROTOBUF_C_TYPE_SFIXED64:
  case PROTOBUF_C_TYPE_FIXED64:
  case PROTOBUF_C_TYPE_DOUBLE: want = 1; break;
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_BYTES:
  case PROTOBUF_C_TYPE_MESSAGE: want = 2; break;
  default: break;
  }
  return f->wt == want || (f->wt == 2 && fd->label == PROTOBUF_C_LABEL_REPEATED); /* packed */
}

/* SignedCommit.commit (field 1, the last occurrence), or NULL. */
static const uint8_t *s_pos_commit(const uint8_t *sc, size_t len, size_t *commit_len) {
  const uint8_t *p = sc, *end = sc + len, *commit = NULL;
  s_pb f;
  while (p < end) {
    if (!s_pb_field(&p, end, &f) || !s_pb_wire_ok(&linli__signed_commit__descriptor, &f)) return NULL;
    if (f.num == 1) commit = f.data, *commit_len = f.len;
  }
  return commit;
}

bool li_commit_claimed_hash(const uint8_t *sc, size_t len, uint8_t hash[LI_HASH_BYTES]) {
  size_t clen = 0;
  const uint8_t *c = len && len <= LI_SIGNED_COMMIT_BYTES_MAX ? s_pos_commit(sc, len, &clen) : NULL;
  if (!c || clen == 0 || clen > LI_COMMIT_BYTES_MAX) return false;
  li_hash(c, clen, hash);
  return true;
}

bool li_commit_pos(const uint8_t *sc, size_t len, uint8_t origin[LI_PK_BYTES], char scope[LI_SCOPE_MAX + 1],
                   uint64_t *seq) {
  memset(origin, 0, LI_PK_BYTES);
  scope[0] = 0;
  *seq = 0;
  if (len == 0 || len > LI_SIGNED_COMMIT_BYTES_MAX) return false;
  size_t clen = 0;
  const uint8_t *p = s_pos_commit(sc, len, &clen), *o = NULL, *sp = NULL;
  if (!p || clen == 0 || clen > LI_COMMIT_BYTES_MAX) return false;
  const uint8_t *end = p + clen;
  size_t o_len = 0, sp_len = 0;
  uint64_t q = 0;
  s_pb f;
  while (p < end) {
    if (!s_pb_field(&p, end, &f) || !s_pb_wire_ok(&linli__commit__descriptor, &f)) return false;
    if (f.num == 1) o = f.data, o_len = f.len;
    else if (f.num == 2) sp = f.data, sp_len = f.len;
    else if (f.num == 3) q = f.val;
  }
  if (!o || o_len != LI_PK_BYTES || sp_len > LI_SCOPE_MAX || (sp_len && memchr(sp, 0, sp_len))) return false;
  memcpy(origin, o, LI_PK_BYTES);
  if (sp_len) memcpy(scope, sp, sp_len);
  scope[sp_len] = 0;
  *seq = q;
  return true;
}
