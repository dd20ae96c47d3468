/* Tests for config: valid hub and committee files, every kind of rejection
 * (with file:line in the message), role rules, the validators, and the
 * write -> load round trip. */
#include "testutil.h"

#include <sys/stat.h>

#include "config.h"
#include "li_limits.h"

#define PK_A "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
#define PK_B "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

static const char HUB_CONF[] = "; the hub\n"
                               "[node]\n"
                               "name = hub\n"
                               "role = hub\n"
                               "scope = street\n"
                               "network = " PK_A "\n"
                               "key_file = keys/hub.key\n"
                               "replica = data/street.db\n"
                               "\n"
                               "[sync]\n"
                               "listen = tcp://0.0.0.0:7700   ; all interfaces\n"
                               "seal_interval_ms = 250\n"
                               "batch_rows_max = 100\n"
                               "batch_bytes_max = 65536\n"
                               "window = 8\n"
                               "heartbeat_ms = 1500\n"
                               "peer_timeout_ms = 9000\n"
                               "max_clock_skew_ms = 60000\n"
                               "[log]\n"
                               "level = debug\n";

static const char COMMITTEE_CONF[] = "[node]\n"
                                     "name = c07\n"
                                     "role = committee\n"
                                     "scope = c07\n"
                                     "network = " PK_A "\n"
                                     "[sync]\n"
                                     "hub = tcp://127.0.0.1:7700\n";

static void s_pk(const char *text, uint8_t pk[LI_PK_BYTES]) {
  assert_int_equal(li_pk_from_text(text, pk, NULL), LI_OK);
}

static void test_valid_hub(void **state) {
  (void)state;
  li_config c;
  li_errbuf eb = {{0}};
  li_err e = li_config_parse(&c, HUB_CONF, "hub.conf", &eb);
  if (e != LI_OK)
    fail_msg("%s", eb.msg);
  uint8_t a[LI_PK_BYTES];
  s_pk(PK_A, a);
  assert_string_equal(c.name, "hub");
  assert_int_equal(c.role, LI_ROLE_HUB);
  assert_string_equal(c.scope, "street");
  assert_memory_equal(c.network, a, LI_PK_BYTES);
  assert_memory_equal(c.hub_key, a, LI_PK_BYTES);
  assert_string_equal(c.key_file, "keys/hub.key");
  assert_string_equal(c.replica, "data/street.db");
  assert_string_equal(c.listen, "tcp://0.0.0.0:7700");
  assert_string_equal(c.hub, "");
  assert_int_equal(c.seal_interval_ms, 250);
  assert_int_equal(c.batch_rows_max, 100);
  assert_int_equal(c.batch_bytes_max, 65536);
  assert_int_equal(c.window, 8);
  assert_int_equal(c.heartbeat_ms, 1500);
  assert_int_equal(c.peer_timeout_ms, 9000);
  assert_int_equal(c.max_clock_skew_ms, 60000);
  assert_int_equal(c.log_level, LI_LOG_DEBUG);
}

static void test_valid_committee_defaults(void **state) {
  (void)state;
  li_config c, d;
  li_errbuf eb = {{0}};
  assert_int_equal(li_config_parse(&c, COMMITTEE_CONF, "c.conf", &eb), LI_OK);
  li_config_defaults(&d);
  uint8_t a[LI_PK_BYTES];
  s_pk(PK_A, a);
  assert_int_equal(c.role, LI_ROLE_COMMITTEE);
  assert_string_equal(c.scope, "c07");
  assert_string_equal(c.hub, "tcp://127.0.0.1:7700");
  assert_memory_equal(c.hub_key, a, LI_PK_BYTES); /* defaults to network */
  assert_string_equal(c.key_file, "node.key");
  assert_string_equal(c.replica, "replica.db");
  assert_int_equal(c.seal_interval_ms, d.seal_interval_ms);
  assert_int_equal(c.batch_rows_max, LI_BATCH_ROWS_DEFAULT);
  assert_int_equal(c.batch_bytes_max, LI_BATCH_BYTES_DEFAULT);
  assert_int_equal(c.window, LI_WINDOW_DEFAULT);
  assert_int_equal(c.max_clock_skew_ms, LI_SKEW_DEFAULT_MS);
  assert_int_equal(c.log_level, LI_LOG_INFO);

  /* An explicit hub_key wins; CRLF line ends and '#' comments are fine. */
  const char *text = "# committee\r\n[node]\r\nname=C-07_b\r\nrole=committee\r\nscope=c07-b\r\n"
                     "network=" PK_A "\r\n[sync]\r\nhub_key=" PK_B "\r\n"
                     "hub = ipc:///run/linli/hub.sock\r\n";
  assert_int_equal(li_config_parse(&c, text, "c.conf", &eb), LI_OK);
  uint8_t b[LI_PK_BYTES];
  s_pk(PK_B, b);
  assert_memory_equal(c.hub_key, b, LI_PK_BYTES);
  assert_string_equal(c.name, "C-07_b");
  assert_string_equal(c.hub, "ipc:///run/linli/hub.sock");
}

