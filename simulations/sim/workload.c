/* workload: realistic writes to the street schema through plain SQL, so the
 * capture triggers see them as they see any office program. Ids come from
 * small pools so that the same rows are edited on both sides of a split, and
 * deleted and inserted again. The hub assigns hazards in committee scopes,
 * issues notices and edits the roster. Now and then a node tries a write a
 * receiver would refuse (a wrong type, a NUL, a value over the limit): the
 * capture trigger must refuse it in the writer's own statement.
 *
 * Schema migrations (fault.c, DESIGN 14): a node writes what a migration
 * added (a column, a table) as soon as its own replica has it, as an office
 * program that reads the schema would; until then it writes the rows of
 * the schema it has, which is what a committee cut off from the hub does. */
#include <string.h>

#include "sim.h"

static const char *const s_words[] = {"居家安全", "无异常", "需复访", "已送餐", "楼道堆物", "电线老化",
                                      "已整改",   "待复核", "物业回复", "家属联系", "已调解", "转街道"};
static const char *const s_stages[] = {"排查", "交办", "整改", "复核", "督查", "销号"};
static const char *const s_kinds[] = {"探访", "助餐", "适老化改造", "无障碍"};
static const char *const s_cats[] = {"燃气", "消防", "电动自行车", "九小场所", "老旧小区", "建筑工地"};
static const char *const s_tasks[] = {"助老", "助餐", "巡逻", "清扫"};

#define S_N(a) (sizeof(a) / sizeof((a)[0]))

/* Whether the node's own replica has table tbl (col NULL) or its column
 * col now. */
