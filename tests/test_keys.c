/* Tests for keys: fixed vectors (so a change of the signing domain or the
 * printable form is caught), key files and their permissions, printable
 * public keys, signatures that must fail, and CURVE key derivation. */
#include "testutil.h"

#include <sodium.h>
#include <sys/stat.h>

#include "keys.h"

/* Seed 0x00..0x1f, network 0x40..0x5f, message "linli test vector".
 * Computed once with libsodium and checked with an independent Ed25519
 * (python cryptography) over "linli/commit/v1\0" || network || message. */
static const char VEC_PK_TEXT[] = "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg";
static const char VEC_MSG[] = "linli test vector";
static const uint8_t VEC_SIG[LI_SIG_BYTES] = {
    0xd9, 0x91, 0x71, 0x79, 0x38, 0x47, 0x05, 0x54, 0xba, 0xa4, 0x7c, 0x6d, 0xd8,
    0x24, 0x0a, 0x64, 0x5a, 0x54, 0x09, 0x01, 0x20, 0xef, 0xd6, 0xbe, 0x1e, 0xd5,
    0xba, 0xf7, 0xf4, 0x72, 0xba, 0x94, 0x3e, 0x84, 0x07, 0x9b, 0x13, 0x59, 0xed,
    0xb3, 0x58, 0x70, 0xe3, 0x36, 0xa0, 0x41, 0x2f, 0xff, 0xde, 0xcc, 0xff, 0xab,
    0xc8, 0xa9, 0xf8, 0xe0, 0x7b, 0xfc, 0x1e, 0x09, 0xa0, 0xf1, 0x52, 0x0f,
};
/* BLAKE2b-256("abc"). */
static const uint8_t VEC_HASH_ABC[LI_HASH_BYTES] = {
    0xbd, 0xdd, 0x81, 0x3c, 0x63, 0x42, 0x39, 0x72, 0x31, 0x71, 0xef, 0x3f, 0xee, 0x98, 0x57, 0x9b,
    0x94, 0x96, 0x4e, 0x3b, 0xb1, 0xcb, 0x3e, 0x42, 0x72, 0x62, 0xc8, 0xc0, 0x68, 0xd5, 0x23, 0x19,
};

static void s_vec_identity(li_identity *id, uint8_t network[LI_PK_BYTES]) {
  uint8_t seed[crypto_sign_SEEDBYTES];
  for (int i = 0; i < 32; i++) {
    seed[i] = (uint8_t)i;
    network[i] = (uint8_t)(0x40 + i);
  }
  assert_int_equal(crypto_sign_seed_keypair(id->pk, id->sk, seed), 0);
}

static void s_write_file(const char *path, const char *text, size_t len, mode_t mode) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

static int s_setup(void **state) {
  (void)state;
  return li_crypto_init(NULL) == LI_OK ? 0 : -1;
}

static void test_vector_pk_and_signature(void **state) {
  (void)state;
  li_identity id;
  uint8_t network[LI_PK_BYTES];
  s_vec_identity(&id, network);
  char text[LI_PK_TEXT_LEN + 1];
  li_pk_to_text(id.pk, text);
  assert_string_equal(text, VEC_PK_TEXT);

  uint8_t sig[LI_SIG_BYTES];
  li_sign_commit(&id, network, (const uint8_t *)VEC_MSG, strlen(VEC_MSG), sig);
  assert_memory_equal(sig, VEC_SIG, LI_SIG_BYTES);
  assert_int_equal(li_verify_commit(id.pk, network, (const uint8_t *)VEC_MSG, strlen(VEC_MSG),
                                    VEC_SIG),
                   0);
  /* Not a plain signature of the message: the domain and network are bound. */
  assert_int_not_equal(crypto_sign_verify_detached(VEC_SIG, (const uint8_t *)VEC_MSG,
                                                   strlen(VEC_MSG), id.pk),
                       0);
  li_identity_wipe(&id);
}

static void test_vector_hash(void **state) {
  (void)state;
  uint8_t h[LI_HASH_BYTES];
  li_hash((const uint8_t *)"abc", 3, h);
  assert_memory_equal(h, VEC_HASH_ABC, LI_HASH_BYTES);
  uint8_t h2[LI_HASH_BYTES];
  li_hash(NULL, 0, h2);
  assert_memory_not_equal(h, h2, LI_HASH_BYTES);
}