/* Parses text and expects LI_ERR_CONFIG with want inside the message. */
static void s_reject(const char *text, const char *want) {
  li_config c;
  li_config_defaults(&c);
  snprintf(c.name, sizeof c.name, "sentinel");
  li_errbuf eb = {{0}};
  li_err e = li_config_parse(&c, text, "t.conf", &eb);
  if (e != LI_ERR_CONFIG || strstr(eb.msg, want) == NULL)
    fail_msg("expected \"%s\", got %s: \"%s\"\n--- for ---\n%s", want, li_errname(e), eb.msg,
             text);
  assert_string_equal(c.name, "sentinel"); /* untouched on failure */
}

static void test_unknown_key_and_section(void **state) {
  (void)state;
  char text[2048];
  snprintf(text, sizeof text, "%s%s", COMMITTEE_CONF, "colour = blue\n");
  s_reject(text, "t.conf:8: unknown key 'colour' in section [sync]");
  snprintf(text, sizeof text, "%s%s", COMMITTEE_CONF, "[extra]\nx = 1\n");
  s_reject(text, "t.conf:9: unknown section [extra]");
  s_reject("name = c07\n[node]\n", "t.conf:1: key 'name' is outside any section");
  snprintf(text, sizeof text, "[node]\nName = c07\n%s", COMMITTEE_CONF + 7);
  s_reject(text, "t.conf:2: unknown key 'Name' in section [node]");
  snprintf(text, sizeof text, "[log]\nlevel = info\nlevel = debug\n%s", COMMITTEE_CONF);
  s_reject(text, "t.conf:3: key 'level' in section [log] is set twice (first on line 2)");
  /* A continuation line would be a silent second value: refused too. */
  snprintf(text, sizeof text, "%s%s", COMMITTEE_CONF, "window = 4\n  5\n");
  s_reject(text, "t.conf:9: key 'window' in section [sync] is set twice");
}

static void test_syntax_errors(void **state) {
  (void)state;
  char text[4096];
  snprintf(text, sizeof text, "%s%s", COMMITTEE_CONF, "just words\n");
  s_reject(text, "t.conf:8: syntax error");
  snprintf(text, sizeof text, "%s%s", COMMITTEE_CONF, "[sync\n");
  s_reject(text, "t.conf:8: syntax error");
  char long_line[400];
  memset(long_line, 'a', sizeof long_line);
  memcpy(long_line, "; ", 2);
  long_line[sizeof long_line - 1] = '\0';
  snprintf(text, sizeof text, "%s%s\n", COMMITTEE_CONF, long_line);
  s_reject(text, "t.conf:8: line is too long");
}

static void test_bad_values(void **state) {
  (void)state;
  static const struct {
    const char *line;
    const char *want;
  } table[] = {
      {"[node]\nname = bad name\n", "t.conf:2: name 'bad name'"},
      {"[node]\nname = abcdefghijklmnopqrstuvwxyz0123456\n", "t.conf:2: name"},
      {"[node]\nname =\n", "t.conf:2: name ''"},
      {"[node]\nrole = server\n", "t.conf:2: role 'server' must be 'committee' or 'hub'"},
      {"[node]\nscope = C07\n", "t.conf:2: scope 'C07'"},
      {"[node]\nnetwork = nope\n", "t.conf:2: network: public key"},
      {"[sync]\nhub_key = " PK_A "x\n", "t.conf:2: hub_key: public key"},
      {"[node]\nkey_file =\n", "t.conf:2: key_file must be a path"},
      {"[node]\nreplica = a\tb\n", "t.conf:2: replica must be a path"},
      {"[log]\nlevel = loud\n", "t.conf:2: level 'loud'"},
      {"[sync]\nhub = http://x:1\n", "t.conf:2: hub 'http://x:1' must be tcp://HOST:PORT"},
      {"[sync]\nhub = tcp://x:0\n", "t.conf:2: hub"},
      {"[sync]\nhub = tcp://x:65536\n", "t.conf:2: hub"},
      {"[sync]\nhub = tcp://:7700\n", "t.conf:2: hub"},
      {"[sync]\nhub = tcp://host\n", "t.conf:2: hub"},
      {"[sync]\nhub = ipc://\n", "t.conf:2: hub"},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    s_reject(table[i].line, table[i].want);
}

static void test_bad_numbers(void **state) {
  (void)state;
  static const char *const bad[] = {"abc", "-1", "+5",  "0x10", "1e3",  "5 5",
                                    "",    "9",  "3600001", "99999999999999999999"};
  char text[512];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(text, sizeof text, "[sync]\nseal_interval_ms = %s\n", bad[i]);
    s_reject(text, "t.conf:2: seal_interval_ms must be a whole number from 10 to 3600000");
  }
}

