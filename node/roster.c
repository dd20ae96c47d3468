/* roster: the one place for roster rules. See roster.h. */
#include "roster.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "out.h"
#include "seal.h"

const char li_roster_sql[] =
    "CREATE TABLE roster(name TEXT NOT NULL,\n"
    "  scope TEXT NOT NULL DEFAULT 'street' CHECK (scope = 'street'),\n"
    "  pubkey TEXT NOT NULL, member_scope TEXT NOT NULL,\n"
    "  role TEXT NOT NULL DEFAULT 'committee' CHECK (role IN ('committee', 'hub')),\n"
    "  revoked_after_seq INTEGER, PRIMARY KEY (name, scope));\n"
    "CREATE INDEX roster_pubkey ON roster(pubkey);\n";

#define S_COLS "name, role, member_scope, pubkey, revoked_after_seq"

/* A row of S_COLS into m. Stored rows arrived through signed hub commits
 * (or the hub's own CLI), so a malformed one means the file was edited. */
static li_err s_member(sqlite3_stmt *st, li_member *m, li_errbuf *eb) {
  memset(m, 0, sizeof *m);
  const char *name = (const char *)sqlite3_column_text(st, 0);
  const char *role = (const char *)sqlite3_column_text(st, 1);
  const char *scope = (const char *)sqlite3_column_text(st, 2);
  const char *key = (const char *)sqlite3_column_text(st, 3);
  if (!name || !li_valid_name(name) || !role || !scope || !li_valid_scope(scope) || !key)
    return li_fail(eb, LI_ERR_TAMPERED, "the roster holds a malformed row (run 'linli verify')");
  snprintf(m->name, sizeof m->name, "%s", name);
  m->role = strcmp(role, "hub") == 0 ? LI_ROLE_HUB : LI_ROLE_COMMITTEE;
  snprintf(m->scope, sizeof m->scope, "%s", scope);
  if (li_pk_from_text(key, m->key, NULL) != LI_OK)
    return li_fail(eb, LI_ERR_TAMPERED, "roster entry '%s' holds a malformed key (run 'linli verify')", name);
  snprintf(m->key_text, sizeof m->key_text, "%s", key);
  if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
    m->revoked = true;
    int64_t s = sqlite3_column_int64(st, 4);
    m->revoked_after_seq = s > 0 ? (uint64_t)s : 0;
  }
  return LI_OK;
}

static li_err s_one(li_replica *r, const char *sql, const char *arg, li_member *out, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(r, eb, "roster");
  sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  li_err e = rc == SQLITE_ROW ? s_member(st, out, eb) : rc == SQLITE_DONE ? LI_ERR_NOT_FOUND : li_db_fail(r, eb, "roster");
  sqlite3_finalize(st);
  return e;
}

li_err li_roster_may_write(li_replica *r, const uint8_t key[LI_PK_BYTES], const char *scope, uint64_t seq,
                           li_errbuf *eb) {
  if (memcmp(key, r->network, LI_PK_BYTES) == 0) return LI_OK; /* rule 1 */
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, text);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT " S_COLS " FROM roster WHERE pubkey=?", -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "roster");
  sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  bool any = false, revoked = false;
  li_err e = LI_ERR_UNKNOWN_SIGNER;
  while (e != LI_OK && sqlite3_step(st) == SQLITE_ROW) {
    li_member m;
    li_errbuf tmp;
    if (s_member(st, &m, &tmp) != LI_OK) continue;
    any = true;
    if (strcmp(m.scope, scope) != 0) continue;
    if (m.revoked && seq > m.revoked_after_seq) {
      revoked = true;
      e = li_fail(eb, LI_ERR_UNKNOWN_SIGNER, "signer %s (%s) was removed from the roster after its commit %llu", text,
                  m.name, (unsigned long long)m.revoked_after_seq);
      continue;
    }
    e = LI_OK;
  }
  sqlite3_finalize(st);
  if (e == LI_ERR_UNKNOWN_SIGNER && !any)
    return li_fail(eb, e, "signer %s is not in the roster (the hub adds it with 'linli roster add')", text);
  if (e == LI_ERR_UNKNOWN_SIGNER && !revoked)
    return li_fail(eb, LI_ERR_SCOPE, "signer %s may not write scope '%s'", text, scope);
  return e;
}

