/* workload: realistic writes to the street schema through plain SQL, so the
 * capture triggers see them as they see any office program. Ids come from
 * small pools so that the same rows are edited on both sides of a split, and
 * deleted and inserted again. The hub assigns hazards in committee scopes,
 * issues notices and edits the roster. Now and then a node tries a write a
 * receiver would refuse (a wrong type, a NUL, a value over the limit): the
 * capture trigger must refuse it in the writer's own statement. */
#include <string.h>

#include "sim.h"

static const char *const s_words[] = {"居家安全", "无异常", "需复访", "已送餐", "楼道堆物", "电线老化",
                                      "已整改",   "待复核", "物业回复", "家属联系", "已调解", "转街道"};
static const char *const s_stages[] = {"排查", "交办", "整改", "复核", "督查", "销号"};
static const char *const s_kinds[] = {"探访", "助餐", "适老化改造", "无障碍"};
static const char *const s_cats[] = {"燃气", "消防", "电动自行车", "九小场所", "老旧小区", "建筑工地"};

#define S_N(a) (sizeof(a) / sizeof((a)[0]))

static void s_exec(sim_world *w, sim_node *nd, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(nd->r->db, sql, NULL, NULL, &err);
  sim_trace(w, "%s sql rc=%d %s", nd->name, rc, sql);
  /* constraint refusals (a row another scope holds, ...) are part of life */
  if (rc != SQLITE_OK && rc != SQLITE_CONSTRAINT) sim_fail(w, "%s: workload SQL failed: %s", nd->name, err ? err : "?");
  sqlite3_free(err);
}

static void s_committee_write(sim_world *w, sim_node *nd, const char *scope) {
  sim_rng *r = &w->rng;
  char sql[1024];
  unsigned v = sim_below(r, 8), h = sim_below(r, 6);
  const char *word = s_words[sim_below(r, S_N(s_words))];
  switch (sim_below(r, 9)) {
  case 0:
  case 1:
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO care_visits(id, scope, resident_ref, visited_on, kind, outcome) "
             "VALUES('%s-v%u', '%s', 'R-%03u', '2025-03-%02u', '%s', '%s')",
             scope, v, scope, sim_below(r, 500), 1 + sim_below(r, 28), s_kinds[sim_below(r, S_N(s_kinds))], word);
    break;
  case 2:
    snprintf(sql, sizeof sql, "UPDATE care_visits SET outcome='%s', follow_up=%u WHERE id='%s-v%u'", word,
             sim_below(r, 2), scope, v);
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
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO hazards(id, scope, category, location, found_on, deadline) "
             "VALUES('%s-h%u', '%s', '%s', '%u号楼', '2025-03-%02u', '2025-04-%02u')",
             scope, h, scope, s_cats[sim_below(r, S_N(s_cats))], 1 + sim_below(r, 30), 1 + sim_below(r, 28),
             1 + sim_below(r, 28));
    break;
  case 7:
    snprintf(sql, sizeof sql, "UPDATE hazards SET stage='%s', description='%s' WHERE id='%s-h%u'",
             s_stages[sim_below(r, S_N(s_stages))], word, scope, h);
    break;
  default:
    snprintf(sql, sizeof sql, "DELETE FROM hazards WHERE id='%s-h%u'", scope, h);
  }
  s_exec(w, nd, sql);
}

static void s_hub_write(sim_world *w, sim_node *nd) {
  sim_rng *r = &w->rng;
  char sql[1024];
  int c = 1 + (int)sim_below(r, (uint32_t)(w->count - 1));
  const char *scope = w->n[c].scope;
  unsigned h = sim_below(r, 6), n = sim_below(r, 5);
  switch (sim_below(r, 8)) {
  case 0: /* assign a hazard (交办): the same row the committee edits */
    snprintf(sql, sizeof sql, "UPDATE hazards SET stage='交办', assigned_to='物业%u' WHERE id='%s-h%u'",
             sim_below(r, 9), scope, h);
    break;
  case 1: /* or create it in the committee's scope, perhaps concurrently with the committee */
    snprintf(sql, sizeof sql,
             "INSERT OR IGNORE INTO hazards(id, scope, category, location, found_on, stage, assigned_to) "
             "VALUES('%s-h%u', '%s', '%s', '街道巡查', '2025-03-%02u', '交办', '%s')",
             scope, h, scope, s_cats[sim_below(r, S_N(s_cats))], 1 + sim_below(r, 28), scope);
    break;
  case 2:
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO notices(id, scope, title, audience) VALUES('n%u', 'street', '通知%u', 'all')", n,
             sim_below(r, 100));
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
  default:
    snprintf(sql, sizeof sql, "UPDATE notices SET body='%s' WHERE id='n%u'", s_words[sim_below(r, S_N(s_words))], n);
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
  };
  uint32_t k = sim_below(&w->rng, 40);
  k = k < 39 ? k % 3 : 3; /* the megabyte one seldom */
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
  if (sim_enabled(w, F_BAD_WRITE) && sim_chance(&w->rng, 20)) s_bad_write(w, nd);
  else if (nd->hub) s_hub_write(w, nd);
  else s_committee_write(w, nd, nd->scope);
}

void sim_workload_open_txn(sim_world *w, sim_node *nd) {
  sqlite3_exec(nd->r->db, "BEGIN", NULL, NULL, NULL);
  sim_workload_step(w, nd);
  sim_workload_step(w, nd);
  sim_trace(w, "%s left a transaction open", nd->name);
}
