/* gen_vectors: prints the protocol test vectors of docs/protocol.md
 * (tests/vectors/vectors.txt), made by linli's own code: the key file by
 * li_identity_save, CURVE keys by li_curve_keys, commits by li_commit_seal,
 * hashes by li_hash, every message packed by protobuf-c from the .proto files.
 * tests/protocol_doc.t.sh runs it and compares its output with the file in
 * git and with the copy in docs/protocol.md, so the code and the
 * specification cannot drift apart unnoticed.
 *
 * Each message is printed twice: as JSON made from the decoded message by
 * walking its protobuf-c descriptor (field names of the .proto, bytes as
 * lowercase hex, default values left out as protobuf leaves them out), and
 * as the bytes linli sends, in hex. tests/conformance/client.py encodes the
 * JSON with its own encoder and must get the same bytes.
 *
 * The two keys are throwaway test keys made from fixed seeds (bytes 0..31
 * and 128..159): they are public and must never serve a street.
 *
 * Usage: gen_vectors > tests/vectors/vectors.txt. Exit 1 on any failure. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "commit.h"
#include "hlc.h"
#include "keys.h"
#include "session.h"
#include "linli.pb-c.h"
#include "sync.pb-c.h"

/* 2025-03-01 00:00:00 UTC: every clock of the vectors */
#define V_WALL_MS UINT64_C(1740787200000)

static void s_die(const char *what) {
  fprintf(stderr, "gen_vectors: %s\n", what);
  exit(1);
}

static void s_hex(const char *name, const uint8_t *p, size_t n) {
  printf("%s = ", name);
  for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
  printf("\n");
}

/* ---- JSON of a protobuf-c message, by its descriptor ---- */

static void s_json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void s_json_msg(const ProtobufCMessage *m);

/* One value of field f at p (an element of a repeated field, or the field). */
static void s_json_value(const ProtobufCFieldDescriptor *f, const void *p) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_BOOL: printf("%s", *(const protobuf_c_boolean *)p ? "true" : "false"); break;
  case PROTOBUF_C_TYPE_UINT32: printf("%u", *(const uint32_t *)p); break;
  case PROTOBUF_C_TYPE_UINT64: printf("%llu", (unsigned long long)*(const uint64_t *)p); break;
  case PROTOBUF_C_TYPE_SINT64: printf("%lld", (long long)*(const int64_t *)p); break;
  case PROTOBUF_C_TYPE_DOUBLE: printf("%.17g", *(const double *)p); break;
  case PROTOBUF_C_TYPE_STRING: s_json_str(*(char *const *)p); break;
  case PROTOBUF_C_TYPE_BYTES: {
    const ProtobufCBinaryData *b = p;
    putchar('"');
    for (size_t i = 0; i < b->len; i++) printf("%02x", b->data[i]);
    putchar('"');
    break;
  }
  case PROTOBUF_C_TYPE_MESSAGE: s_json_msg(*(ProtobufCMessage *const *)p); break;
  default: s_die("a field type the vectors do not use");
  }
}

static size_t s_type_size(const ProtobufCFieldDescriptor *f) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
  case PROTOBUF_C_TYPE_UINT32: return 4;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_SINT64:
  case PROTOBUF_C_TYPE_DOUBLE: return 8;
  case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
  case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
  case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
  default: s_die("a field type the vectors do not use");
  }
  return 0;
}

/* Whether a singular field holds its default (protobuf leaves it out). */
static int s_is_default(const ProtobufCFieldDescriptor *f, const void *p) {
  switch (f->type) {
  case PROTOBUF_C_TYPE_BOOL: return !*(const protobuf_c_boolean *)p;
  case PROTOBUF_C_TYPE_UINT32: return *(const uint32_t *)p == 0;
  case PROTOBUF_C_TYPE_UINT64:
  case PROTOBUF_C_TYPE_SINT64: return *(const uint64_t *)p == 0;
  case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p == 0;
  case PROTOBUF_C_TYPE_STRING: return !*(char *const *)p || !**(char *const *)p;
  case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len == 0;
  case PROTOBUF_C_TYPE_MESSAGE: return *(void *const *)p == NULL;
  default: s_die("a field type the vectors do not use");
  }
  return 0;
}

static void s_json_msg(const ProtobufCMessage *m) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  int first = 1;
  putchar('{');
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const void *p = base + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      if (n == 0) continue;
      printf("%s", first ? "" : ",");
      s_json_str(f->name);
      printf(":[");
      const char *arr = *(char *const *)p;
      for (size_t k = 0; k < n; k++) {
        printf("%s", k ? "," : "");
        s_json_value(f, arr + k * s_type_size(f));
      }
      putchar(']');
    } else {
      if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
      } else if (s_is_default(f, p)) {
        continue;
      }
      printf("%s", first ? "" : ",");
      s_json_str(f->name);
      putchar(':');
      s_json_value(f, p);
    }
    first = 0;
  }
  putchar('}');
}

