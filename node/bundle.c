/* bundle: export and import of commit files. See bundle.h. */
#include "bundle.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "li_limits.h"
#include "linli.pb-c.h"

static const char s_magic[8] = {'L', 'I', 'N', 'L', 'I', 'B', 'N', '1'};

static int s_write_frame(FILE *f, crypto_generichash_state *h, char kind, const uint8_t *p, size_t n) {
  uint8_t hdr[5] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n, (uint8_t)kind};
  crypto_generichash_update(h, hdr, sizeof hdr);
  crypto_generichash_update(h, p, n);
  return fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr && fwrite(p, 1, n, f) == n ? 0 : -1;
}

static int s_write_msg(FILE *f, crypto_generichash_state *h, char kind, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return -1;
  protobuf_c_message_pack(m, buf);
  int rc = s_write_frame(f, h, kind, buf, n);
  free(buf);
  return rc;
}

li_err li_bundle_export(li_replica *r, const char *path, const char *for_name, const char *for_scope,
                        uint64_t wall_ms, li_bundle_export_stats *st, li_errbuf *eb) {
  li_bundle_export_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= sizeof tmp)
    return li_fail(eb, LI_ERR_USAGE, "bundle path too long");
  FILE *f = fopen(tmp, "wbx");
  if (!f) return li_fail(eb, LI_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, LI_HASH_BYTES);
  li_err e = LI_OK;
  sqlite3_stmt *q = NULL;
  /* a read transaction gives one consistent snapshot of the log */
  if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "begin");
    goto out;
  }
  Linli__Bundle b = LINLI__BUNDLE__INIT;
  b.version = 1;
  b.network.data = r->network;
  b.network.len = LI_PK_BYTES;
  b.creator.data = r->self;
  b.creator.len = LI_PK_BYTES;
  b.for_node = (char *)(for_name ? for_name : "");
  b.created_hlc = wall_ms << 16;
  if (fwrite(s_magic, 1, sizeof s_magic, f) != sizeof s_magic ||
      s_write_msg(f, &h, 'H', (const ProtobufCMessage *)&b) != 0) {
    e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    goto out;
  }
  if (sqlite3_prepare_v2(r->db,
                         "SELECT sc FROM linli_log WHERE ?1 IS NULL OR scope = ?1 OR scope = 'street' ORDER BY hlc, origin, seq",
                         -1, &q, NULL) != SQLITE_OK) {
    e = li_db_fail(r, eb, "linli_log");
    goto out;
  }
  if (for_scope) sqlite3_bind_text(q, 1, for_scope, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    const uint8_t *p = sqlite3_column_blob(q, 0);
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    if (n == 0 || n > LI_BUNDLE_FRAME_MAX) {
      e = li_fail(eb, LI_ERR_TAMPERED, "a stored commit has an impossible size (%zu bytes); run 'linli verify'", n);
      goto out;
    }
    if (s_write_frame(f, &h, 'C', p, n) != 0) {
      e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
      goto out;
    }
    st->commits++;
    st->bytes += n;
  }
  if (rc != SQLITE_DONE) {
    e = li_db_fail(r, eb, "linli_log");
    goto out;
  }
  uint8_t digest[LI_HASH_BYTES];
  crypto_generichash_final(&h, digest, sizeof digest);
  Linli__BundleEnd end = LINLI__BUNDLE_END__INIT;
  end.commits = st->commits;
  end.digest.data = digest;
  end.digest.len = sizeof digest;
  crypto_generichash_state unused;
  crypto_generichash_init(&unused, NULL, 0, LI_HASH_BYTES);
  if (s_write_msg(f, &unused, 'E', (const ProtobufCMessage *)&end) != 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
    e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    goto out;
  }
out:
  sqlite3_finalize(q);
  sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
  if (fclose(f) != 0 && e == LI_OK) e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  if (e == LI_OK && rename(tmp, path) != 0) e = li_fail(eb, LI_ERR_IO, "cannot rename to %s: %s", path, strerror(errno));
  if (e) unlink(tmp);
  return e;
}

/* ---- import ---- */

typedef struct {
  FILE *f;
  const char *path;
  uint64_t off, size;
  crypto_generichash_state h;
} s_reader;