/* Every number key takes its bounds and refuses one past each. */
static void test_number_bounds(void **state) {
  (void)state;
  static const struct {
    const char *key;
    unsigned long long min, max;
  } table[] = {
      {"seal_interval_ms", 10, 3600000},
      {"batch_rows_max", 1, LI_BATCH_ROWS_MAX},
      {"batch_bytes_max", 1024, LI_BATCH_BYTES_MAX},
      {"window", 1, LI_WINDOW_MAX},
      {"heartbeat_ms", 100, 600000},
      {"peer_timeout_ms", 500, 3600000},
      {"max_clock_skew_ms", LI_SKEW_MIN_MS, LI_SKEW_MAX_MS},
  };
  char text[1024];
  li_config c;
  li_errbuf eb;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    unsigned long long ok[] = {table[i].min, table[i].max};
    unsigned long long bad[] = {table[i].min - 1, table[i].max + 1};
    for (int j = 0; j < 2; j++) {
      snprintf(text, sizeof text, "%s%s = %llu\n", COMMITTEE_CONF, table[i].key, ok[j]);
      if (li_config_parse(&c, text, "t.conf", &eb) != LI_OK)
        fail_msg("%s", eb.msg);
      snprintf(text, sizeof text, "%s%s = %llu\n", COMMITTEE_CONF, table[i].key, bad[j]);
      s_reject(text, "must be a whole number");
    }
  }
  snprintf(text, sizeof text, "%swindow = 7\nmax_clock_skew_ms = %u\n", COMMITTEE_CONF,
           LI_SKEW_MAX_MS);
  assert_int_equal(li_config_parse(&c, text, "t.conf", &eb), LI_OK);
  assert_int_equal(c.window, 7);
  assert_int_equal(c.max_clock_skew_ms, LI_SKEW_MAX_MS);
}

static void test_missing_required(void **state) {
  (void)state;
  static const char *const keys[] = {"name", "role", "scope", "network"};
  char text[1024], want[128];
  for (size_t i = 0; i < 4; i++) {
    /* COMMITTEE_CONF without the line that sets keys[i]. */
    text[0] = '\0';
    const char *p = COMMITTEE_CONF;
    while (*p) {
      const char *nl = strchr(p, '\n');
      size_t len = (size_t)(nl - p) + 1;
      if (strncmp(p, keys[i], strlen(keys[i])) != 0 || p[strlen(keys[i])] != ' ')
        strncat(text, p, len);
      p += len;
    }
    snprintf(want, sizeof want, "t.conf: missing required key '%s' in section [node]",
             keys[i]);
    s_reject(text, want);
  }
  s_reject("", "missing required key 'name'");
}

static void test_role_rules(void **state) {
  (void)state;
  s_reject("[node]\nname = c\nrole = committee\nscope = street\nnetwork = " PK_A "\n",
           "t.conf:4: a committee's scope");
  s_reject("[node]\nname = h\nrole = hub\nscope = c07\nnetwork = " PK_A "\n",
           "t.conf:4: a hub's scope must be 'street'");
  char text[1024];
  snprintf(text, sizeof text, "%slisten = tcp://*:7700\n", COMMITTEE_CONF);
  s_reject(text, "t.conf:8: key 'listen' is for a hub only");
  snprintf(text, sizeof text, "%s[sync]\nhub = tcp://h:1\n", HUB_CONF);
  s_reject(text, "key 'hub' is for a committee only");
  snprintf(text, sizeof text, "%s[sync]\nhub_key = " PK_B "\n", HUB_CONF);
  s_reject(text, "key 'hub_key' is for a committee only");
}