static bool s_has(sim_node *nd, const char *tbl, const char *col) {
  sqlite3_stmt *st = NULL;
  bool has = false;
  if (sqlite3_prepare_v2(nd->r->db, "SELECT 1 FROM pragma_table_info(?1) WHERE ?2 IS NULL OR name = ?2", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
    if (col) sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    has = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return has;
}

/* What a migration added that this node's replica has, looked up once a write. */
typedef struct {
  bool minutes, photo, verified, vh, task, priority;
} s_new;

static s_new s_new_of(sim_node *nd) {
  s_new x = {0};
  x.minutes = s_has(nd, "care_visits", "minutes");
  x.photo = s_has(nd, "hazards", "photo_ref");
  x.verified = s_has(nd, "hazards", "verified_by");
  x.vh = s_has(nd, "volunteer_hours", NULL);
  x.task = x.vh && s_has(nd, "volunteer_hours", "task");
  x.priority = s_has(nd, "notices", "priority");
  return x;
}

/* A write to volunteer_hours (a migrated table) in scope. */
static void s_volunteer_sql(sim_world *w, const s_new *x, const char *scope, char *sql, size_t cap) {
  sim_rng *r = &w->rng;
  unsigned k = sim_below(r, 6);
  const char *task = s_tasks[sim_below(r, S_N(s_tasks))];
  char tc[32] = "", tv[64] = "";
  if (x->task && sim_chance(r, 600)) snprintf(tc, sizeof tc, ", task"), snprintf(tv, sizeof tv, ", '%s'", task);
  switch (sim_below(r, 4)) {
  case 0:
  case 1:
    snprintf(sql, cap, "INSERT OR IGNORE INTO volunteer_hours(id, scope, hours, note%s) VALUES('%s-w%u', '%s', %.2f, '%s'%s)",
             tc, scope, k, scope, sim_below(r, 33) / 4.0, s_words[sim_below(r, S_N(s_words))], tv);
    break;
  case 2:
    snprintf(sql, cap, "UPDATE volunteer_hours SET hours = hours + %.2f%s%s%s WHERE id='%s-w%u' AND scope='%s'",
             (1 + sim_below(r, 8)) / 4.0, tc[0] ? ", task='" : "", tc[0] ? task : "", tc[0] ? "'" : "", scope, k,
             scope);
    break;
  default:
    snprintf(sql, cap, "DELETE FROM volunteer_hours WHERE id='%s-w%u' AND scope='%s'", scope, k, scope);
  }
}

static void s_exec(sim_world *w, sim_node *nd, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(nd->r->db, sql, NULL, NULL, &err);
  sim_trace(w, "%s sql rc=%d %s", nd->name, rc, sql);
  /* constraint refusals (a row another scope holds, ...) are part of life */
  if (rc != SQLITE_OK && rc != SQLITE_CONSTRAINT) sim_fail(w, "%s: workload SQL failed: %s", nd->name, err ? err : "?");
  sqlite3_free(err);
}

static void s_committee_write(sim_world *w, sim_node *nd, const char *scope, const s_new *x, bool *used) {
  sim_rng *r = &w->rng;
  char sql[1024], xc[96] = "", xv[96] = "";
  unsigned v = sim_below(r, 8), h = sim_below(r, 6);
  const char *word = s_words[sim_below(r, S_N(s_words))];
  unsigned pick = sim_below(r, 11);
  if (pick >= 9 && !x->vh) pick = 2; /* the table is not here (yet) */
  switch (pick) {
  case 0:
  case 1:
    if (x->minutes && sim_chance(r, 700))
      snprintf(xc, sizeof xc, ", minutes"), snprintf(xv, sizeof xv, ", %u", 5 * sim_below(r, 25)), *used = true;
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO care_visits(id, scope, resident_ref, visited_on, kind, outcome%s) "
             "VALUES('%s-v%u', '%s', 'R-%03u', '2025-03-%02u', '%s', '%s'%s)",
             xc, scope, v, scope, sim_below(r, 500), 1 + sim_below(r, 28), s_kinds[sim_below(r, S_N(s_kinds))], word,
             xv);
    break;
  case 2:
    if (x->minutes && sim_chance(r, 500)) snprintf(xc, sizeof xc, ", minutes=%u", 5 * sim_below(r, 25)), *used = true;
    snprintf(sql, sizeof sql, "UPDATE care_visits SET outcome='%s', follow_up=%u%s WHERE id='%s-v%u'", word,
             sim_below(r, 2), xc, scope, v);
    break;
  case 3:
    snprintf(sql, sizeof sql, "DELETE FROM care_visits WHERE id='%s-v%u'", scope, v);
    break;
  case 4: /* delete and insert again between two seals */
    snprintf(sql, sizeof sql,
             "DELETE FROM care_visits WHERE id='%s-v%u'; INSERT INTO care_visits(id, scope, resident_ref, visited_on) "
             "VALUES('%s-v%u', '%s', 'R-%03u', '2025-04-01')",
             scope, v, scope, v, scope, sim_below(r, 500));
    break;
  case 5:
  case 6:
    if (x->photo && sim_chance(r, 600)) {
      snprintf(xc, sizeof xc, ", photo_ref"), snprintf(xv, sizeof xv, ", 'IMG-%04u'", sim_below(r, 10000));
      *used = true;
    }
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO hazards(id, scope, category, location, found_on, deadline%s) "
             "VALUES('%s-h%u', '%s', '%s', '%u号楼', '2025-03-%02u', '2025-04-%02u'%s)",
             xc, scope, h, scope, s_cats[sim_below(r, S_N(s_cats))], 1 + sim_below(r, 30), 1 + sim_below(r, 28),
             1 + sim_below(r, 28), xv);
    break;
  case 7: {
    size_t n = 0;
    if (x->photo && sim_chance(r, 400))
      n += (size_t)snprintf(xc + n, sizeof xc - n, ", photo_ref='IMG-%04u'", sim_below(r, 10000)), *used = true;
    if (x->verified && sim_chance(r, 300))
      n += (size_t)snprintf(xc + n, sizeof xc - n, ", verified_by='%s-核%u'", scope, sim_below(r, 4)), *used = true;
    snprintf(sql, sizeof sql, "UPDATE hazards SET stage='%s', description='%s'%s WHERE id='%s-h%u'",
             s_stages[sim_below(r, S_N(s_stages))], word, xc, scope, h);
    break;
  }
  case 8:
    snprintf(sql, sizeof sql, "DELETE FROM hazards WHERE id='%s-h%u'", scope, h);
    break;
  default: /* a table a migration created */
    s_volunteer_sql(w, x, scope, sql, sizeof sql);
    *used = true;
  }
  s_exec(w, nd, sql);
}