static void test_tampered_signature_fails(void **state) {
  (void)state;
  li_identity id;
  uint8_t network[LI_PK_BYTES];
  s_vec_identity(&id, network);
  const uint8_t *msg = (const uint8_t *)VEC_MSG;
  size_t len = strlen(VEC_MSG);
  for (size_t i = 0; i < LI_SIG_BYTES; i++) {
    uint8_t sig[LI_SIG_BYTES];
    memcpy(sig, VEC_SIG, sizeof sig);
    sig[i] ^= 0x01;
    assert_int_equal(li_verify_commit(id.pk, network, msg, len, sig), -1);
  }
  uint8_t m2[64];
  memcpy(m2, msg, len);
  m2[3] ^= 0x20;
  assert_int_equal(li_verify_commit(id.pk, network, m2, len, VEC_SIG), -1);
  assert_int_equal(li_verify_commit(id.pk, network, msg, len - 1, VEC_SIG), -1);
  uint8_t other_pk[LI_PK_BYTES];
  memcpy(other_pk, id.pk, sizeof other_pk);
  other_pk[0] ^= 1;
  assert_int_equal(li_verify_commit(other_pk, network, msg, len, VEC_SIG), -1);
  uint8_t zero_sig[LI_SIG_BYTES] = {0};
  assert_int_equal(li_verify_commit(id.pk, network, msg, len, zero_sig), -1);
  assert_int_equal(li_verify_commit(NULL, network, msg, len, VEC_SIG), -1);
  assert_int_equal(li_verify_commit(id.pk, network, NULL, len, VEC_SIG), -1);
  li_identity_wipe(&id);
}

static void test_wrong_network_fails(void **state) {
  (void)state;
  li_identity id;
  uint8_t network[LI_PK_BYTES];
  s_vec_identity(&id, network);
  uint8_t other[LI_PK_BYTES];
  memcpy(other, network, sizeof other);
  other[31] ^= 0x80;
  assert_int_equal(
      li_verify_commit(id.pk, other, (const uint8_t *)VEC_MSG, strlen(VEC_MSG), VEC_SIG), -1);
  li_identity_wipe(&id);
}

static void test_sign_sizes(void **state) {
  (void)state;
  li_identity id;
  uint8_t network[LI_PK_BYTES], sig[LI_SIG_BYTES];
  assert_int_equal(li_identity_generate(&id), LI_OK);
  memset(network, 7, sizeof network);
  /* Empty, around the stack/heap threshold, and large messages. */
  static const size_t sizes[] = {0, 1, 2000, 2047, 2048, 2049, 100000};
  uint8_t *msg = malloc(100000);
  assert_non_null(msg);
  randombytes_buf(msg, 100000);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    li_sign_commit(&id, network, sizes[i] ? msg : NULL, sizes[i], sig);
    assert_int_equal(li_verify_commit(id.pk, network, sizes[i] ? msg : NULL, sizes[i], sig), 0);
    if (sizes[i] > 0) {
      msg[sizes[i] - 1] ^= 1;
      assert_int_equal(li_verify_commit(id.pk, network, msg, sizes[i], sig), -1);
      msg[sizes[i] - 1] ^= 1;
    }
  }
  free(msg);
  li_identity_wipe(&id);
}

static void test_key_file_round_trip(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_tmpdir(dir);
  snprintf(path, sizeof path, "%s/node.key", dir);
  li_identity id, back;
  li_errbuf eb = {{0}};
  assert_int_equal(li_identity_generate(&id), LI_OK);
  mode_t old = umask(0); /* the file must still come out 0600 */
  assert_int_equal(li_identity_save(&id, path, &eb), LI_OK);
  umask(old);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(st.st_size, 13 + 86 + 1);
  FILE *f = fopen(path, "r");
  char line[128];
  assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  assert_memory_equal(line, "linli-key-v1 ", 13);
  assert_int_equal(line[99], '\n');

  assert_int_equal(li_identity_load(&back, path, &eb), LI_OK);
  assert_memory_equal(&back, &id, sizeof id);
  /* Never overwritten. */
  assert_int_equal(li_identity_save(&id, path, &eb), LI_ERR_EXISTS);
  assert_non_null(strstr(eb.msg, path));

  li_identity_wipe(&back);
  static const li_identity zero;
  assert_memory_equal(&back, &zero, sizeof zero);
  li_identity_wipe(&id);
  tu_rmdir(dir);
}

