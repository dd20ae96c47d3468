/* keys: node identity, signatures and hashes, all through libsodium (keys.h).
 *
 * Invariants:
 *  1. A key file is created 0600 with O_EXCL and never overwritten.
 *  2. A loaded identity is consistent: the public half stored in the secret
 *     key is the one re-derived from its seed, or the load fails.
 *  3. Every signature binds the domain "linli/commit/v1\0" and the network
 *     key, so a signature from one network or one purpose never verifies in
 *     another. Verification fails closed (any doubt returns -1).
 *  4. Secret bytes copied to temporaries are wiped before return.
 *
 * Signing is plain Ed25519 over the concatenated buffer; libsodium's
 * init/update/final API is Ed25519ph, a different signature scheme. */
#include "keys.h"
#include "li_limits.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "linli-key-v1 "
#define KEY_MAGIC_LEN (sizeof KEY_MAGIC - 1)
#define KEY_B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define KEY_SK_TEXT_LEN (sodium_base64_ENCODED_LEN(LI_SK_BYTES, KEY_B64_VARIANT) - 1)
#define KEY_LINE_LEN (KEY_MAGIC_LEN + KEY_SK_TEXT_LEN + 1) /* with '\n' */
/* Anything longer than LI_KEY_FILE_BYTES_MAX (li_limits.h) is not a key file. */
_Static_assert(KEY_LINE_LEN <= LI_KEY_FILE_BYTES_MAX, "a key line fits the key file limit");

static const uint8_t s_domain[16] = "linli/commit/v1"; /* 15 chars + NUL */
#define DOMAIN_LEN sizeof s_domain
#define SIGNED_PREFIX_LEN (DOMAIN_LEN + LI_PK_BYTES)
/* Messages up to this size are framed on the stack, larger ones on the heap. */
#define SIGN_STACK_MAX 2048

_Static_assert(sizeof s_domain == 16, "domain is 16 bytes including its NUL");
_Static_assert(LI_PK_BYTES == crypto_sign_PUBLICKEYBYTES, "pk size");
_Static_assert(LI_SK_BYTES == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(LI_SIG_BYTES == crypto_sign_BYTES, "sig size");
_Static_assert(LI_PK_TEXT_LEN + 1 ==
                   sodium_base64_ENCODED_LEN(LI_PK_BYTES, KEY_B64_VARIANT),
               "printable pk length");

li_err li_crypto_init(li_errbuf *eb) {
  if (sodium_init() < 0)
    return li_fail(eb, LI_ERR_IO, "libsodium could not be initialised");
  return LI_OK;
}

li_err li_identity_generate(li_identity *id) {
  assert(id != NULL);
  if (crypto_sign_keypair(id->pk, id->sk) != 0)
    return LI_ERR_IO;
  return LI_OK;
}

void li_identity_wipe(li_identity *id) {
  if (id != NULL)
    sodium_memzero(id, sizeof *id);
}

static int s_write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

li_err li_identity_save(const li_identity *id, const char *path, li_errbuf *eb) {
  assert(id != NULL && path != NULL);
  char line[KEY_LINE_LEN + 1];
  memcpy(line, KEY_MAGIC, KEY_MAGIC_LEN);
  sodium_bin2base64(line + KEY_MAGIC_LEN, KEY_SK_TEXT_LEN + 1, id->sk, LI_SK_BYTES,
                    KEY_B64_VARIANT);
  line[KEY_LINE_LEN - 1] = '\n';
  line[KEY_LINE_LEN] = '\0';

  int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, LI_KEY_FILE_MODE);
  if (fd < 0) {
    int e = errno;
    sodium_memzero(line, sizeof line);
    if (e == EEXIST)
      return li_fail(eb, LI_ERR_EXISTS, "key file %s already exists; it is never overwritten",
                     path);
    return li_fail(eb, LI_ERR_IO, "cannot create key file %s: %s", path, strerror(e));
  }
  /* The umask may have narrowed the mode; make it exactly 0600. */
  int bad = fchmod(fd, LI_KEY_FILE_MODE) != 0 || s_write_all(fd, line, KEY_LINE_LEN) != 0 ||
            fsync(fd) != 0;
  int e = errno;
  sodium_memzero(line, sizeof line);
  if (close(fd) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    unlink(path);
    return li_fail(eb, LI_ERR_IO, "cannot write key file %s: %s", path, strerror(e));
  }
  return LI_OK;
}

/* Reads at most cap - 1 bytes; sets *len. -1 with errno on error. */
static int s_read_small(int fd, char *buf, size_t cap, size_t *len) {
  size_t n = 0;
  while (n < cap - 1) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  *len = n;
  return 0;
}

