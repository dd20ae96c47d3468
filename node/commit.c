/* commit: seal (pack + sign) and open (verify + decode) signed commits. */
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