li_err li_roster_by_name(li_replica *r, const char *name, bool active_only, li_member *out, li_errbuf *eb) {
  li_err e = s_one(r,
                   active_only ? "SELECT " S_COLS " FROM roster WHERE name=? AND revoked_after_seq IS NULL"
                               : "SELECT " S_COLS " FROM roster WHERE name=?",
                   name, out, eb);
  if (e == LI_ERR_NOT_FOUND)
    return li_fail(eb, e, "no %sroster entry named '%s' (see 'linli roster list')", active_only ? "active " : "", name);
  return e;
}

li_err li_roster_by_key(li_replica *r, const uint8_t key[LI_PK_BYTES], li_member *out, li_errbuf *eb) {
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, text);
  li_err e = s_one(r, "SELECT " S_COLS " FROM roster WHERE pubkey=? AND revoked_after_seq IS NULL ORDER BY name LIMIT 1",
                   text, out, eb);
  if (e == LI_ERR_NOT_FOUND) return li_fail(eb, e, "key %s is not an active roster member", text);
  return e;
}

li_err li_roster_by_key_any(li_replica *r, const uint8_t key[LI_PK_BYTES], li_member *out, li_errbuf *eb) {
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, text);
  li_err e = s_one(r, "SELECT " S_COLS " FROM roster WHERE pubkey=? ORDER BY revoked_after_seq IS NULL DESC, name LIMIT 1",
                   text, out, eb);
  if (e == LI_ERR_NOT_FOUND) return li_fail(eb, e, "key %s is not in the roster", text);
  return e;
}

void li_roster_reads(const li_member *m, li_scopes *out) {
  memset(out, 0, sizeof *out);
  if (m->role == LI_ROLE_HUB) {
    out->all = true;
    return;
  }
  out->n = 2;
  snprintf(out->list[0], sizeof out->list[0], "%s", m->scope);
  snprintf(out->list[1], sizeof out->list[1], "%s", LI_SCOPE_STREET);
}

int li_roster_admit(void *replica, const uint8_t curve_pk[32], uint8_t ed_out[LI_PK_BYTES]) {
  li_replica *r = replica;
  sqlite3_stmt *st = NULL;
  int ok = -1;
  if (sqlite3_prepare_v2(r->db, "SELECT pubkey FROM roster WHERE revoked_after_seq IS NULL AND role = 'committee'",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  while (ok != 0 && sqlite3_step(st) == SQLITE_ROW) {
    uint8_t ed[LI_PK_BYTES], cv[32];
    const char *t = (const char *)sqlite3_column_text(st, 0);
    if (!t || li_pk_from_text(t, ed, NULL) != LI_OK || li_curve_pk_from_ed(ed, cv) != LI_OK) continue;
    if (memcmp(cv, curve_pk, 32) == 0) {
      memcpy(ed_out, ed, LI_PK_BYTES);
      ok = 0;
    }
  }
  sqlite3_finalize(st);
  return ok;
}

static li_err s_hub_only(li_replica *r, li_errbuf *eb) {
  if (r->role != LI_ROLE_HUB) return li_fail(eb, LI_ERR_ROLE, "only the hub keeps the roster");
  return LI_OK;
}

static li_err s_insert(li_replica *r, const char *name, const char *pubkey, const char *scope, const char *role,
                       li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "INSERT INTO roster(name, scope, pubkey, member_scope, role) VALUES(?, '" LI_SCOPE_STREET
                         "', ?, ?, ?)",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "roster");
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, pubkey, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, scope, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return LI_OK;
  if ((sqlite3_extended_errcode(r->db) & 0xff) == SQLITE_CONSTRAINT)
    return li_fail(eb, LI_ERR_EXISTS, "the roster already has an entry named '%s'", name);
  return li_db_fail(r, eb, "roster");
}

li_err li_roster_add(li_replica *r, const char *name, const char *pubkey, const char *scope, uint64_t wall_ms,
                     li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  if (!li_valid_name(name)) return li_fail(eb, LI_ERR_USAGE, "roster name must be 1-32 characters of A-Z a-z 0-9 _ -");
  if (!li_valid_scope(scope) || strcmp(scope, LI_SCOPE_STREET) == 0)
    return li_fail(eb, LI_ERR_USAGE, "--scope must be a committee code (not '" LI_SCOPE_STREET "')");
  uint8_t pk[LI_PK_BYTES];
  if ((e = li_pk_from_text(pubkey, pk, eb))) return e;
  if (memcmp(pk, r->self, LI_PK_BYTES) == 0) return li_fail(eb, LI_ERR_USAGE, "that is the hub's own key");
  li_member m;
  li_errbuf tmp;
  if (li_roster_by_key(r, pk, &m, &tmp) == LI_OK)
    return li_fail(eb, LI_ERR_EXISTS, "that key is already in the roster as '%s' (scope %s)", m.name, m.scope);
  if ((e = li_replica_begin(r, eb))) return e;
  if ((e = s_insert(r, name, pubkey, scope, "committee", eb)) || (e = li_seal_locked(r, wall_ms, NULL, eb))) {
    li_replica_rollback(r);
    return e;
  }
  return li_replica_commit(r, eb);
}

li_err li_roster_add_hub(li_replica *r, const char *name, const uint8_t key[LI_PK_BYTES], li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, text);
  return s_insert(r, name, text, LI_SCOPE_STREET, "hub", eb);
}