static void s_hub_write(sim_world *w, sim_node *nd, const s_new *x, bool *used) {
  sim_rng *r = &w->rng;
  char sql[1024], xc[96] = "", xv[96] = "";
  int c = 1 + (int)sim_below(r, (uint32_t)(w->count - 1));
  const char *scope = w->n[c].scope;
  unsigned h = sim_below(r, 6), n = sim_below(r, 5);
  unsigned pick = sim_below(r, 9);
  if (pick == 8 && !x->vh) pick = 7; /* the table is not here (yet) */
  switch (pick) {
  case 0: /* assign a hazard (交办): the same row the committee edits */
    if (x->verified && sim_chance(r, 300))
      snprintf(xc, sizeof xc, ", verified_by='街道%u'", sim_below(r, 4)), *used = true;
    snprintf(sql, sizeof sql, "UPDATE hazards SET stage='交办', assigned_to='物业%u'%s WHERE id='%s-h%u'",
             sim_below(r, 9), xc, scope, h);
    break;
  case 1: /* or create it in the committee's scope, perhaps concurrently with the committee */
    if (x->photo && sim_chance(r, 500)) {
      snprintf(xc, sizeof xc, ", photo_ref"), snprintf(xv, sizeof xv, ", 'STREET-%03u'", sim_below(r, 1000));
      *used = true;
    }
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO hazards(id, scope, category, location, found_on, stage, assigned_to%s) "
             "VALUES('%s-h%u', '%s', '%s', '街道巡查', '2025-03-%02u', '交办', '%s'%s)",
             xc, scope, h, scope, s_cats[sim_below(r, S_N(s_cats))], 1 + sim_below(r, 28), scope, xv);
    break;
  case 2:
    if (x->priority && sim_chance(r, 600))
      snprintf(xc, sizeof xc, ", priority"), snprintf(xv, sizeof xv, ", %u", sim_below(r, 4)), *used = true;
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO notices(id, scope, title, audience%s) VALUES('n%u', 'street', '通知%u', 'all'%s)",
             xc, n, sim_below(r, 100), xv);
    break;
  case 3:
    snprintf(sql, sizeof sql, "DELETE FROM notices WHERE id='n%u'", n);
    break;
  case 4: { /* roster edits: spare entries come and go */
    unsigned k = sim_below(r, 3);
    if (sim_chance(r, 500))
      snprintf(sql, sizeof sql,
               "INSERT OR IGNORE INTO roster(name, scope, pubkey, member_scope, role) "
               "VALUES('spare%u', 'street', 'spare-key-%u', 'zz', 'committee')",
               k, k);
    else
      snprintf(sql, sizeof sql, "DELETE FROM roster WHERE name='spare%u'", k);
    break;
  }
  case 5:
    snprintf(sql, sizeof sql, "UPDATE hazards SET stage='销号', closed_on='2025-04-30' WHERE id='%s-h%u'", scope, h);
    break;
  case 6: /* a duplicate report withdrawn by the street, perhaps while the committee re-files it */
    snprintf(sql, sizeof sql, "DELETE FROM hazards WHERE id='%s-h%u'", scope, h);
    break;
  case 7:
    if (x->priority && sim_chance(r, 400))
      snprintf(xc, sizeof xc, ", priority=%u", sim_below(r, 4)), *used = true;
    snprintf(sql, sizeof sql, "UPDATE notices SET body='%s'%s WHERE id='n%u'", s_words[sim_below(r, S_N(s_words))], xc,
             n);
    break;
  default: /* a table a migration created: in the street's scope or a committee's */
    s_volunteer_sql(w, x, sim_chance(r, 500) ? "street" : scope, sql, sizeof sql);
    *used = true;
  }
  s_exec(w, nd, sql);
}