static void test_key_file_perms_refused(void **state) {
  (void)state;
  char dir[256], path[300], want[400];
  tu_tmpdir(dir);
  snprintf(path, sizeof path, "%s/node.key", dir);
  li_identity id;
  li_errbuf eb = {{0}};
  assert_int_equal(li_identity_generate(&id), LI_OK);
  assert_int_equal(li_identity_save(&id, path, &eb), LI_OK);
  static const mode_t bad[] = {0644, 0640, 0604, 0602, 0620, 0601, 0610, 0666};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(chmod(path, bad[i]), 0);
    memset(&eb, 0, sizeof eb);
    li_identity back;
    assert_int_equal(li_identity_load(&back, path, &eb), LI_ERR_KEY_PERMS);
    snprintf(want, sizeof want, "chmod 600 %s", path);
    assert_non_null(strstr(eb.msg, want));
    static const li_identity zero;
    assert_memory_equal(&back, &zero, sizeof zero);
  }
  assert_int_equal(chmod(path, 0644), 0);
  li_identity_load(&id, path, &eb);
  snprintf(want, sizeof want, "key file %s has mode 0644", path);
  assert_non_null(strstr(eb.msg, want));
  assert_int_equal(chmod(path, 0400), 0); /* owner-only read is fine */
  assert_int_equal(li_identity_load(&id, path, &eb), LI_OK);
  li_identity_wipe(&id);
  tu_rmdir(dir);
}

static void test_key_file_missing(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_tmpdir(dir);
  snprintf(path, sizeof path, "%s/absent.key", dir);
  li_identity id;
  li_errbuf eb = {{0}};
  assert_int_equal(li_identity_load(&id, path, &eb), LI_ERR_KEY);
  assert_non_null(strstr(eb.msg, "does not exist"));
  assert_int_equal(li_identity_load(&id, dir, &eb), LI_ERR_KEY); /* a directory */
  tu_rmdir(dir);
}