/* Reads one frame into *buf (grown as needed). LI_ERR_TRUNCATED at EOF. */
static li_err s_read_frame(s_reader *rd, char *kind, uint8_t **buf, size_t *cap, size_t *len, li_errbuf *eb) {
  uint8_t hdr[5];
  size_t got = fread(hdr, 1, sizeof hdr, rd->f);
  if (got != sizeof hdr)
    return li_fail(eb, LI_ERR_TRUNCATED, "%s ends at byte %llu in the middle of the bundle (truncated copy?)",
                   rd->path, (unsigned long long)(rd->off + got));
  size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
  *kind = (char)hdr[4];
  if (n > LI_BUNDLE_FRAME_MAX)
    return li_fail(eb, LI_ERR_TOO_BIG, "%s: a frame of %zu bytes at byte %llu is over the %u-byte cap (LI_BUNDLE_FRAME_MAX)",
                   rd->path, n, (unsigned long long)rd->off, (unsigned)LI_BUNDLE_FRAME_MAX);
  if (rd->off + 5 + n > rd->size)
    return li_fail(eb, LI_ERR_TRUNCATED, "%s: a frame at byte %llu runs past the end of the file (truncated copy?)",
                   rd->path, (unsigned long long)rd->off);
  if (n > *cap) {
    uint8_t *p = realloc(*buf, n);
    if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    *buf = p;
    *cap = n;
  }
  if (n && fread(*buf, 1, n, rd->f) != n)
    return li_fail(eb, LI_ERR_TRUNCATED, "%s: cannot read a frame at byte %llu", rd->path, (unsigned long long)rd->off);
  if (*kind != 'E') {
    crypto_generichash_update(&rd->h, hdr, sizeof hdr);
    crypto_generichash_update(&rd->h, *buf, n);
  }
  rd->off += 5 + n;
  *len = n;
  return LI_OK;
}

typedef struct {
  uint8_t *data;
  size_t len, cap;
} s_slot;

static void s_add_stats(li_merge_stats *sum, const li_merge_stats *b) {
  sum->applied += b->applied;
  sum->duplicates += b->duplicates;
  sum->rows += b->rows;
  sum->conflicts += b->conflicts;
  sum->sealed += b->sealed;
}

