/* Tests of node/node.c: li_node_init and li_node_open of a node directory
 * (linli.conf, the key file, replica.db), for a hub and a committee, and
 * each way they refuse.
 *
 * What the other tests do not cover: every test builds its nodes with
 * tu_node_new and never looks at what init wrote, and test_hostile_table
 * feeds open a few damaged config and key files (an unknown key, a bad
 * endpoint, a missing, unreadable, garbage or world-readable key). Here:
 * the files init writes (modes, the config's fields, the hub's own roster
 * row and its sealed commit); every refusal of init, table-driven, each
 * leaving nothing behind; init over an existing node, key or replica
 * without touching them; open with no config, every key mode that lets
 * group or others in (and the owner-only ones that pass), a missing or
 * foreign replica.db, and a key, replica or config of another node. */
#include "testnode.h"

#include <sys/stat.h>

#include "config.h"
#include "li_limits.h"
#include "replica.h"
#include "roster.h"

typedef struct {
  char dir[256];
  li_identity hub;              /* a network key for committees */
  char hub_key[LI_PK_TEXT_LEN + 1];
} fx;

static int fx_setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  tu_tmpdir(f->dir);
  assert_int_equal(li_identity_generate(&f->hub), LI_OK);
  li_pk_to_text(f->hub.pk, f->hub_key);
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  fx *f = *state;
  li_identity_wipe(&f->hub);
  tu_rmdir(f->dir);
  free(f);
  return 0;
}

static void s_sub(fx *f, const char *name, char *out) { snprintf(out, 300, "%s/%s", f->dir, name); }

static bool s_exists(const char *dir, const char *file) {
  char p[400];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  return access(p, F_OK) == 0;
}

static li_err s_init(const char *dir, li_role role, const char *name, const char *scope, const char *hub_key,
                     li_errbuf *eb) {
  li_node_init_opts o = {.role = role, .name = name, .scope = scope, .hub_key = hub_key};
  memset(eb, 0, sizeof *eb);
  return li_node_init(dir, &o, eb);
}

static void s_init_ok(const char *dir, li_role role, const char *name, const char *scope, const char *hub_key) {
  li_errbuf eb;
  li_err e = s_init(dir, role, name, scope, hub_key, &eb);
  if (e) fail_msg("init %s: %s (%s)", dir, li_errname(e), eb.msg);
}

static li_err s_open(const char *dir, li_errbuf *eb) {
  li_node n;
  memset(eb, 0, sizeof *eb);
  li_err e = li_node_open(&n, dir, eb);
  if (e == LI_OK) li_node_close(&n);
  return e;
}

/* ---- init and open ---- */

static void test_init_open_hub(void **state) {
  fx *f = *state;
  char d[300];
  s_sub(f, "deep/er/hub", d); /* parents are made */
  li_node_init_opts o = {.role = LI_ROLE_HUB, .name = "hub", .listen = "tcp://0.0.0.0:7700"};
  li_errbuf eb = {{0}};
  assert_int_equal(li_node_init(d, &o, &eb), LI_OK);
  char p[400];
  struct stat st;
  snprintf(p, sizeof p, "%s/node.key", d);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, LI_KEY_FILE_MODE);
  assert_true(s_exists(d, "linli.conf") && s_exists(d, "replica.db"));
  li_node n;
  assert_int_equal(li_node_open(&n, d, &eb), LI_OK);
  assert_int_equal(n.cfg.role, LI_ROLE_HUB);
  assert_string_equal(n.cfg.name, "hub");
  assert_string_equal(n.cfg.scope, "street");
  assert_string_equal(n.cfg.listen, "tcp://0.0.0.0:7700");
  /* the hub's key is the network id */
  assert_memory_equal(n.cfg.network, n.id.pk, LI_PK_BYTES);
  assert_memory_equal(n.r->network, n.id.pk, LI_PK_BYTES);
  assert_memory_equal(n.r->self, n.id.pk, LI_PK_BYTES);
  assert_int_equal(n.r->role, LI_ROLE_HUB);
  assert_ptr_equal(n.r->id, &n.id);
  /* its own roster row, sealed as street#1 */
  li_member m;
  assert_int_equal(li_roster_by_key(n.r, n.id.pk, &m, &eb), LI_OK);
  assert_string_equal(m.name, "hub");
  assert_int_equal(m.role, LI_ROLE_HUB);
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(n.r->db, "SELECT count(*), max(seq) FROM linli_log WHERE scope='street'", -1, &q, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 1);
  assert_int_equal(sqlite3_column_int(q, 1), 1);
  sqlite3_finalize(q);
  /* paths named in the config: relative to the node directory, absolute as they are */
  char out[LI_PATH_MAX + 64];
  li_node_path(&n, "replica.db", out, sizeof out);
  snprintf(p, sizeof p, "%s/replica.db", d);
  assert_string_equal(out, p);
  li_node_path(&n, "/var/lib/x.db", out, sizeof out);
  assert_string_equal(out, "/var/lib/x.db");
  li_node_close(&n);
  li_node_close(&n); /* safe twice */
  /* opened again: the same identity */
  li_node n2;
  assert_int_equal(li_node_open(&n2, d, &eb), LI_OK);
  assert_int_equal(li_roster_by_key(n2.r, n2.id.pk, &m, &eb), LI_OK);
  li_node_close(&n2);
}

