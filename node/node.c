/* node: init and open of a node directory; roster edits. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hlc.h"
#include "log.h"
#include "roster.h"
#include "seal.h"

void li_node_path(const li_node *n, const char *file, char *out, size_t cap) {
  if (file[0] == '/') snprintf(out, cap, "%s", file);
  else snprintf(out, cap, "%s/%s", n->dir, file);
}

static li_err s_mkdir_p(const char *dir, li_errbuf *eb) {
  char tmp[LI_PATH_MAX];
  if (strlen(dir) >= sizeof tmp) return li_fail(eb, LI_ERR_USAGE, "directory path too long");
  snprintf(tmp, sizeof tmp, "%s", dir);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return li_fail(eb, LI_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
      *p = '/';
    }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return li_fail(eb, LI_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  return LI_OK;
}

/* One function of about 80 lines on purpose: a straight sequence (config,
 * key file, replica, schema, the hub's own roster row and first seal) that
 * shares one cleanup path, which removes what was made when a step fails;
 * split, each part would need the list of what came before it. */
li_err li_node_init(const char *dir, const li_node_init_opts *o, li_errbuf *eb) {
  li_node n;
  memset(&n, 0, sizeof n);
  if (strlen(dir) >= sizeof n.dir - 32) return li_fail(eb, LI_ERR_USAGE, "directory path too long");
  snprintf(n.dir, sizeof n.dir, "%s", dir);
  if (!o->name || !li_valid_name(o->name))
    return li_fail(eb, LI_ERR_USAGE, "--name must be 1-32 characters of A-Z a-z 0-9 _ -");
  const char *scope = o->scope ? o->scope : (o->role == LI_ROLE_HUB ? LI_SCOPE_STREET : NULL);
  if (!scope || !li_valid_scope(scope))
    return li_fail(eb, LI_ERR_USAGE, "--scope must be a committee code of 1-32 characters a-z 0-9 _ -");
  if (o->role == LI_ROLE_HUB && strcmp(scope, LI_SCOPE_STREET) != 0)
    return li_fail(eb, LI_ERR_USAGE, "a hub's scope is 'street'");
  if (o->role == LI_ROLE_COMMITTEE && strcmp(scope, LI_SCOPE_STREET) == 0)
    return li_fail(eb, LI_ERR_USAGE, "a committee's scope is its own code, not 'street'");
  li_config c;
  li_config_defaults(&c);
  snprintf(c.name, sizeof c.name, "%s", o->name);
  c.role = o->role;
  c.cache_mib = li_config_cache_mib_default(o->role);
  snprintf(c.scope, sizeof c.scope, "%s", scope);
  li_err e;
  if (o->role == LI_ROLE_COMMITTEE) {
    if (!o->hub_key)
      return li_fail(eb, LI_ERR_USAGE, "a committee needs --hub-key KEY (run 'linli id' on the hub to print it)");
    if ((e = li_pk_from_text(o->hub_key, c.network, eb))) return e;
    memcpy(c.hub_key, c.network, LI_PK_BYTES);
    if (o->hub) {
      if (!li_valid_endpoint(o->hub)) return li_fail(eb, LI_ERR_USAGE, "--hub: not an endpoint like tcp://HOST:PORT");
      snprintf(c.hub, sizeof c.hub, "%s", o->hub);
    }
    if (o->listen) return li_fail(eb, LI_ERR_USAGE, "--listen is for a hub; a committee takes --hub ENDPOINT");
  } else {
    if (o->hub_key) return li_fail(eb, LI_ERR_USAGE, "a hub's key is the network id; --hub-key is for committees");
    if (o->hub) return li_fail(eb, LI_ERR_USAGE, "--hub is for committees; a hub takes --listen ENDPOINT");
    if (o->listen) {
      if (!li_valid_endpoint(o->listen)) return li_fail(eb, LI_ERR_USAGE, "--listen: not an endpoint like tcp://HOST:PORT");
      snprintf(c.listen, sizeof c.listen, "%s", o->listen);
    }
  }
  if ((e = s_mkdir_p(dir, eb))) return e;
  snprintf(n.conf_path, sizeof n.conf_path, "%s/linli.conf", dir);
  if (access(n.conf_path, F_OK) == 0)
    return li_fail(eb, LI_ERR_EXISTS, "%s already holds a node (linli.conf exists); choose another --dir", dir);
  char keyp[LI_PATH_MAX + 64], dbp[LI_PATH_MAX + 64];
  n.cfg = c;
  li_node_path(&n, c.key_file, keyp, sizeof keyp);
  li_node_path(&n, c.replica, dbp, sizeof dbp);
  if (access(keyp, F_OK) == 0 || access(dbp, F_OK) == 0)
    return li_fail(eb, LI_ERR_EXISTS, "%s already holds a key file or replica; not overwriting them", dir);
  if ((e = li_identity_generate(&n.id))) return li_fail(eb, e, "cannot generate a key");
  if (o->role == LI_ROLE_HUB) {
    memcpy(c.network, n.id.pk, LI_PK_BYTES);
    memcpy(c.hub_key, n.id.pk, LI_PK_BYTES);
  }
  n.cfg = c;
  if ((e = li_identity_save(&n.id, keyp, eb))) goto fail;
  if ((e = li_replica_create(dbp, c.role, c.scope, c.network, n.id.pk, o->schema_sql, &n.r, eb))) goto fail_key;
  n.r->id = &n.id;
  if (o->role == LI_ROLE_HUB) {
    if ((e = li_roster_add_hub(n.r, c.name, n.id.pk, eb)) || (e = li_seal(n.r, li_wall_ms(), NULL, eb))) goto fail_db;
  }
  if ((e = li_config_write(&c, n.conf_path, eb))) goto fail_db;
  li_replica_close(&n.r);
  li_identity_wipe(&n.id);
  return LI_OK;
fail_db:
  li_replica_close(&n.r);
  unlink(dbp);
  {
    char side[LI_PATH_MAX + 80];
    snprintf(side, sizeof side, "%s-wal", dbp);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", dbp);
    unlink(side);
  }
fail_key:
  unlink(keyp);
fail:
  li_identity_wipe(&n.id);
  return e;
}