/* name.json and name.hex of a message. */
static void s_message(const char *name, const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *b = malloc(n ? n : 1);
  if (!b) s_die("out of memory");
  protobuf_c_message_pack(m, b);
  printf("%s.json = ", name);
  s_json_msg(m);
  printf("\n");
  char hn[64];
  snprintf(hn, sizeof hn, "%s.hex", name);
  s_hex(hn, b, n);
  free(b);
}

/* ---- keys ---- */

static void s_identity(li_identity *id, uint8_t first_byte) {
  uint8_t seed[crypto_sign_SEEDBYTES];
  for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(first_byte + i);
  if (crypto_sign_seed_keypair(id->pk, id->sk, seed) != 0) s_die("seed keypair");
}

/* The key file as li_identity_save writes it, without its newline. */
static void s_key_file(const li_identity *id, char *out, size_t cap) {
  char path[256];
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/linli-vectors-%ld.key", dir && *dir ? dir : "/tmp", (long)getpid());
  li_errbuf eb;
  unlink(path);
  if (li_identity_save(id, path, &eb) != LI_OK) s_die(eb.msg);
  FILE *f = fopen(path, "r");
  if (!f || !fgets(out, (int)cap, f)) s_die("cannot read the key file back");
  fclose(f);
  unlink(path);
  out[strcspn(out, "\n")] = 0;
}

static void s_keys(const char *name, const li_identity *id, uint8_t first_byte) {
  char k[64], text[LI_PK_TEXT_LEN + 1], z85[41], file[LI_KEY_FILE_BYTES_MAX + 1];
  uint8_t seed[crypto_sign_SEEDBYTES], cpk[32], csk[32];
  for (size_t i = 0; i < sizeof seed; i++) seed[i] = (uint8_t)(first_byte + i);
  snprintf(k, sizeof k, "%s.seed", name), s_hex(k, seed, sizeof seed);
  s_key_file(id, file, sizeof file);
  printf("%s.key_file = %s\n", name, file);
  snprintf(k, sizeof k, "%s.public", name), s_hex(k, id->pk, LI_PK_BYTES);
  li_pk_to_text(id->pk, text);
  printf("%s.public_text = %s\n", name, text);
  if (li_curve_keys(id, cpk, csk) != LI_OK) s_die("curve keys");
  snprintf(k, sizeof k, "%s.curve_public", name), s_hex(k, cpk, 32);
  snprintf(k, sizeof k, "%s.curve_secret", name), s_hex(k, csk, 32);
  if (!zmq_z85_encode(z85, cpk, 32)) s_die("z85");
  printf("%s.curve_public_z85 = %s\n", name, z85);
  if (!zmq_z85_encode(z85, csk, 32)) s_die("z85");
  printf("%s.curve_secret_z85 = %s\n", name, z85);
}

/* ---- commits ---- */

static Linli__Value s_text(const char *t) {
  Linli__Value v = LINLI__VALUE__INIT;
  v.v_case = LINLI__VALUE__V_T;
  v.t = (char *)t;
  return v;
}

static Linli__Value s_int(int64_t i) {
  Linli__Value v = LINLI__VALUE__INIT;
  v.v_case = LINLI__VALUE__V_I;
  v.i = i;
  return v;
}

/* Seals c and prints it: the commit, the signed message's prefix, the
 * signature, the chain hash and the SignedCommit. */