li_err li_roster_remove(li_replica *r, const char *name, uint64_t wall_ms, uint64_t *after_seq, li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  li_member m;
  if ((e = li_roster_by_name(r, name, true, &m, eb))) return e;
  if (m.role != LI_ROLE_COMMITTEE) return li_fail(eb, LI_ERR_USAGE, "'%s' is the hub itself", name);
  if ((e = li_replica_begin(r, eb))) return e;
  uint64_t seq = 0;
  sqlite3_stmt *st = NULL;
  /* rule 2: the last seq held now; later ones are refused everywhere */
  if ((e = li_chain_head(r, m.key, m.scope, &seq, NULL, eb))) goto fail;
  if (sqlite3_prepare_v2(r->db, "UPDATE roster SET revoked_after_seq=? WHERE name=? AND revoked_after_seq IS NULL", -1,
                         &st, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "roster");
    goto fail;
  }
  sqlite3_bind_int64(st, 1, (int64_t)seq);
  sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "roster");
    goto fail;
  }
  if ((e = li_seal_locked(r, wall_ms, NULL, eb))) goto fail;
  if ((e = li_replica_commit(r, eb))) return e;
  if (after_seq) *after_seq = seq;
  return LI_OK;
fail:
  li_replica_rollback(r);
  return e;
}

/* The name "NAME-rN" with the smallest N not taken, for a replaced entry
 * (NAME cut so that the whole is a valid name). */
static li_err s_retired_name(li_replica *r, const char *name, char *out, size_t cap, li_errbuf *eb) {
  for (int k = 1; k < 1000; k++) {
    char suffix[8];
    int n = snprintf(suffix, sizeof suffix, "-r%d", k);
    snprintf(out, cap, "%.*s%s", LI_NAME_MAX - n, name, suffix);
    li_member m;
    li_errbuf tmp;
    li_err e = li_roster_by_name(r, out, false, &m, &tmp);
    if (e == LI_ERR_NOT_FOUND) return LI_OK;
    if (e != LI_OK) return li_fail(eb, e, "%s", tmp.msg);
  }
  return li_fail(eb, LI_ERR_LIMIT, "'%s' was replaced a thousand times already", name);
}

static li_err s_exec_bound(li_replica *r, const char *sql, const char *a, const char *b, int64_t n, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) return li_db_fail(r, eb, "roster");
  sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, n);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? LI_OK : li_db_fail(r, eb, "roster");
}

li_err li_roster_replace(li_replica *r, const char *name, const char *newkey, uint64_t wall_ms, uint64_t *after_seq,
                         li_errbuf *eb) {
  li_err e = s_hub_only(r, eb);
  if (e) return e;
  li_member m, other;
  uint8_t pk[LI_PK_BYTES];
  if ((e = li_roster_by_name(r, name, true, &m, eb))) return e;
  if (m.role != LI_ROLE_COMMITTEE) return li_fail(eb, LI_ERR_USAGE, "'%s' is the hub itself", name);
  if ((e = li_pk_from_text(newkey, pk, eb))) return e;
  if (memcmp(pk, r->self, LI_PK_BYTES) == 0) return li_fail(eb, LI_ERR_USAGE, "that is the hub's own key");
  li_errbuf tmp;
  if (li_roster_by_key(r, pk, &other, &tmp) == LI_OK)
    return li_fail(eb, LI_ERR_EXISTS, "that key is already in the roster as '%s' (scope %s)", other.name, other.scope);
  char retired[LI_NAME_MAX + 8];
  if ((e = s_retired_name(r, name, retired, sizeof retired, eb))) return e;
  if ((e = li_replica_begin(r, eb))) return e;
  uint64_t seq = 0;
  if ((e = li_chain_head(r, m.key, m.scope, &seq, NULL, eb)) ||
      (e = s_exec_bound(r, "UPDATE roster SET name=?2, revoked_after_seq=?3 WHERE name=?1 AND revoked_after_seq IS NULL",
                        name, retired, (int64_t)seq, eb)) ||
      (e = s_insert(r, name, newkey, m.scope, "committee", eb)) || (e = li_seal_locked(r, wall_ms, NULL, eb))) {
    li_replica_rollback(r);
    return e;
  }
  if ((e = li_replica_commit(r, eb))) return e;
  if (after_seq) *after_seq = seq;
  return LI_OK;
}