/* `linli recover` stopped between its replica switch and its key file
 * renames: the replica names the key in KEYFILE.new; put it in place
 * (keeping the old key file) and use it. Anything else is left for the
 * mismatch check. */
static li_err s_finish_recover(li_node *n, li_errbuf *eb) {
  char kp[LI_PATH_MAX + 64], newp[LI_PATH_MAX + 80], oldp[LI_PATH_MAX + 96];
  li_node_path(n, n->cfg.key_file, kp, sizeof kp);
  snprintf(newp, sizeof newp, "%s.new", kp);
  li_identity id;
  li_errbuf tmp;
  if (access(newp, F_OK) != 0 || li_identity_load(&id, newp, &tmp) != LI_OK) return LI_OK;
  if (memcmp(id.pk, n->r->self, LI_PK_BYTES) != 0) {
    li_identity_wipe(&id);
    return LI_OK;
  }
  snprintf(oldp, sizeof oldp, "%s.old-interrupted-%lld", kp, (long long)time(NULL));
  if ((access(kp, F_OK) == 0 && rename(kp, oldp) != 0) || rename(newp, kp) != 0) {
    li_identity_wipe(&id);
    return li_fail(eb, LI_ERR_IO, "cannot put the recovered key %s in place: %s", newp, strerror(errno));
  }
  li_identity_wipe(&n->id);
  n->id = id;
  li_identity_wipe(&id);
  log_warnx("finished an interrupted 'linli recover': %s is the node's key now", kp);
  return LI_OK;
}

/* The first half of opening, the same for both ways: the directory and
 * linli.conf (the log level set from it). */