static void test_validators(void **state) {
  (void)state;
  static const char *const good_ep[] = {
      "tcp://127.0.0.1:7700", "tcp://*:1", "tcp://hub.example.org:65535", "tcp://[::1]:7700",
      "tcp://eth0:80",        "ipc:///tmp/x.sock", "ipc://@abstract",
  };
  static const char *const bad_ep[] = {
      "", "tcp://", "tcp://h:", "tcp://h:0", "tcp://h:65536", "tcp://h:07700", "tcp://h:-1",
      "tcp://h: 80", "tcp://a b:80", "tcp://[zz]:80", "tcp://[]:80", "udp://h:1", "TCP://h:1",
      "ipc://", "ipc://a b", "ipc://a;b", "inproc://x", "tcp://h:1/x",
  };
  for (size_t i = 0; i < sizeof good_ep / sizeof good_ep[0]; i++)
    assert_true(li_valid_endpoint(good_ep[i]));
  for (size_t i = 0; i < sizeof bad_ep / sizeof bad_ep[0]; i++)
    if (li_valid_endpoint(bad_ep[i]))
      fail_msg("accepted endpoint '%s'", bad_ep[i]);
  char long_ep[LI_ENDPOINT_MAX + 8];
  memset(long_ep, 'a', sizeof long_ep);
  memcpy(long_ep, "ipc://", 6);
  long_ep[LI_ENDPOINT_MAX] = '\0'; /* 256 characters: one too many */
  assert_false(li_valid_endpoint(long_ep));
  long_ep[LI_ENDPOINT_MAX - 1] = '\0';
  assert_true(li_valid_endpoint(long_ep));
  assert_false(li_valid_endpoint(NULL));

  assert_true(li_valid_name("c07"));
  assert_true(li_valid_name("Hub_1-x"));
  assert_true(li_valid_name("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
  assert_false(li_valid_name("abcdefghijklmnopqrstuvwxyz0123456"));
  assert_false(li_valid_name(""));
  assert_false(li_valid_name("a.b"));
  assert_false(li_valid_name("é"));
  assert_false(li_valid_name(NULL));
  assert_true(li_valid_scope("street"));
  assert_true(li_valid_scope("c07_a-b"));
  assert_false(li_valid_scope("C07"));
  assert_false(li_valid_scope(""));
  assert_false(li_valid_scope("abcdefghijklmnopqrstuvwxyz0123456"));
  assert_false(li_valid_scope("a b"));

  assert_string_equal(li_role_name(LI_ROLE_HUB), "hub");
  assert_string_equal(li_role_name(LI_ROLE_COMMITTEE), "committee");
  assert_string_equal(li_role_name((li_role)9), "unknown");
}

static void s_assert_config_equal(const li_config *a, const li_config *b) {
  assert_string_equal(a->name, b->name);
  assert_int_equal(a->role, b->role);
  assert_string_equal(a->scope, b->scope);
  assert_memory_equal(a->network, b->network, LI_PK_BYTES);
  assert_string_equal(a->key_file, b->key_file);
  assert_string_equal(a->replica, b->replica);
  assert_string_equal(a->listen, b->listen);
  assert_string_equal(a->hub, b->hub);
  assert_memory_equal(a->hub_key, b->hub_key, LI_PK_BYTES);
  assert_int_equal(a->seal_interval_ms, b->seal_interval_ms);
  assert_int_equal(a->batch_rows_max, b->batch_rows_max);
  assert_int_equal(a->batch_bytes_max, b->batch_bytes_max);
  assert_int_equal(a->window, b->window);
  assert_int_equal(a->heartbeat_ms, b->heartbeat_ms);
  assert_int_equal(a->peer_timeout_ms, b->peer_timeout_ms);
  assert_int_equal(a->max_clock_skew_ms, b->max_clock_skew_ms);
  assert_int_equal(a->log_level, b->log_level);
}

static void test_round_trip(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_tmpdir(dir);
  li_errbuf eb = {{0}};
  li_config in[2], out;
  assert_int_equal(li_config_parse(&in[0], HUB_CONF, "hub.conf", &eb), LI_OK);
  assert_int_equal(li_config_parse(&in[1], COMMITTEE_CONF, "c.conf", &eb), LI_OK);
  s_pk(PK_B, in[1].hub_key);
  in[1].log_level = LI_LOG_WARN;
  in[1].max_clock_skew_ms = LI_SKEW_MAX_MS;
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/linli%d.conf", dir, i);
    if (li_config_write(&in[i], path, &eb) != LI_OK)
      fail_msg("%s", eb.msg);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    mode_t mask = umask(022);
    umask(mask);
    assert_int_equal(st.st_mode & 0777, 0644 & ~mask);
    if (li_config_load(&out, path, &eb) != LI_OK)
      fail_msg("%s", eb.msg);
    s_assert_config_equal(&in[i], &out);
    assert_int_equal(li_config_write(&in[i], path, &eb), LI_ERR_EXISTS);
  }
  /* A committee without a hub endpoint writes no 'hub' line and loads back. */
  in[1].hub[0] = '\0';
  snprintf(path, sizeof path, "%s/nohub.conf", dir);
  assert_int_equal(li_config_write(&in[1], path, &eb), LI_OK);
  assert_int_equal(li_config_load(&out, path, &eb), LI_OK);
  s_assert_config_equal(&in[1], &out);
  /* Values that would not load back are refused before anything is written. */
  snprintf(in[1].replica, sizeof in[1].replica, "a ;b");
  snprintf(path, sizeof path, "%s/bad.conf", dir);
  assert_int_equal(li_config_write(&in[1], path, &eb), LI_ERR_CONFIG);
  assert_int_equal(access(path, F_OK), -1);
  memset(in[1].replica, 'r', 300);
  in[1].replica[300] = '\0';
  assert_int_equal(li_config_write(&in[1], path, &eb), LI_ERR_CONFIG);
  tu_rmdir(dir);
}

static void s_write(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void test_load_files(void **state) {
  (void)state;
  char dir[256], path[300];
  tu_tmpdir(dir);
  li_config c;
  li_errbuf eb = {{0}};
  snprintf(path, sizeof path, "%s/missing.conf", dir);
  assert_int_equal(li_config_load(&c, path, &eb), LI_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "does not exist"));
  assert_non_null(strstr(eb.msg, path));
  assert_int_equal(li_config_load(&c, dir, &eb), LI_ERR_CONFIG); /* a directory */

  /* Exactly the limit loads; one byte more is refused. */
  size_t cap = LI_CONFIG_BYTES_MAX + 1;
  char *big = malloc(cap + 1);
  assert_non_null(big);
  size_t len = strlen(COMMITTEE_CONF);
  memcpy(big, COMMITTEE_CONF, len);
  while (len < LI_CONFIG_BYTES_MAX) {
    size_t n = LI_CONFIG_BYTES_MAX - len < 60 ? LI_CONFIG_BYTES_MAX - len : 60;
    memset(big + len, '#', n);
    big[len + n - 1] = '\n';
    len += n;
  }
  snprintf(path, sizeof path, "%s/limit.conf", dir);
  s_write(path, big, len);
  if (li_config_load(&c, path, &eb) != LI_OK)
    fail_msg("%s", eb.msg);
  big[len] = '\n';
  snprintf(path, sizeof path, "%s/big.conf", dir);
  s_write(path, big, len + 1);
  assert_int_equal(li_config_load(&c, path, &eb), LI_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, "65537 bytes; the limit is 65536"));
  free(big);

  char nul[sizeof COMMITTEE_CONF + 8];
  memcpy(nul, COMMITTEE_CONF, sizeof COMMITTEE_CONF);
  nul[20] = '\0';
  snprintf(path, sizeof path, "%s/nul.conf", dir);
  s_write(path, nul, sizeof COMMITTEE_CONF - 1);
  assert_int_equal(li_config_load(&c, path, &eb), LI_ERR_CONFIG);
  assert_non_null(strstr(eb.msg, ":3: contains a NUL byte"));

  snprintf(path, sizeof path, "%s/bad.conf", dir);
  s_write(path, "[node]\nname = x\nfoo = 1\n", 24);
  assert_int_equal(li_config_load(&c, path, &eb), LI_ERR_CONFIG);
  char want[400];
  snprintf(want, sizeof want, "%s:3: unknown key 'foo' in section [node]", path);
  assert_string_equal(eb.msg, want);
  tu_rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_hub),
      cmocka_unit_test(test_valid_committee_defaults),
      cmocka_unit_test(test_unknown_key_and_section),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_bad_numbers),
      cmocka_unit_test(test_number_bounds),
      cmocka_unit_test(test_missing_required),
      cmocka_unit_test(test_role_rules),
      cmocka_unit_test(test_validators),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_load_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
