/* bundle: export and import of commit files. See bundle.h. */
#include "bundle.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "li_limits.h"
#include "roster.h"
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

/* ---- export ---- */

typedef struct {
  FILE *f;
  const char *tmp;
  crypto_generichash_state h;
  li_bundle_export_stats *st;
} s_writer;

static li_err s_write_header(li_replica *r, s_writer *w, const char *for_name, uint64_t wall_ms, li_errbuf *eb) {
  Linli__Bundle b = LINLI__BUNDLE__INIT;
  b.version = 1;
  b.network.data = r->network;
  b.network.len = LI_PK_BYTES;
  b.creator.data = r->self;
  b.creator.len = LI_PK_BYTES;
  b.for_node = (char *)(for_name ? for_name : "");
  b.created_hlc = wall_ms << 16;
  if (fwrite(s_magic, 1, sizeof s_magic, w->f) != sizeof s_magic ||
      s_write_msg(w->f, &w->h, 'H', (const ProtobufCMessage *)&b) != 0)
    return li_fail(eb, LI_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
  return LI_OK;
}

/* One stored commit as a frame (li_chain_row_fn). */
static li_err s_write_commit(void *ctx, const li_chain_row *row, li_errbuf *eb) {
  s_writer *w = ctx;
  if (row->sc_len == 0 || row->sc_len > LI_BUNDLE_FRAME_MAX)
    return li_fail(eb, LI_ERR_TAMPERED, "a stored commit has an impossible size (%zu bytes); run 'linli verify'",
                   row->sc_len);
  if (s_write_frame(w->f, &w->h, 'C', row->sc, row->sc_len) != 0)
    return li_fail(eb, LI_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
  w->st->commits++;
  w->st->bytes += row->sc_len;
  return LI_OK;
}

/* The trailer (invariant 1) and fsync: the file is complete on disk. */
static li_err s_write_trailer(s_writer *w, li_errbuf *eb) {
  uint8_t digest[LI_HASH_BYTES];
  crypto_generichash_final(&w->h, digest, sizeof digest);
  Linli__BundleEnd end = LINLI__BUNDLE_END__INIT;
  end.commits = w->st->commits;
  end.digest.data = digest;
  end.digest.len = sizeof digest;
  crypto_generichash_state unused;
  crypto_generichash_init(&unused, NULL, 0, LI_HASH_BYTES);
  if (s_write_msg(w->f, &unused, 'E', (const ProtobufCMessage *)&end) != 0 || fflush(w->f) != 0 ||
      fsync(fileno(w->f)) != 0)
    return li_fail(eb, LI_ERR_IO, "cannot write %s: %s", w->tmp, strerror(errno));
  return LI_OK;
}

/* The scopes for_scope reads: its own and the street's (NULL: all). */
static const li_scopes *s_reads(const char *for_scope, li_scopes *buf) {
  if (!for_scope) return NULL;
  memset(buf, 0, sizeof *buf);
  /* a scope longer than any valid one names no stored commit (they were
   * all checked at open): only the street's are for it */
  if (strlen(for_scope) <= LI_SCOPE_MAX) snprintf(buf->list[buf->n++], sizeof buf->list[0], "%s", for_scope);
  snprintf(buf->list[buf->n++], sizeof buf->list[0], "%s", LI_SCOPE_STREET);
  return buf;
}

/* NAME names the hub without the roster: "hub", "street" (the hub's scope,
 * and the name the README gives it), or its key. */
static bool s_names_hub(const li_replica *r, const char *name, const uint8_t *hub_key) {
  if (strcmp(name, "hub") == 0 || strcmp(name, LI_SCOPE_STREET) == 0) return true;
  uint8_t k[LI_PK_BYTES];
  li_errbuf tmp;
  if (li_pk_from_text(name, k, &tmp) != LI_OK) return false;
  return memcmp(k, r->network, LI_PK_BYTES) == 0 || (hub_key && memcmp(k, hub_key, LI_PK_BYTES) == 0);
}

li_err li_bundle_recipient_of(li_replica *r, const char *name, const uint8_t hub_key[LI_PK_BYTES],
                              li_bundle_recipient *out, li_errbuf *eb) {
  memset(out, 0, sizeof *out);
  li_member m;
  li_errbuf reb = {{0}};
  li_err e = li_roster_by_name(r, name, true, &m, &reb);
  if (e == LI_OK) {
    /* the hub's roster row names scope street, but the hub reads every scope */
    li_scopes reads;
    li_roster_reads(&m, &reads);
    out->hub = reads.all || memcmp(m.key, r->network, LI_PK_BYTES) == 0;
    snprintf(out->scope, sizeof out->scope, "%s", m.scope);
    return LI_OK;
  }
  if (e != LI_ERR_NOT_FOUND) return li_fail(eb, e, "%s", reb.msg);
  if (s_names_hub(r, name, hub_key)) {
    out->hub = true;
    return LI_OK;
  }
  return li_fail(eb, LI_ERR_NOT_FOUND,
                 "this node's roster has no active member named '%s'; name a committee as 'linli roster list' shows "
                 "it, or the street hub as 'hub' or 'street' (also before this node holds a roster)",
                 name);
}

li_err li_bundle_export(li_replica *r, const char *path, const char *for_name, const char *for_scope,
                        uint64_t wall_ms, li_bundle_export_stats *st, li_errbuf *eb) {
  li_bundle_export_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= sizeof tmp)
    return li_fail(eb, LI_ERR_USAGE, "bundle path too long");
  s_writer w = {.tmp = tmp, .st = st};
  w.f = fopen(tmp, "wbx");
  if (!w.f) return li_fail(eb, LI_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  crypto_generichash_init(&w.h, NULL, 0, LI_HASH_BYTES);
  li_scopes reads;
  /* a read transaction gives one consistent snapshot of the log */
  li_err e = li_replica_begin_read(r, eb);
  bool began = e == LI_OK;
  if (e == LI_OK) e = s_write_header(r, &w, for_name, wall_ms, eb);
  if (e == LI_OK) e = li_chain_each_commit(r, LI_CHAIN_BY_HLC, s_reads(for_scope, &reads), s_write_commit, &w, eb);
  if (e == LI_OK) e = s_write_trailer(&w, eb);
  li_errbuf ignored;
  if (began) li_replica_commit(r, &ignored); /* a read transaction: nothing to lose */
  if (fclose(w.f) != 0 && e == LI_OK) e = li_fail(eb, LI_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
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

/* An import in progress. */
typedef struct {
  li_replica *r;
  const li_merge_opts *o;
  li_bundle_import_stats *st;
  s_reader rd;
  uint8_t *buf; /* the frame just read */
  size_t cap, len;
  char kind;
  s_slot slots[LI_IMPORT_BATCH_COMMITS]; /* the batch's commits, copied */
  li_blob blobs[LI_IMPORT_BATCH_COMMITS];
  size_t nb, batch_bytes;
  bool in_txn;
  bool redo;                  /* merge asks for a restart (invariant 6) */
  li_bundle_progress_fn progress; /* NULL: none */
  void *progress_ctx;
  char first[LI_ERRBUF_SIZE]; /* the first stopped chain's message */
} s_import;

/* Invariants 3, 4, 6 and 7 of bundle.h. */
static bool s_check(const s_import *im) {
  if (im->nb > LI_IMPORT_BATCH_COMMITS) return false;
  if (im->batch_bytes >= (uint64_t)LI_IMPORT_BATCH_BYTES + LI_BUNDLE_FRAME_MAX) return false;
  if (im->rd.off > im->rd.size || im->st->commits < im->nb) return false;
  if (im->st->rejects.n > LI_MERGE_REJECTS_MAX || im->st->restarts > LI_MERGE_REJECTS_MAX) return false;
  return im->st->merge.rejected_at < 0 || (uint64_t)im->st->merge.rejected_at < im->st->commits;
}

/* One merged batch's statistics (its first rejection's message in meb)
 * into the import's; rejected_at becomes an index in the file. */
static void s_add_stats(s_import *im, const li_merge_stats *b, const li_errbuf *meb) {
  li_merge_stats *sum = &im->st->merge;
  sum->applied += b->applied;
  sum->duplicates += b->duplicates;
  sum->verified += b->verified;
  sum->rows += b->rows;
  sum->conflicts += b->conflicts;
  sum->refused += b->refused;
  sum->sealed += b->sealed;
  sum->rejected += b->rejected;
  sum->skipped += b->skipped;
  sum->forks_kept += b->forks_kept;
  if (b->reject && !sum->reject) {
    sum->reject = b->reject;
    sum->rejected_at = (int)(im->st->commits - im->nb) + b->rejected_at;
    snprintf(im->first, sizeof im->first, "%s", meb->msg);
  }
}

/* Opens the file and checks its size and magic; rd.f is open on LI_OK only. */
static li_err s_open_file(s_reader *rd, const char *path, li_errbuf *eb) {
  rd->path = path;
  rd->f = fopen(path, "rb");
  if (!rd->f) return li_fail(eb, LI_ERR_IO, "cannot open bundle %s: %s", path, strerror(errno));
  struct stat sb;
  li_err e = LI_OK;
  char magic[8];
  if (fstat(fileno(rd->f), &sb) != 0 || !S_ISREG(sb.st_mode))
    e = li_fail(eb, LI_ERR_NOT_BUNDLE, "%s is not a regular file", path);
  else if ((rd->size = (uint64_t)sb.st_size) > LI_BUNDLE_BYTES_MAX)
    e = li_fail(eb, LI_ERR_TOO_BIG, "%s is over the bundle size cap (LI_BUNDLE_BYTES_MAX)", path);
  else if (fread(magic, 1, sizeof magic, rd->f) != sizeof magic || memcmp(magic, s_magic, sizeof magic) != 0)
    e = li_fail(eb, LI_ERR_NOT_BUNDLE, "%s is not a linli bundle (no LINLIBN1 header)", path);
  if (e) {
    fclose(rd->f);
    rd->f = NULL;
    return e;
  }
  rd->off = sizeof magic;
  crypto_generichash_init(&rd->h, NULL, 0, LI_HASH_BYTES);
  return LI_OK;
}

/* The Bundle header frame: version 1, of this replica's network. */
static li_err s_read_header(s_import *im, li_errbuf *eb) {
  li_err e = s_read_frame(&im->rd, &im->kind, &im->buf, &im->cap, &im->len, eb);
  if (e) return e;
  Linli__Bundle *b = im->kind == 'H' ? linli__bundle__unpack(NULL, im->len, im->buf) : NULL;
  if (!b || b->version != 1 || b->network.len != LI_PK_BYTES) {
    e = li_fail(eb, LI_ERR_NOT_BUNDLE, "%s has no valid bundle header", im->rd.path);
  } else if (memcmp(b->network.data, im->r->network, LI_PK_BYTES) != 0) {
    char t[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(b->network.data, t);
    e = li_fail(eb, LI_ERR_WRONG_NETWORK, "%s was made in network %s, not this replica's", im->rd.path, t);
  }
  if (b) linli__bundle__free_unpacked(b, NULL);
  return e;
}

/* Copies the commit frame just read into the batch. */
static li_err s_take_commit(s_import *im, li_errbuf *eb) {
  s_slot *sl = &im->slots[im->nb];
  if (im->len > sl->cap) {
    uint8_t *p = realloc(sl->data, im->len);
    if (!p) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
    sl->data = p;
    sl->cap = im->len;
  }
  if (im->len) memcpy(sl->data, im->buf, im->len); /* an empty frame: sl->data may still be NULL */
  sl->len = im->len;
  im->blobs[im->nb].sc = sl->data;
  im->blobs[im->nb].len = im->len;
  im->nb++;
  im->batch_bytes += im->len;
  im->st->commits++;
  return LI_OK;
}

/* Merges the batch chain by chain inside our transaction, with the
 * import's list of stopped chains (invariant 6). An error only when the
 * store failed; im->redo when merge asks for a restart. */
static li_err s_flush_batch(s_import *im, li_errbuf *eb) {
  li_merge_stats ms;
  li_merge_opts mo = *im->o;
  mo.mode = LI_MERGE_PER_CHAIN;
  mo.rejects = &im->st->rejects;
  li_errbuf meb = {{0}};
  li_err e = li_merge_batch(im->r, im->blobs, im->nb, &mo, &ms, &meb);
  if (ms.redo) {
    im->redo = true;
    return LI_OK;
  }
  if (e) return li_fail(eb, e, "%s", meb.msg);
  s_add_stats(im, &ms, &meb);
  im->nb = 0;
  im->batch_bytes = 0;
  if (im->progress) im->progress(im->progress_ctx, im->st->commits, im->rd.off, im->rd.size);
  return LI_OK;
}

/* The BundleEnd frame just read: count, digest, nothing after it. */
static li_err s_check_trailer(s_import *im, li_errbuf *eb) {
  const char *path = im->rd.path;
  Linli__BundleEnd *end = linli__bundle_end__unpack(NULL, im->len, im->buf);
  uint8_t digest[LI_HASH_BYTES];
  crypto_generichash_final(&im->rd.h, digest, sizeof digest);
  li_err e = LI_OK;
  if (!end || end->digest.len != LI_HASH_BYTES) e = li_fail(eb, LI_ERR_DECODE, "%s: malformed bundle trailer", path);
  else if (end->commits != im->st->commits)
    e = li_fail(eb, LI_ERR_TRUNCATED, "%s: trailer announces %llu commits, the file holds %llu", path,
                (unsigned long long)end->commits, (unsigned long long)im->st->commits);
  else if (sodium_memcmp(end->digest.data, digest, LI_HASH_BYTES) != 0)
    e = li_fail(eb, LI_ERR_TAMPERED, "%s: bundle digest does not match its contents (altered in transit)", path);
  else if (im->rd.off != im->rd.size)
    e = li_fail(eb, LI_ERR_DECODE, "%s: %llu unexpected bytes after the trailer", path,
                (unsigned long long)(im->rd.size - im->rd.off));
  if (end) linli__bundle_end__free_unpacked(end, NULL);
  return e;
}

/* Every frame after the header, in our transaction, up to the trailer, or
 * up to the batch after which merge asked for a restart (im->redo). */
static li_err s_read_frames(s_import *im, li_errbuf *eb) {
  for (;;) {
    li_err e = s_read_frame(&im->rd, &im->kind, &im->buf, &im->cap, &im->len, eb);
    if (e) return e;
    if (im->kind == 'C' && (e = s_take_commit(im, eb))) return e;
    if (im->kind != 'C' && im->kind != 'E')
      return li_fail(eb, LI_ERR_DECODE, "%s: unknown frame kind 0x%02x at byte %llu", im->rd.path,
                     (unsigned char)im->kind, (unsigned long long)im->rd.off);
    if (im->nb && (im->kind == 'E' || im->nb == LI_IMPORT_BATCH_COMMITS || im->batch_bytes >= LI_IMPORT_BATCH_BYTES) &&
        (e = s_flush_batch(im, eb)))
      return e;
    if (im->redo) return LI_OK;
    assert(s_check(im));
    if (im->kind == 'E') return s_check_trailer(im, eb);
  }
}

/* Back to the first frame in a new transaction, after merge met a commit
 * refused after it wrote rows: everything is rolled back, and the list
 * keeps that chain out of the next pass (invariant 6). */
static li_err s_restart(s_import *im, li_errbuf *eb) {
  li_replica_rollback(im->r);
  im->in_txn = false;
  im->redo = false;
  li_merge_rejects_rolled_back(&im->st->rejects);
  li_bundle_import_stats *st = im->st;
  st->restarts++;
  st->commits = 0;
  memset(&st->merge, 0, sizeof st->merge);
  st->merge.rejected_at = -1;
  im->nb = 0;
  im->batch_bytes = 0;
  im->first[0] = 0;
  if (fseek(im->rd.f, sizeof s_magic, SEEK_SET) != 0)
    return li_fail(eb, LI_ERR_IO, "cannot read %s again: %s", im->rd.path, strerror(errno));
  im->rd.off = sizeof s_magic;
  crypto_generichash_init(&im->rd.h, NULL, 0, LI_HASH_BYTES);
  return s_read_header(im, eb);
}

/* The frames in our transaction, starting over when merge asks
 * (invariant 6). */
static li_err s_apply_file(s_import *im, li_errbuf *eb) {
  for (;;) {
    li_err e = li_replica_begin(im->r, eb);
    im->in_txn = e == LI_OK;
    if (e == LI_OK) e = s_read_frames(im, eb);
    if (e || !im->redo) return e;
    if ((e = s_restart(im, eb))) return e;
  }
}

/* Commits or rolls back (the replica restores its caches, invariant 5).
 * A fault of the file or the store leaves nothing and is counted; chains
 * stopped in a sound file were counted by merge, and the first one's error
 * is returned with everything else committed. */
static li_err s_finish(s_import *im, li_err e, li_errbuf *eb) {
  li_bundle_import_stats *st = im->st;
  if (im->in_txn) {
    if (e == LI_OK) e = li_replica_commit(im->r, eb);
    if (e) li_replica_rollback(im->r); /* a no-op when the failed commit already rolled back */
  }
  if (e) {
    li_replica_count_reject(im->r, e);
    li_merge_rejects_clear(&st->rejects);
    memset(&st->merge, 0, sizeof st->merge);
    st->merge.rejected_at = -1;
    return e;
  }
  if (!st->merge.reject) return LI_OK;
  return li_fail(eb, st->merge.reject, "%s", im->first);
}

void li_bundle_import_stats_clear(li_bundle_import_stats *st) { li_merge_rejects_clear(&st->rejects); }

li_err li_bundle_import(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_import_stats *st,
                        li_errbuf *eb) {
  return li_bundle_import_with(r, path, o, NULL, NULL, st, eb);
}

li_err li_bundle_import_with(li_replica *r, const char *path, const li_merge_opts *o, li_bundle_progress_fn progress,
                             void *ctx, li_bundle_import_stats *st, li_errbuf *eb) {
  li_bundle_import_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  st->merge.rejected_at = -1;
  s_import *im = calloc(1, sizeof *im);
  if (!im) return li_fail(eb, LI_ERR_NOMEM, "out of memory");
  *im = (s_import){.r = r, .o = o, .st = st, .progress = progress, .progress_ctx = ctx};
  li_err e = s_open_file(&im->rd, path, eb);
  if (e == LI_OK) {
    e = s_read_header(im, eb);
    if (e == LI_OK) e = s_apply_file(im, eb);
    e = s_finish(im, e, eb);
    fclose(im->rd.f);
  }
  for (size_t i = 0; i < LI_IMPORT_BATCH_COMMITS; i++) free(im->slots[i].data);
  free(im->buf);
  free(im);
  if (st == &dummy) li_bundle_import_stats_clear(st);
  return e;
}

li_err li_bundle_own_ahead(li_replica *r, const char *path, bool *ahead, li_errbuf *eb) {
  *ahead = false;
  s_reader rd = {0};
  li_err e = s_open_file(&rd, path, eb);
  if (e) return e;
  uint64_t head = 0;
  uint8_t *buf = NULL;
  size_t cap = 0, len = 0;
  char kind = 0;
  if ((e = li_chain_head(r, r->self, r->scope, &head, NULL, eb)) == LI_OK)
    e = s_read_frame(&rd, &kind, &buf, &cap, &len, eb); /* the header */
  while (e == LI_OK && !*ahead && kind != 'E') {
    if ((e = s_read_frame(&rd, &kind, &buf, &cap, &len, eb))) break;
    uint8_t origin[LI_PK_BYTES];
    char scope[LI_SCOPE_MAX + 1];
    uint64_t seq;
    if (kind == 'C' && li_commit_pos(buf, len, origin, scope, &seq) && seq > head &&
        memcmp(origin, r->self, LI_PK_BYTES) == 0 && strcmp(scope, r->scope) == 0)
      *ahead = true;
  }
  free(buf);
  fclose(rd.f);
  return *ahead ? LI_OK : e; /* a damaged file: the import itself says so */
}