/* Parses the text of a key file into sk; 0 or -1. */
static int s_parse_key_text(const char *text, size_t len, uint8_t sk[LI_SK_BYTES]) {
  if (len == KEY_LINE_LEN && text[len - 1] == '\n')
    len--; /* the newline the format requires */
  if (len != KEY_MAGIC_LEN + KEY_SK_TEXT_LEN || memcmp(text, KEY_MAGIC, KEY_MAGIC_LEN) != 0)
    return -1;
  size_t bin_len = 0;
  const char *end = NULL;
  if (sodium_base642bin(sk, LI_SK_BYTES, text + KEY_MAGIC_LEN, KEY_SK_TEXT_LEN, NULL, &bin_len,
                        &end, KEY_B64_VARIANT) != 0 ||
      bin_len != LI_SK_BYTES || end != text + len)
    return -1;
  return 0;
}

/* The public half stored in sk must be the one its seed derives. */
static int s_check_consistent(const uint8_t sk[LI_SK_BYTES], uint8_t pk_out[LI_PK_BYTES]) {
  uint8_t seed[crypto_sign_SEEDBYTES];
  uint8_t pk[LI_PK_BYTES];
  uint8_t sk2[LI_SK_BYTES];
  uint8_t embedded[LI_PK_BYTES];
  crypto_sign_ed25519_sk_to_seed(seed, sk);
  crypto_sign_ed25519_sk_to_pk(embedded, sk);
  int rc = crypto_sign_seed_keypair(pk, sk2, seed);
  if (rc == 0 && sodium_memcmp(pk, embedded, LI_PK_BYTES) != 0)
    rc = -1;
  if (rc == 0)
    memcpy(pk_out, pk, LI_PK_BYTES);
  sodium_memzero(seed, sizeof seed);
  sodium_memzero(sk2, sizeof sk2);
  return rc;
}

li_err li_identity_load(li_identity *id, const char *path, li_errbuf *eb) {
  assert(id != NULL && path != NULL);
  sodium_memzero(id, sizeof *id);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return li_fail(eb, LI_ERR_KEY, "key file %s does not exist", path);
    return li_fail(eb, LI_ERR_KEY, "cannot open key file %s: %s", path, strerror(errno));
  }
  /* fstat on the open descriptor: the mode checked is the file read. */
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return li_fail(eb, LI_ERR_KEY, "cannot stat key file %s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return li_fail(eb, LI_ERR_KEY, "key file %s is not a regular file", path);
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return li_fail(eb, LI_ERR_KEY_PERMS,
                   "key file %s has mode %04o; it must be readable by its owner only: "
                   "run  chmod 600 %s",
                   path, (unsigned)(st.st_mode & 07777), path);
  }
  char text[LI_KEY_FILE_BYTES_MAX + 2]; /* one byte more than allowed, and the NUL */
  size_t len = 0;
  int rd = s_read_small(fd, text, sizeof text, &len);
  int e = errno;
  close(fd);
  if (rd != 0) {
    sodium_memzero(text, sizeof text);
    return li_fail(eb, LI_ERR_KEY, "cannot read key file %s: %s", path, strerror(e));
  }
  if (len > LI_KEY_FILE_BYTES_MAX) {
    sodium_memzero(text, sizeof text);
    return li_fail(eb, LI_ERR_KEY, "key file %s is over %u bytes (LI_KEY_FILE_BYTES_MAX): not a linli key", path,
                   (unsigned)LI_KEY_FILE_BYTES_MAX);
  }
  int ok = s_parse_key_text(text, len, id->sk) == 0 && s_check_consistent(id->sk, id->pk) == 0;
  sodium_memzero(text, sizeof text);
  if (!ok) {
    li_identity_wipe(id);
    return li_fail(eb, LI_ERR_KEY,
                   "key file %s is not a valid linli key (expected one line \"linli-key-v1 "
                   "<key>\" as written by linli init)",
                   path);
  }
  return LI_OK;
}

void li_pk_to_text(const uint8_t pk[LI_PK_BYTES], char *out) {
  assert(pk != NULL && out != NULL);
  sodium_bin2base64(out, LI_PK_TEXT_LEN + 1, pk, LI_PK_BYTES, KEY_B64_VARIANT);
}

static int s_is_b64url(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_';
}