/* A write every receiver would refuse or store differently (DESIGN 13):
 * refused at the source, naming table and column, and nothing captured. */
static void s_bad_write(sim_world *w, sim_node *nd) {
  static const struct {
    const char *sql, *names; /* sql takes the node's scope as ?1 */
  } bad[] = {
      {"INSERT INTO meal_points(id, scope, place, capacity) VALUES(?1 || '-m1', ?1, '食堂', '约30')",
       "linli: meal_points.capacity: an INTEGER column"},
      {"INSERT INTO care_visits(id, scope, resident_ref, visited_on, note) VALUES(?1 || '-vx', ?1, 'R-1', '2025-03-01', "
       "'a' || char(0) || 'b')",
       "linli: care_visits.note: text with a NUL byte"},
      {"INSERT INTO hazards(id, scope, category, location, found_on, description) VALUES(?1 || '-hx', ?1, '燃气', "
       "'1号楼', '2025-03-01', x'00ff')",
       "linli: hazards.description: a TEXT column takes text"},
      {"INSERT INTO care_visits(id, scope, resident_ref, visited_on, note) VALUES(?1 || '-vy', ?1, 'R-1', '2025-03-01', "
       "printf('%.*c', 1048577, 'x'))",
       "linli: care_visits.note: a value over"},
      /* in what migrations added: the triggers were built again for it */
      {"INSERT INTO care_visits(id, scope, resident_ref, visited_on, minutes) VALUES(?1 || '-vz', ?1, 'R-1', "
       "'2025-03-01', '半小时')",
       "linli: care_visits.minutes: an INTEGER column"},
      {"INSERT INTO volunteer_hours(id, scope, hours) VALUES(?1 || '-wx', ?1, '两小时')",
       "linli: volunteer_hours.hours: a REAL column"},
  };
  uint32_t k = sim_below(&w->rng, 40);
  k = k < 39 ? k % 3 : 3; /* the megabyte one seldom */
  if (k == 0 && s_has(nd, "care_visits", "minutes") && sim_chance(&w->rng, 500)) k = 4;
  else if (k == 1 && s_has(nd, "volunteer_hours", NULL) && sim_chance(&w->rng, 500)) k = 5;
  int64_t dirty = li_replica_dirty_count(nd->r);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(nd->r->db, bad[k].sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, nd->scope, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
  }
  const char *err = sqlite3_errmsg(nd->r->db);
  sim_trace(w, "%s bad write %u rc=%d", nd->name, k, rc);
  if ((rc & 0xff) != SQLITE_CONSTRAINT || !strstr(err, bad[k].names))
    sim_fail(w, "%s: a write receivers would refuse was not refused at the source (rc %d: %s): %s", nd->name, rc, err,
             bad[k].sql);
  else if (li_replica_dirty_count(nd->r) != dirty)
    sim_fail(w, "%s: a refused write left a change marker", nd->name);
  sqlite3_finalize(st);
  w->faults[F_BAD_WRITE]++;
}

void sim_workload_step(sim_world *w, sim_node *nd) {
  if (sim_enabled(w, F_BAD_WRITE) && sim_chance(&w->rng, 20)) {
    s_bad_write(w, nd);
    return;
  }
  s_new x = s_new_of(nd);
  bool used = false;
  if (nd->hub) s_hub_write(w, nd, &x, &used);
  else s_committee_write(w, nd, nd->scope, &x, &used);
  w->counts.new_writes += used;
  if (!nd->hub && li_replica_schema_version(nd->r) < w->schema_version) w->counts.old_writes++;
}

void sim_workload_open_txn(sim_world *w, sim_node *nd) {
  sqlite3_exec(nd->r->db, "BEGIN", NULL, NULL, NULL);
  sim_workload_step(w, nd);
  sim_workload_step(w, nd);
  sim_trace(w, "%s left a transaction open", nd->name);
}