li_err li_bundle_import(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_import_stats *st,
                        li_errbuf *eb) {
  li_bundle_import_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  st->merge.rejected_at = -1;
  s_reader rd = {.path = path};
  rd.f = fopen(path, "rb");
  if (!rd.f) return li_fail(eb, LI_ERR_IO, "cannot open bundle %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(rd.f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(rd.f);
    return li_fail(eb, LI_ERR_NOT_BUNDLE, "%s is not a regular file", path);
  }
  rd.size = (uint64_t)sb.st_size;
  if (rd.size > LI_BUNDLE_BYTES_MAX) {
    fclose(rd.f);
    return li_fail(eb, LI_ERR_TOO_BIG, "%s is over the bundle size cap (LI_BUNDLE_BYTES_MAX)", path);
  }
  char magic[8];
  if (fread(magic, 1, sizeof magic, rd.f) != sizeof magic || memcmp(magic, s_magic, sizeof magic) != 0) {
    fclose(rd.f);
    return li_fail(eb, LI_ERR_NOT_BUNDLE, "%s is not a linli bundle (no LINLIBN1 header)", path);
  }
  rd.off = sizeof magic;
  crypto_generichash_init(&rd.h, NULL, 0, LI_HASH_BYTES);
  uint8_t *buf = NULL;
  size_t cap = 0, len = 0;
  char kind;
  s_slot slots[LI_IMPORT_BATCH_COMMITS];
  memset(slots, 0, sizeof slots);
  li_blob blobs[LI_IMPORT_BATCH_COMMITS];
  size_t nb = 0, batch_bytes = 0;
  bool in_txn = false;
  int reject_index = -1; /* slot of a rejected commit, to record a fork */
  li_err e = s_read_frame(&rd, &kind, &buf, &cap, &len, eb);
  if (e == LI_OK) {
    Linli__Bundle *b = kind == 'H' ? linli__bundle__unpack(NULL, len, buf) : NULL;
    if (!b || b->version != 1 || b->network.len != LI_PK_BYTES) {
      e = li_fail(eb, LI_ERR_NOT_BUNDLE, "%s has no valid bundle header", path);
    } else if (memcmp(b->network.data, r->network, LI_PK_BYTES) != 0) {
      char t[LI_PK_TEXT_LEN + 1];
      li_pk_to_text(b->network.data, t);
      e = li_fail(eb, LI_ERR_WRONG_NETWORK, "%s was made in network %s, not this replica's", path, t);
    }
    if (b) linli__bundle__free_unpacked(b, NULL);
  }
  /* a rollback takes new linli_origins rows with it: the cache must forget them */
  const int norigins0 = r->norigins;
  if (e == LI_OK) e = li_replica_begin(r, eb);
  in_txn = e == LI_OK;
  while (e == LI_OK) {
    if ((e = s_read_frame(&rd, &kind, &buf, &cap, &len, eb))) break;
    if (kind == 'C') {
      s_slot *sl = &slots[nb];
      if (len > sl->cap) {
        uint8_t *p = realloc(sl->data, len);
        if (!p) {
          e = li_fail(eb, LI_ERR_NOMEM, "out of memory");
          break;
        }
        sl->data = p;
        sl->cap = len;
      }
      if (len) memcpy(sl->data, buf, len); /* an empty frame: sl->data may still be NULL */
      sl->len = len;
      blobs[nb].sc = sl->data;
      blobs[nb].len = len;
      nb++;
      batch_bytes += len;
      st->commits++;
    } else if (kind != 'E') {
      e = li_fail(eb, LI_ERR_DECODE, "%s: unknown frame kind 0x%02x at byte %llu", path, (unsigned char)kind,
                  (unsigned long long)rd.off);
      break;
    }
    if (nb && (kind == 'E' || nb == LI_IMPORT_BATCH_COMMITS || batch_bytes >= LI_IMPORT_BATCH_BYTES)) {
      li_merge_stats ms;
      li_merge_opts mo = *o;
      mo.mode = LI_MERGE_ALL_OR_NOTHING;
      e = li_merge_batch(r, blobs, nb, &mo, &ms, eb);
      s_add_stats(&st->merge, &ms);
      if (e) {
        st->merge.reject = ms.reject ? ms.reject : e;
        st->merge.rejected_at = ms.rejected_at >= 0 ? (int)(st->commits - nb) + ms.rejected_at : -1;
        reject_index = ms.rejected_at;
        break;
      }
      nb = 0;
      batch_bytes = 0;
    }
    if (kind == 'E') {
      Linli__BundleEnd *end = linli__bundle_end__unpack(NULL, len, buf);
      uint8_t digest[LI_HASH_BYTES];
      crypto_generichash_final(&rd.h, digest, sizeof digest);
      if (!end || end->digest.len != LI_HASH_BYTES) e = li_fail(eb, LI_ERR_DECODE, "%s: malformed bundle trailer", path);
      else if (end->commits != st->commits)
        e = li_fail(eb, LI_ERR_TRUNCATED, "%s: trailer announces %llu commits, the file holds %llu", path,
                    (unsigned long long)end->commits, (unsigned long long)st->commits);
      else if (sodium_memcmp(end->digest.data, digest, LI_HASH_BYTES) != 0)
        e = li_fail(eb, LI_ERR_TAMPERED, "%s: bundle digest does not match its contents (altered in transit)", path);
      else if (rd.off != rd.size)
        e = li_fail(eb, LI_ERR_DECODE, "%s: %llu unexpected bytes after the trailer", path,
                    (unsigned long long)(rd.size - rd.off));
      if (end) linli__bundle_end__free_unpacked(end, NULL);
      break;
    }
  }
  if (in_txn) {
    if (e == LI_OK) e = li_replica_commit(r, eb);
    if (e) {
      li_replica_rollback(r); /* no-op when the failed commit already rolled back */
      r->norigins = norigins0;
    }
  }
  if (e) {
    st->merge.applied = 0;
    st->merge.rows = 0;
    li_replica_count_reject(r, st->merge.reject ? st->merge.reject : e);
    if (e == LI_ERR_FORK && reject_index >= 0) {
      /* alone and outside our rolled-back transaction, merge records the evidence */
      li_merge_opts mo = *o;
      li_merge_stats ms;
      li_errbuf tmp;
      li_merge_batch(r, &blobs[reject_index], 1, &mo, &ms, &tmp);
    }
  }
  for (size_t i = 0; i < LI_IMPORT_BATCH_COMMITS; i++) free(slots[i].data);
  free(buf);
  fclose(rd.f);
  return e;
}