li_err li_pk_from_text(const char *text, uint8_t pk[LI_PK_BYTES], li_errbuf *eb) {
  assert(pk != NULL);
  if (text == NULL)
    return li_fail(eb, LI_ERR_KEY, "public key is missing");
  size_t len = strnlen(text, LI_PK_TEXT_LEN + 1);
  if (len != LI_PK_TEXT_LEN)
    return li_fail(eb, LI_ERR_KEY,
                   "public key must be exactly %d characters of base64url, got %s%zu",
                   LI_PK_TEXT_LEN, len > LI_PK_TEXT_LEN ? "more than " : "",
                   len > LI_PK_TEXT_LEN ? (size_t)LI_PK_TEXT_LEN : len);
  for (size_t i = 0; i < len; i++) {
    if (!s_is_b64url(text[i]))
      return li_fail(eb, LI_ERR_KEY,
                     "public key has an invalid character at position %zu "
                     "(allowed: A-Z a-z 0-9 - _)",
                     i + 1);
  }
  uint8_t bin[LI_PK_BYTES];
  size_t bin_len = 0;
  const char *end = NULL;
  char again[LI_PK_TEXT_LEN + 1];
  if (sodium_base642bin(bin, sizeof bin, text, len, NULL, &bin_len, &end, KEY_B64_VARIANT) !=
          0 ||
      bin_len != LI_PK_BYTES || end != text + len)
    return li_fail(eb, LI_ERR_KEY, "public key is not valid base64url");
  /* Only the canonical spelling is accepted: one key, one text. */
  li_pk_to_text(bin, again);
  if (memcmp(again, text, LI_PK_TEXT_LEN) != 0)
    return li_fail(eb, LI_ERR_KEY, "public key is not in canonical base64url form");
  memcpy(pk, bin, LI_PK_BYTES);
  return LI_OK;
}

/* Frames domain || network || msg into a buffer: stack when small, heap
 * otherwise. Returns NULL on overflow or allocation failure. */
static uint8_t *s_frame(uint8_t *stack_buf, const uint8_t network[LI_PK_BYTES],
                        const uint8_t *msg, size_t len, size_t *total) {
  if (len > SIZE_MAX - SIGNED_PREFIX_LEN)
    return NULL;
  *total = SIGNED_PREFIX_LEN + len;
  uint8_t *buf = *total <= SIGN_STACK_MAX ? stack_buf : malloc(*total);
  if (buf == NULL)
    return NULL;
  memcpy(buf, s_domain, DOMAIN_LEN);
  memcpy(buf + DOMAIN_LEN, network, LI_PK_BYTES);
  if (len > 0)
    memcpy(buf + SIGNED_PREFIX_LEN, msg, len);
  return buf;
}

void li_sign_commit(const li_identity *id, const uint8_t network[LI_PK_BYTES],
                    const uint8_t *msg, size_t len, uint8_t sig[LI_SIG_BYTES]) {
  assert(id != NULL && network != NULL && sig != NULL && (msg != NULL || len == 0));
  uint8_t stack_buf[SIGN_STACK_MAX];
  size_t total = 0;
  uint8_t *buf = s_frame(stack_buf, network, msg, len, &total);
  if (buf == NULL) {
    /* This function cannot report failure; a commit is bounded by
     * LI_COMMIT_BYTES_MAX, so running out of memory here is not input. */
    fprintf(stderr, "linli: out of memory signing a %zu-byte message\n", len);
    abort();
  }
  crypto_sign_detached(sig, NULL, buf, total, id->sk);
  if (buf != stack_buf)
    free(buf);
}

int li_verify_commit(const uint8_t pk[LI_PK_BYTES], const uint8_t network[LI_PK_BYTES],
                     const uint8_t *msg, size_t len, const uint8_t sig[LI_SIG_BYTES]) {
  if (pk == NULL || network == NULL || sig == NULL || (msg == NULL && len != 0))
    return -1;
  uint8_t stack_buf[SIGN_STACK_MAX];
  size_t total = 0;
  uint8_t *buf = s_frame(stack_buf, network, msg, len, &total);
  if (buf == NULL)
    return -1;
  int rc = crypto_sign_verify_detached(sig, buf, total, pk) == 0 ? 0 : -1;
  if (buf != stack_buf)
    free(buf);
  return rc;
}

void li_hash(const uint8_t *msg, size_t len, uint8_t out[LI_HASH_BYTES]) {
  assert(out != NULL && (msg != NULL || len == 0));
  crypto_generichash(out, LI_HASH_BYTES, msg, len, NULL, 0);
}

li_err li_curve_keys(const li_identity *id, uint8_t curve_pk[32], uint8_t curve_sk[32]) {
  assert(id != NULL && curve_pk != NULL && curve_sk != NULL);
  if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, id->pk) != 0 ||
      crypto_sign_ed25519_sk_to_curve25519(curve_sk, id->sk) != 0) {
    sodium_memzero(curve_sk, 32);
    sodium_memzero(curve_pk, 32);
    return LI_ERR_KEY;
  }
  return LI_OK;
}

li_err li_curve_pk_from_ed(const uint8_t ed_pk[LI_PK_BYTES], uint8_t curve_pk[32]) {
  assert(ed_pk != NULL && curve_pk != NULL);
  if (crypto_sign_ed25519_pk_to_curve25519(curve_pk, ed_pk) != 0) {
    sodium_memzero(curve_pk, 32);
    return LI_ERR_KEY;
  }
  return LI_OK;
}