li_err li_roster_list(li_replica *r, li_member **out, size_t *n, li_errbuf *eb) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT " S_COLS " FROM roster ORDER BY role = 'hub' DESC, name", -1, &st, NULL) !=
      SQLITE_OK)
    return li_db_fail(r, eb, "roster");
  li_err e = LI_OK;
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      li_member *p = realloc(*out, ncap * sizeof *p);
      if (!p) {
        e = li_fail(eb, LI_ERR_NOMEM, "out of memory for the roster");
        break;
      }
      *out = p;
      cap = ncap;
    }
    if ((e = s_member(st, &(*out)[*n], eb))) break;
    (*n)++;
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "roster");
  sqlite3_finalize(st);
  if (e) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return e;
}

void li_roster_name_of(li_replica *r, const uint8_t key[LI_PK_BYTES], char *out, size_t cap) {
  char t[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(key, t);
  snprintf(out, cap, "%.10s", t);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db, "SELECT name FROM roster WHERE pubkey=? ORDER BY revoked_after_seq IS NULL DESC LIMIT 1",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    const char *name = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (name && li_valid_name(name)) snprintf(out, cap, "%s", name);
  }
  sqlite3_finalize(st);
}

li_err li_roster_digest(li_replica *r, uint8_t out[LI_HASH_BYTES], li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT quote(name) || quote(role) || quote(member_scope) || quote(pubkey) || "
                         "quote(revoked_after_seq) FROM roster ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "roster");
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    crypto_generichash_update(&h, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    crypto_generichash_update(&h, (const unsigned char *)"\n", 1);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return li_db_fail(r, eb, "roster");
  crypto_generichash_final(&h, out, LI_HASH_BYTES);
  return LI_OK;
}

li_err li_roster_rows(li_replica *r, const char *only_scope, size_t max, li_roster_row **out, size_t *n,
                      li_errbuf *eb) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT name, member_scope, pubkey, revoked_after_seq IS NOT NULL FROM roster "
                         "WHERE role = 'committee' AND (?1 IS NULL OR member_scope = ?1) ORDER BY member_scope, name",
                         -1, &st, NULL) != SQLITE_OK)
    return li_db_fail(r, eb, "roster");
  if (only_scope) sqlite3_bind_text(st, 1, only_scope, -1, SQLITE_STATIC);
  li_err e = LI_OK;
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      if (cap >= max) {
        e = li_fail(eb, LI_ERR_LIMIT, "the roster lists more than %zu committees", max);
        break;
      }
      size_t ncap = cap ? cap * 2 : 32;
      if (ncap > max) ncap = max;
      li_roster_row *p = realloc(*out, ncap * sizeof *p);
      if (!p) {
        e = li_fail(eb, LI_ERR_NOMEM, "out of memory for the roster");
        break;
      }
      *out = p;
      cap = ncap;
    }
    li_roster_row *row = &(*out)[(*n)++];
    memset(row, 0, sizeof *row);
    li_utf8_copy(row->name, sizeof row->name, (const char *)sqlite3_column_text(st, 0));
    li_utf8_copy(row->scope, sizeof row->scope, (const char *)sqlite3_column_text(st, 1));
    const char *pk = (const char *)sqlite3_column_text(st, 2);
    row->key_ok = pk && li_pk_from_text(pk, row->key, NULL) == LI_OK;
    row->revoked = sqlite3_column_int(st, 3) != 0;
  }
  if (e == LI_OK && rc != SQLITE_DONE) e = li_db_fail(r, eb, "roster");
  sqlite3_finalize(st);
  if (e) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return e;
}