static void test_init_open_committee(void **state) {
  fx *f = *state;
  char d[300];
  s_sub(f, "c07", d);
  li_node_init_opts o = {.role = LI_ROLE_COMMITTEE, .name = "C07-pc1", .scope = "c07", .hub_key = f->hub_key,
                         .hub = "tcp://hub.example:7700"};
  li_errbuf eb = {{0}};
  assert_int_equal(li_node_init(d, &o, &eb), LI_OK);
  li_node n;
  assert_int_equal(li_node_open(&n, d, &eb), LI_OK);
  assert_int_equal(n.cfg.role, LI_ROLE_COMMITTEE);
  assert_string_equal(n.cfg.name, "C07-pc1");
  assert_string_equal(n.cfg.scope, "c07");
  assert_string_equal(n.cfg.hub, "tcp://hub.example:7700");
  assert_memory_equal(n.cfg.network, f->hub.pk, LI_PK_BYTES);
  assert_memory_equal(n.cfg.hub_key, f->hub.pk, LI_PK_BYTES);
  assert_memory_equal(n.r->network, f->hub.pk, LI_PK_BYTES);
  assert_memory_equal(n.r->self, n.id.pk, LI_PK_BYTES);
  assert_memory_not_equal(n.id.pk, f->hub.pk, LI_PK_BYTES);
  assert_string_equal(n.r->scope, "c07");
  /* a committee seals nothing at init: it holds no commit */
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(n.r->db, "SELECT count(*) FROM linli_log", -1, &q, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(q, 0), 0);
  sqlite3_finalize(q);
  li_node_close(&n);
}

/* ---- init refused ---- */

static char s_long_name[LI_NAME_MAX + 2];
static char s_long_dir[LI_PATH_MAX + 8];

typedef struct {
  const char *name;
  li_node_init_opts o;   /* hub_key "HUB" is replaced by a valid key */
  li_err want;
  const char *msg_has;
} s_init_case;

static const s_init_case s_init_cases[] = {
    {"no_name", {.role = LI_ROLE_HUB}, LI_ERR_USAGE, "--name"},
    {"empty_name", {.role = LI_ROLE_HUB, .name = ""}, LI_ERR_USAGE, "--name"},
    {"name_with_space", {.role = LI_ROLE_HUB, .name = "my hub"}, LI_ERR_USAGE, "--name"},
    {"name_too_long", {.role = LI_ROLE_HUB, .name = s_long_name}, LI_ERR_USAGE, "--name"},
    {"hub_scope_not_street", {.role = LI_ROLE_HUB, .name = "hub", .scope = "c07"}, LI_ERR_USAGE, "'street'"},
    {"hub_with_hub_key", {.role = LI_ROLE_HUB, .name = "hub", .hub_key = "HUB"}, LI_ERR_USAGE, "--hub-key"},
    {"hub_with_hub_endpoint", {.role = LI_ROLE_HUB, .name = "hub", .hub = "tcp://h:1"}, LI_ERR_USAGE, "--hub"},
    {"hub_bad_listen", {.role = LI_ROLE_HUB, .name = "hub", .listen = "udp://x"}, LI_ERR_USAGE, "--listen"},
    {"committee_no_scope", {.role = LI_ROLE_COMMITTEE, .name = "c07", .hub_key = "HUB"}, LI_ERR_USAGE, "--scope"},
    {"committee_scope_uppercase", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "C07", .hub_key = "HUB"}, LI_ERR_USAGE,
     "--scope"},
    {"committee_scope_street", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "street", .hub_key = "HUB"}, LI_ERR_USAGE,
     "not 'street'"},
    {"committee_no_hub_key", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "c07"}, LI_ERR_USAGE, "--hub-key"},
    {"committee_bad_hub_key", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "c07", .hub_key = "not-a-key"}, LI_ERR_KEY,
     NULL},
    {"committee_with_listen", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "c07", .hub_key = "HUB", .listen = "tcp://0.0.0.0:1"},
     LI_ERR_USAGE, "--listen"},
    {"committee_bad_hub_endpoint", {.role = LI_ROLE_COMMITTEE, .name = "c07", .scope = "c07", .hub_key = "HUB", .hub = "hub:7700"},
     LI_ERR_USAGE, "--hub"},
    /* after the directory, the key and the replica were made: all removed again */
    {"schema_does_not_load", {.role = LI_ROLE_HUB, .name = "hub", .schema_sql = "CREATE TABLE broken("}, LI_ERR_CONFIG,
     "schema does not load"},
    {"schema_untrackable", {.role = LI_ROLE_HUB, .name = "hub", .schema_sql = "CREATE TABLE t(a TEXT, scope TEXT);"},
     LI_ERR_TRACK, "PRIMARY KEY"},
};