static li_err s_open_conf(li_node *n, const char *dir, li_errbuf *eb) {
  memset(n, 0, sizeof *n);
  if (strlen(dir) >= sizeof n->dir - 32) return li_fail(eb, LI_ERR_USAGE, "directory path too long");
  snprintf(n->dir, sizeof n->dir, "%s", dir);
  snprintf(n->conf_path, sizeof n->conf_path, "%s/linli.conf", dir);
  if (access(n->conf_path, F_OK) != 0)
    return li_fail(eb, LI_ERR_NOT_INIT, "%s is not a linli node (no linli.conf); run 'linli init' or pass --dir", dir);
  li_err e = li_config_load(&n->cfg, n->conf_path, eb);
  if (!e) li_log_init(n->cfg.log_level, false);
  return e;
}

/* Whether linli.conf and replica.db are of one node (and the key file,
 * when with_key); closes n and says so when not. */
static li_err s_same_node(li_node *n, bool with_key, li_errbuf *eb) {
  if ((!with_key || memcmp(n->r->self, n->id.pk, LI_PK_BYTES) == 0) &&
      memcmp(n->r->network, n->cfg.network, LI_PK_BYTES) == 0 && n->r->role == n->cfg.role &&
      strcmp(n->r->scope, n->cfg.scope) == 0)
    return LI_OK;
  li_err e = li_fail(eb, LI_ERR_CONFIG,
                     "%s: the key file, linli.conf and replica.db do not belong to the same node (role, scope, key or "
                     "network differ)",
                     n->dir);
  li_node_close(n);
  return e;
}

li_err li_node_open(li_node *n, const char *dir, li_errbuf *eb) {
  li_err e = s_open_conf(n, dir, eb);
  if (e) return e;
  char p[LI_PATH_MAX + 64];
  li_node_path(n, n->cfg.key_file, p, sizeof p);
  if ((e = li_identity_load(&n->id, p, eb))) return e;
  li_node_path(n, n->cfg.replica, p, sizeof p);
  if ((e = li_replica_open(p, &n->r, eb))) {
    li_identity_wipe(&n->id);
    return e;
  }
  if ((e = li_replica_set_cache(n->r, n->cfg.cache_mib, eb))) {
    li_node_close(n);
    return e;
  }
  if (memcmp(n->r->self, n->id.pk, LI_PK_BYTES) != 0 && (e = s_finish_recover(n, eb))) {
    li_node_close(n);
    return e;
  }
  if ((e = s_same_node(n, true, eb))) return e;
  n->r->id = &n->id;
  return LI_OK;
}

li_err li_node_open_readonly(li_node *n, const char *dir, li_errbuf *eb) {
  li_err e = s_open_conf(n, dir, eb);
  if (e) return e;
  char p[LI_PATH_MAX + 64];
  li_node_path(n, n->cfg.replica, p, sizeof p);
  if ((e = li_replica_open_readonly(p, &n->r, eb))) return e;
  if ((e = li_replica_set_cache(n->r, n->cfg.cache_mib, eb))) {
    li_node_close(n);
    return e;
  }
  if ((e = s_same_node(n, false, eb))) return e;
  memcpy(n->id.pk, n->r->self, LI_PK_BYTES); /* the public half only: a reader signs nothing */
  return LI_OK;
}

li_err li_node_lock(li_node *n, const char *what, li_errbuf *eb) {
  if (n->locked) return LI_OK;
  char p[LI_PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/linli.lock", n->dir);
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return li_fail(eb, LI_ERR_IO, "%s: %s", p, strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK)
      return li_fail(eb, LI_ERR_EXISTS, "'linli serve' or 'linli sync' is running on this node: stop it before %s "
                     "(e.g. systemctl stop linli)", what);
    return li_fail(eb, LI_ERR_IO, "%s: %s", p, strerror(err));
  }
  n->lock_fd = fd;
  n->locked = true;
  return LI_OK;
}

void li_node_close(li_node *n) {
  if (n->locked) close(n->lock_fd);
  n->locked = false;
  li_replica_close(&n->r);
  li_identity_wipe(&n->id);
}