static void s_commit(const char *name, const li_identity *id, const uint8_t net[LI_PK_BYTES], Linli__Commit *c,
                     uint8_t **sc, size_t *sc_len, uint8_t hash[LI_HASH_BYTES]) {
  li_errbuf eb;
  if (li_commit_seal(id, net, c, sc, sc_len, hash, &eb) != LI_OK) s_die(eb.msg);
  li_arena a;
  li_arena_init(&a);
  li_commit got;
  if (li_commit_open(net, *sc, *sc_len, &a, &got, &eb) != LI_OK) s_die(eb.msg);
  char k[64];
  snprintf(k, sizeof k, "%s", name);
  s_message(k, &got.c->base);
  Linli__SignedCommit *w = linli__signed_commit__unpack(NULL, *sc_len, *sc);
  if (!w) s_die("signed commit does not decode");
  snprintf(k, sizeof k, "%s.signature", name), s_hex(k, w->sig.data, w->sig.len);
  snprintf(k, sizeof k, "%s.chain_hash", name), s_hex(k, hash, LI_HASH_BYTES);
  snprintf(k, sizeof k, "%s.signed", name);
  s_message(k, &w->base);
  linli__signed_commit__free_unpacked(w, NULL);
  li_arena_free(&a);
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) s_die(eb.msg);
  li_identity key, hub;
  s_identity(&key, 0x00);
  s_identity(&hub, 0x80);
  const uint8_t *net = hub.pk;
  printf("# linli protocol test vectors (docs/protocol.md, \"Test vectors\").\n"
         "# Generated by tests/vectors/gen_vectors.c from linli's own code; tests/protocol_doc.t.sh\n"
         "# regenerates them and fails when they differ. The two keys are THROWAWAY TEST KEYS made\n"
         "# from the fixed seeds below: they are public, never use them for a street.\n"
         "# 'key' is a committee (scope c07), 'hub' is the street hub: its public key is the network id.\n"
         "# Bytes are lowercase hex; NAME.json is a message as fields (names of proto/*.proto, bytes as\n"
         "# hex, fields at their default left out), NAME.hex the same message as linli encodes it.\n");
  s_keys("key", &key, 0x00);
  s_keys("hub", &hub, 0x80);
  s_hex("network", net, LI_PK_BYTES);
  uint8_t prefix[16 + LI_PK_BYTES];
  memcpy(prefix, "linli/commit/v1", 16); /* with its NUL */
  memcpy(prefix + 16, net, LI_PK_BYTES);
  s_hex("signed_prefix", prefix, sizeof prefix);

  /* commit1: c07's first commit, a new care_visits row sent whole */
  Linli__Dep dep = LINLI__DEP__INIT;
  dep.origin = (ProtobufCBinaryData){LI_PK_BYTES, hub.pk};
  dep.seq = 3;
  Linli__Dep *deps[] = {&dep};
  Linli__Value pk1 = s_text("v-0001");
  Linli__Value *pks1[] = {&pk1};
  Linli__Value v1[] = {s_text("c07"), s_text("R-0012"), s_text("2025-03-01"), s_text("探访"), s_int(0),
                       LINLI__VALUE__INIT};
  v1[5].v_case = LINLI__VALUE__V_NULL;
  v1[5].null = 1;
  Linli__Value *vp1[] = {&v1[0], &v1[1], &v1[2], &v1[3], &v1[4], &v1[5]};
  uint32_t cols1[] = {0, 1, 2, 3, 4, 5};
  Linli__RowChange r1 = LINLI__ROW_CHANGE__INIT;
  r1.n_pk = 1, r1.pk = pks1, r1.cl = 1, r1.n_cols = 6, r1.cols = cols1, r1.n_values = 6, r1.values = vp1;
  Linli__RowChange *rows1[] = {&r1};
  char *colnames1[] = {"scope", "resident_ref", "visited_on", "kind", "follow_up", "note"};
  Linli__TableChanges t1 = LINLI__TABLE_CHANGES__INIT;
  t1.table = "care_visits", t1.n_columns = 6, t1.columns = colnames1, t1.n_rows = 1, t1.rows = rows1;
  Linli__TableChanges *tabs1[] = {&t1};
  Linli__Commit c1 = LINLI__COMMIT__INIT;
  c1.origin = (ProtobufCBinaryData){LI_PK_BYTES, key.pk};
  c1.scope = "c07";
  c1.seq = 1;
  c1.hlc = LI_HLC_MAKE(V_WALL_MS, 0);
  c1.schema_version = 1;
  c1.n_deps = 1, c1.deps = deps;
  c1.n_tables = 1, c1.tables = tabs1;
  uint8_t *sc1, *sc2, h1[LI_HASH_BYTES], h2[LI_HASH_BYTES];
  size_t sc1_len, sc2_len;
  s_commit("commit1", &key, net, &c1, &sc1, &sc1_len, h1);

  /* commit2: the next, chained to commit1: an update of two columns (a
   * negative integer, a real), a blob, and a deleted row */
  Linli__Value v2[] = {s_int(-3), LINLI__VALUE__INIT, LINLI__VALUE__INIT};
  v2[1].v_case = LINLI__VALUE__V_F, v2[1].f = 2.5;
  static uint8_t blob[] = {0x00, 0xff, 0x10};
  v2[2].v_case = LINLI__VALUE__V_B, v2[2].b = (ProtobufCBinaryData){sizeof blob, blob};
  Linli__Value *vp2[] = {&v2[0], &v2[1], &v2[2]};
  uint32_t cols2[] = {0, 1, 2};
  Linli__Value pk2 = s_text("r-1"), pk3 = s_int(7);
  Linli__Value *pks2[] = {&pk2}, *pks3[] = {&pk3};
  Linli__RowChange r2 = LINLI__ROW_CHANGE__INIT, r3 = LINLI__ROW_CHANGE__INIT;
  r2.n_pk = 1, r2.pk = pks2, r2.cl = 3, r2.n_cols = 3, r2.cols = cols2, r2.n_values = 3, r2.values = vp2;
  r3.n_pk = 1, r3.pk = pks3, r3.cl = 2;
  Linli__RowChange *rows2[] = {&r2, &r3};
  char *colnames2[] = {"delta", "reading", "photo"};
  Linli__TableChanges t2 = LINLI__TABLE_CHANGES__INIT;
  t2.table = "readings", t2.n_columns = 3, t2.columns = colnames2, t2.n_rows = 2, t2.rows = rows2;
  Linli__TableChanges *tabs2[] = {&t2};
  Linli__Commit c2 = c1;
  c2.seq = 2;
  c2.prev = (ProtobufCBinaryData){LI_HASH_BYTES, h1};
  c2.hlc = LI_HLC_MAKE(V_WALL_MS + 1500, 2);
  c2.tables = tabs2;
  s_commit("commit2", &key, net, &c2, &sc2, &sc2_len, h2);

  /* one message of each kind, in an Envelope */
  Linli__Envelope env = LINLI__ENVELOPE__INIT;
  Linli__Head head = LINLI__HEAD__INIT;
  head.origin = (ProtobufCBinaryData){LI_PK_BYTES, key.pk};
  head.scope = "c07";
  head.seq = 2;
  head.hash = (ProtobufCBinaryData){LI_HASH_BYTES, h2};
  Linli__Head *heads[] = {&head};
  Linli__Hello hello = LINLI__HELLO__INIT;
  hello.protocol = LI_PROTOCOL_VERSION;
  hello.protocol_min = LI_PROTOCOL_VERSION_MIN;
  hello.network = (ProtobufCBinaryData){LI_PK_BYTES, (uint8_t *)net};
  hello.node = (ProtobufCBinaryData){LI_PK_BYTES, key.pk};
  hello.n_heads = 1, hello.heads = heads;
  hello.exchange = 1;
  hello.wall_ms = V_WALL_MS + 2000;
  hello.schema_version = 1;
  env.m_case = LINLI__ENVELOPE__M_HELLO, env.hello = &hello;
  s_message("msg.hello", &env.base);

  ProtobufCBinaryData scs[] = {{sc1_len, sc1}, {sc2_len, sc2}};
  Linli__Batch batch = LINLI__BATCH__INIT;
  batch.exchange = 1, batch.id = 1, batch.n_commits = 2, batch.commits = scs;
  env.m_case = LINLI__ENVELOPE__M_BATCH, env.batch = &batch;
  s_message("msg.batch", &env.base);

  Linli__ChainReject cr = LINLI__CHAIN_REJECT__INIT;
  cr.origin = (ProtobufCBinaryData){LI_PK_BYTES, key.pk};
  cr.scope = "c07", cr.seq = 2, cr.code = "clock_ahead";
  cr.message = "commit c07#2 is stamped 1500 ms ahead of our clock; held";
  Linli__ChainReject *crs[] = {&cr};
  Linli__Ack ack = LINLI__ACK__INIT;
  ack.exchange = 1, ack.id = 1, ack.applied = 1, ack.duplicates = 0;
  ack.reject = "clock_ahead", ack.message = cr.message;
  ack.n_rejects = 1, ack.rejects = crs;
  ack.refused = 1, ack.refused_first = "care_visits v-0001: constraint (CHECK failed)";
  env.m_case = LINLI__ENVELOPE__M_ACK, env.ack = &ack;
  s_message("msg.ack", &env.base);

  Linli__Heartbeat hb = LINLI__HEARTBEAT__INIT;
  hb.exchange = 1;
  env.m_case = LINLI__ENVELOPE__M_HEARTBEAT, env.heartbeat = &hb;
  s_message("msg.heartbeat", &env.base);

  Linli__Refuse rf = LINLI__REFUSE__INIT;
  rf.code = "version", rf.message = "peer speaks protocol versions 2 to 3, we speak 1 to 1: upgrade the older node";
  env.m_case = LINLI__ENVELOPE__M_REFUSE, env.refuse = &rf;
  s_message("msg.refuse", &env.base);

  uint8_t other[LI_HASH_BYTES];
  li_hash((const uint8_t *)"another commit #2", 17, other);
  Linli__ForkReport fk = LINLI__FORK_REPORT__INIT;
  fk.theirs = &head, fk.ours = (ProtobufCBinaryData){LI_HASH_BYTES, other};
  env.m_case = LINLI__ENVELOPE__M_FORK, env.fork = &fk;
  s_message("msg.fork", &env.base);

  free(sc1);
  free(sc2);
  li_identity_wipe(&key);
  li_identity_wipe(&hub);
  return fflush(stdout) == 0 ? 0 : 1;
}