static void test_init_refused(void **state) {
  fx *f = *state;
  memset(s_long_name, 'a', LI_NAME_MAX + 1);
  for (size_t i = 0; i < sizeof s_init_cases / sizeof s_init_cases[0]; i++) {
    const s_init_case *c = &s_init_cases[i];
    li_node_init_opts o = c->o;
    if (o.hub_key && strcmp(o.hub_key, "HUB") == 0) o.hub_key = f->hub_key;
    char d[300];
    s_sub(f, c->name, d);
    li_errbuf eb = {{0}};
    li_err got = li_node_init(d, &o, &eb);
    printf("init %-28s %s: %s\n", c->name, li_errname(got), eb.msg);
    if (got != c->want) fail_msg("case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(got), eb.msg);
    if (!eb.msg[0]) fail_msg("case %s: no message", c->name);
    if (c->msg_has && !strstr(eb.msg, c->msg_has)) fail_msg("case %s: the message lacks \"%s\": %s", c->name, c->msg_has, eb.msg);
    /* nothing left behind: no config, key or replica (WAL files included) */
    static const char *const files[] = {"linli.conf", "node.key", "replica.db", "replica.db-wal", "replica.db-shm"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++)
      if (s_exists(d, files[k])) fail_msg("case %s: %s left behind", c->name, files[k]);
    /* and the directory can then take a node */
    if (got != LI_ERR_USAGE && got != LI_ERR_KEY) s_init_ok(d, LI_ROLE_HUB, "hub", NULL, NULL);
  }
  /* a directory path over the limit, and a file where the directory should be */
  memset(s_long_dir, 'd', sizeof s_long_dir - 1);
  s_long_dir[0] = '/';
  li_errbuf eb;
  assert_int_equal(s_init(s_long_dir, LI_ROLE_HUB, "hub", NULL, NULL, &eb), LI_ERR_USAGE);
  char file[300], under[400];
  s_sub(f, "plainfile", file);
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  snprintf(under, sizeof under, "%s/node", file);
  li_err e = s_init(under, LI_ROLE_HUB, "hub", NULL, NULL, &eb);
  printf("init under a plain file: %s: %s\n", li_errname(e), eb.msg);
  assert_int_equal(e, LI_ERR_IO);
  assert_non_null(strstr(eb.msg, "plainfile"));
}

/* Init refuses a directory holding a node, or only its key or replica,
 * and leaves what is there as it was. */
static void test_init_existing(void **state) {
  fx *f = *state;
  char d[300], p[400];
  s_sub(f, "hub", d);
  s_init_ok(d, LI_ROLE_HUB, "hub", NULL, NULL);
  snprintf(p, sizeof p, "%s/node.key", d);
  li_identity before, after;
  li_errbuf eb;
  assert_int_equal(li_identity_load(&before, p, &eb), LI_OK);
  assert_int_equal(s_init(d, LI_ROLE_HUB, "hub", NULL, NULL, &eb), LI_ERR_EXISTS);
  assert_non_null(strstr(eb.msg, "already holds a node"));
  assert_int_equal(s_init(d, LI_ROLE_COMMITTEE, "c07", "c07", f->hub_key, &eb), LI_ERR_EXISTS);
  assert_int_equal(li_identity_load(&after, p, &eb), LI_OK);
  assert_memory_equal(before.sk, after.sk, LI_SK_BYTES);
  assert_int_equal(s_open(d, &eb), LI_OK);
  /* only a key file, or only a replica */
  static const char *const alone[] = {"node.key", "replica.db"};
  for (int i = 0; i < 2; i++) {
    char d2[300], src[400], dst[400], cmd[900];
    snprintf(d2, sizeof d2, "%s/only-%d", f->dir, i);
    assert_int_equal(mkdir(d2, 0700), 0);
    snprintf(src, sizeof src, "%s/%s", d, alone[i]);
    snprintf(dst, sizeof dst, "%s/%s", d2, alone[i]);
    snprintf(cmd, sizeof cmd, "cp -p '%s' '%s'", src, dst);
    assert_int_equal(system(cmd), 0);
    struct stat st0, st1;
    assert_int_equal(stat(dst, &st0), 0);
    assert_int_equal(s_init(d2, LI_ROLE_HUB, "hub", NULL, NULL, &eb), LI_ERR_EXISTS);
    assert_non_null(strstr(eb.msg, "not overwriting"));
    assert_int_equal(stat(dst, &st1), 0);
    assert_int_equal(st0.st_size, st1.st_size);
    assert_false(s_exists(d2, "linli.conf"));
  }
  li_identity_wipe(&before);
  li_identity_wipe(&after);
}

/* ---- open refused ---- */

static void test_open_not_a_node(void **state) {
  fx *f = *state;
  li_errbuf eb;
  char d[300];
  s_sub(f, "empty", d);
  assert_int_equal(mkdir(d, 0700), 0);
  assert_int_equal(s_open(d, &eb), LI_ERR_NOT_INIT);
  assert_non_null(strstr(eb.msg, "no linli.conf"));
  s_sub(f, "nowhere", d);
  assert_int_equal(s_open(d, &eb), LI_ERR_NOT_INIT);
}

/* Every mode that lets group or others read or write the key is refused,
 * saying which chmod to run; owner-only modes pass. */
static void test_open_key_modes(void **state) {
  fx *f = *state;
  char d[300], p[400];
  s_sub(f, "c07", d);
  s_init_ok(d, LI_ROLE_COMMITTEE, "c07", "c07", f->hub_key);
  snprintf(p, sizeof p, "%s/node.key", d);
  static const struct {
    mode_t mode;
    li_err want;
  } modes[] = {{0600, LI_OK},          {0400, LI_OK},          {0700, LI_OK},          {0640, LI_ERR_KEY_PERMS},
               {0604, LI_ERR_KEY_PERMS}, {0620, LI_ERR_KEY_PERMS}, {0602, LI_ERR_KEY_PERMS}, {0610, LI_ERR_KEY_PERMS},
               {0601, LI_ERR_KEY_PERMS}, {0666, LI_ERR_KEY_PERMS}, {0644, LI_ERR_KEY_PERMS}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    assert_int_equal(chmod(p, modes[i].mode), 0);
    li_errbuf eb;
    li_err got = s_open(d, &eb);
    if (got != modes[i].want) fail_msg("mode %04o: expected %s, got %s (%s)", (unsigned)modes[i].mode, li_errname(modes[i].want), li_errname(got), eb.msg);
    if (got) assert_non_null(strstr(eb.msg, "chmod 600"));
  }
}

static void s_copy(const char *from_dir, const char *to_dir, const char *file) {
  char cmd[900];
  snprintf(cmd, sizeof cmd, "cp -p '%s/%s' '%s/%s'", from_dir, file, to_dir, file);
  assert_int_equal(system(cmd), 0);
}

/* Replaces "key = ..." in dir's linli.conf with line. */
static void s_conf_set(const char *dir, const char *key, const char *line) {
  char path[400], tmp[420], buf[1024];
  snprintf(path, sizeof path, "%s/linli.conf", dir);
  snprintf(tmp, sizeof tmp, "%s.new", path);
  FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
  assert_non_null(in);
  assert_non_null(out);
  bool done = false;
  while (fgets(buf, sizeof buf, in)) {
    if (!done && strncmp(buf, key, strlen(key)) == 0 && buf[strlen(key)] == ' ') {
      fprintf(out, "%s\n", line);
      done = true;
    } else {
      fputs(buf, out);
    }
  }
  fclose(in);
  assert_int_equal(fclose(out), 0);
  if (!done) fail_msg("linli.conf has no key %s", key);
  assert_int_equal(rename(tmp, path), 0);
}

typedef struct {
  const char *name;
  void (*alter)(fx *f, const char *dir, const char *other);
  li_err want;
  const char *msg_has;
} s_open_case;

/* `other` is a second committee of scope c08 in the same network */
static void o_key_of_another_node(fx *f, const char *d, const char *other) { s_copy(other, d, "node.key"); }
static void o_replica_of_another_node(fx *f, const char *d, const char *other) { s_copy(other, d, "replica.db"); }
static void o_conf_scope(fx *f, const char *d, const char *other) { s_conf_set(d, "scope", "scope = c08"); }
static void o_conf_network(fx *f, const char *d, const char *other) {
  li_identity x;
  assert_int_equal(li_identity_generate(&x), LI_OK);
  char k[LI_PK_TEXT_LEN + 1], line[100];
  li_pk_to_text(x.pk, k);
  snprintf(line, sizeof line, "network = %s", k);
  s_conf_set(d, "network", line);
  li_identity_wipe(&x);
}
static void o_conf_role(fx *f, const char *d, const char *other) { s_conf_set(d, "role", "role = hub"); }
static void o_no_replica(fx *f, const char *d, const char *other) {
  char p[400];
  snprintf(p, sizeof p, "%s/replica.db", d);
  assert_int_equal(unlink(p), 0);
}
static void o_replica_garbage(fx *f, const char *d, const char *other) {
  char p[400];
  snprintf(p, sizeof p, "%s/replica.db", d);
  FILE *fp = fopen(p, "wb");
  assert_non_null(fp);
  for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, fp);
  fclose(fp);
}
static void o_replica_plain_sqlite(fx *f, const char *d, const char *other) {
  char p[400];
  snprintf(p, sizeof p, "%s/replica.db", d);
  assert_int_equal(unlink(p), 0);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}