static void test_key_file_malformed(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_tmpdir(dir);
  snprintf(path, sizeof path, "%s/node.key", dir);
  li_identity id;
  uint8_t network[LI_PK_BYTES];
  s_vec_identity(&id, network);
  char good[128];
  memcpy(good, "linli-key-v1 ", 13);
  sodium_bin2base64(good + 13, 87, id.sk, LI_SK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  strcat(good, "\n");
  assert_int_equal(strlen(good), 100);

  /* Same bytes without the final newline are accepted too. */
  s_write_file(path, good, 99, 0600);
  li_identity back;
  li_errbuf eb = {{0}};
  assert_int_equal(li_identity_load(&back, path, &eb), LI_OK);
  assert_memory_equal(&back, &id, sizeof id);
  unlink(path);

  char bad[8][160];
  size_t n = 0;
  snprintf(bad[n++], 160, "%s", "");                          /* empty */
  snprintf(bad[n++], 160, "linli-key-v2 %s", good + 13);      /* wrong magic */
  snprintf(bad[n++], 160, "%.60s\n", good);                   /* truncated */
  snprintf(bad[n++], 160, "%.99sA\n", good);                  /* extra char */
  snprintf(bad[n++], 160, "%s\n", good);                      /* blank line after */
  snprintf(bad[n++], 160, "%s", good);
  bad[n - 1][20] = '*'; /* not base64url */
  snprintf(bad[n++], 160, "%s", good);
  bad[n - 1][12] = '\t'; /* separator */
  {
    /* Embedded public key that does not match the seed. */
    uint8_t sk[LI_SK_BYTES];
    memcpy(sk, id.sk, sizeof sk);
    sk[40] ^= 1;
    memcpy(bad[n], "linli-key-v1 ", 13);
    sodium_bin2base64(bad[n] + 13, 87, sk, sizeof sk, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(bad[n], "\n");
    n++;
  }
  for (size_t i = 0; i < n; i++) {
    s_write_file(path, bad[i], strlen(bad[i]), 0600);
    memset(&eb, 0, sizeof eb);
    memset(&back, 0xaa, sizeof back);
    assert_int_equal(li_identity_load(&back, path, &eb), LI_ERR_KEY);
    assert_non_null(strstr(eb.msg, "not a valid linli key"));
    static const li_identity zero;
    assert_memory_equal(&back, &zero, sizeof zero);
    unlink(path);
  }
  /* A large file is refused without reading it all. */
  char *big = malloc(100000);
  assert_non_null(big);
  memset(big, 'A', 100000);
  s_write_file(path, big, 100000, 0600);
  free(big);
  assert_int_equal(li_identity_load(&back, path, &eb), LI_ERR_KEY);
  li_identity_wipe(&id);
  tu_rmdir(dir);
}

static void test_pk_text_round_trip(void **state) {
  (void)state;
  for (int i = 0; i < 200; i++) {
    uint8_t pk[LI_PK_BYTES], back[LI_PK_BYTES];
    randombytes_buf(pk, sizeof pk);
    char text[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(pk, text);
    assert_int_equal(strlen(text), LI_PK_TEXT_LEN);
    assert_int_equal(li_pk_from_text(text, back, NULL), LI_OK);
    assert_memory_equal(pk, back, sizeof pk);
  }
}

static void test_pk_text_rejects(void **state) {
  (void)state;
  uint8_t pk[LI_PK_BYTES];
  memset(pk, 0x11, sizeof pk);
  li_errbuf eb = {{0}};
  static const char *const bad[] = {
      "",
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMb",   /* 42 */
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbgA", /* 44 */
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMb=",  /* padding */
      "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",  /* standard alphabet */
      "A6EHv+POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh",  /* non-zero trailing bits */
      " A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMb",
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMb\n",
      "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJ\xc3\xa9Mb",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&eb, 0, sizeof eb);
    assert_int_equal(li_pk_from_text(bad[i], pk, &eb), LI_ERR_KEY);
    assert_true(strlen(eb.msg) > 10);
    assert_non_null(strstr(eb.msg, "public key"));
  }
  assert_int_equal(li_pk_from_text(NULL, pk, &eb), LI_ERR_KEY);
  uint8_t untouched[LI_PK_BYTES];
  memset(untouched, 0x11, sizeof untouched);
  assert_memory_equal(pk, untouched, sizeof pk);
  assert_int_equal(li_pk_from_text(VEC_PK_TEXT, pk, &eb), LI_OK);
}

static void test_curve_keys(void **state) {
  (void)state;
  li_identity id;
  assert_int_equal(li_identity_generate(&id), LI_OK);
  uint8_t cpk[32], csk[32], cpk2[32], derived[32];
  assert_int_equal(li_curve_keys(&id, cpk, csk), LI_OK);
  assert_int_equal(li_curve_pk_from_ed(id.pk, cpk2), LI_OK);
  assert_memory_equal(cpk, cpk2, 32);
  assert_int_equal(crypto_scalarmult_base(derived, csk), 0);
  assert_memory_equal(derived, cpk, 32);
  uint8_t zero_pk[LI_PK_BYTES] = {0}; /* small-order point: refused */
  assert_int_equal(li_curve_pk_from_ed(zero_pk, cpk2), LI_ERR_KEY);
  li_identity_wipe(&id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vector_pk_and_signature),
      cmocka_unit_test(test_vector_hash),
      cmocka_unit_test(test_tampered_signature_fails),
      cmocka_unit_test(test_wrong_network_fails),
      cmocka_unit_test(test_sign_sizes),
      cmocka_unit_test(test_key_file_round_trip),
      cmocka_unit_test(test_key_file_perms_refused),
      cmocka_unit_test(test_key_file_missing),
      cmocka_unit_test(test_key_file_malformed),
      cmocka_unit_test(test_pk_text_round_trip),
      cmocka_unit_test(test_pk_text_rejects),
      cmocka_unit_test(test_curve_keys),
  };
  return cmocka_run_group_tests(tests, s_setup, NULL);
}