static void o_replica_elsewhere(fx *f, const char *d, const char *other) {
  char line[400];
  snprintf(line, sizeof line, "replica = %s/replica.db", other); /* an absolute path to another node's */
  s_conf_set(d, "replica", line);
}

static const s_open_case s_open_cases[] = {
    {"key_of_another_node", o_key_of_another_node, LI_ERR_CONFIG, "do not belong to the same node"},
    {"replica_of_another_node", o_replica_of_another_node, LI_ERR_CONFIG, "do not belong to the same node"},
    {"config_names_another_replica", o_replica_elsewhere, LI_ERR_CONFIG, "do not belong to the same node"},
    {"config_scope_changed", o_conf_scope, LI_ERR_CONFIG, "do not belong to the same node"},
    {"config_network_changed", o_conf_network, LI_ERR_CONFIG, "do not belong to the same node"},
    {"config_role_changed", o_conf_role, LI_ERR_CONFIG, NULL},
    {"no_replica", o_no_replica, LI_ERR_NOT_INIT, "no replica"},
    /* SQLite's own words, without the file's name (reported in issue 8) */
    {"replica_garbage", o_replica_garbage, LI_ERR_DB, "not a database"},
    {"replica_plain_sqlite", o_replica_plain_sqlite, LI_ERR_NOT_INIT, "not a linli replica"},
};

static void test_open_mismatched(void **state) {
  fx *f = *state;
  char other[300];
  s_sub(f, "c08", other);
  s_init_ok(other, LI_ROLE_COMMITTEE, "c08", "c08", f->hub_key);
  for (size_t i = 0; i < sizeof s_open_cases / sizeof s_open_cases[0]; i++) {
    const s_open_case *c = &s_open_cases[i];
    char d[300];
    s_sub(f, c->name, d);
    s_init_ok(d, LI_ROLE_COMMITTEE, "c07", "c07", f->hub_key);
    li_errbuf eb;
    assert_int_equal(s_open(d, &eb), LI_OK); /* the control: fine before */
    c->alter(f, d, other);
    li_err got = s_open(d, &eb);
    printf("open %-30s %s: %s\n", c->name, li_errname(got), eb.msg);
    if (got != c->want) fail_msg("case %s: expected %s, got %s (%s)", c->name, li_errname(c->want), li_errname(got), eb.msg);
    if (!eb.msg[0]) fail_msg("case %s: no message", c->name);
    if (c->msg_has && !strstr(eb.msg, c->msg_has)) fail_msg("case %s: the message lacks \"%s\": %s", c->name, c->msg_has, eb.msg);
  }
  li_errbuf eb;
  assert_int_equal(s_open(other, &eb), LI_OK); /* the other node was only read */
}

int main(void) {
  li_errbuf eb;
  if (li_crypto_init(&eb) != LI_OK) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_open_hub, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_init_open_committee, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_init_refused, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_init_existing, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_not_a_node, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_key_modes, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_open_mismatched, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests_name("node", tests, NULL, NULL);
}
