/* render: inspect's data and the roster as text and JSON (see render.h).
 *
 *   li_status        ──s_status_text | s_status_json──▶ f
 *   li_log_cursor    ──s_log_entry, s_change_line─────▶ f
 *   li_verify_result, li_conflict_cursor, li_scope_digest[], li_member[] ──▶ f
 *
 * Fixed-width lines keep printf's "%-Ns" layout, counted in terminal
 * columns (li_out_pad) so that CJK text lines up too. */
#include "render.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "hlc.h"
#include "out.h"
#include "value.h"

/* ---- small helpers ---- */

static void s_key_text(bool ok, const uint8_t key[LI_PK_BYTES], char out[LI_PK_TEXT_LEN + 1]) {
  if (ok) li_pk_to_text(key, out);
  else snprintf(out, LI_PK_TEXT_LEN + 1, "?");
}

static const char *s_peer_state(li_peer_state st) {
  switch (st) {
  case LI_PEER_CONNECTED: return "connected";
  case LI_PEER_UNREACHABLE: return "unreachable";
  default: return "daemon not running";
  }
}

/* A peer's last contact: stored as wall-clock ms, shown as an HLC. */
static void s_contact(const li_peer_status *p, char *buf, size_t cap) {
  if (p->contact_known) li_hlc_format(p->last_contact_ms << 16, buf, cap);
  else snprintf(buf, cap, "never");
}

/* ---- status as text ---- */

static void s_status_head_text(FILE *f, const li_status *s) {
  char self[LI_PK_TEXT_LEN + 1], net[LI_PK_TEXT_LEN + 1], hlc[48];
  li_pk_to_text(s->self, self);
  li_pk_to_text(s->network, net);
  if (s->hlc) li_hlc_format(s->hlc, hlc, sizeof hlc);
  else snprintf(hlc, sizeof hlc, "no clock yet (nothing sealed or received)");
  fputs("node        ", f);
  li_out_text(f, s->name);
  fprintf(f, " (%s, scope ", li_role_name(s->role));
  li_out_text(f, s->scope);
  fprintf(f, ")\npublic key  %s\nnetwork     %s\nclock       %s\nschema      street schema version %u (see 'linli schema show')\n",
          self, net, hlc, s->schema_version);
  fprintf(f, "unsealed    %lld row change(s)%s\nconflicts   %lld (see 'linli conflicts')\n",
          (long long)s->unsealed_changes, s->unsealed_changes ? " (run 'linli commit')" : "", (long long)s->conflicts);
}

static void s_chains_text(FILE *f, const li_status *s) {
  fputs("chains:\n", f);
  for (size_t i = 0; i < s->nchains; i++) {
    const li_chain_status *c = &s->chains[i];
    char when[48];
    li_hlc_format(c->last_hlc, when, sizeof when);
    fputs("  ", f);
    li_out_pad(f, c->scope, 12, LI_OUT_TEXT_COLS_MAX);
    fputc(' ', f);
    li_out_pad(f, c->origin_name, 16, LI_OUT_TEXT_COLS_MAX);
    fprintf(f, " #%-8lld last %s\n", (long long)c->seq, when);
  }
}

/* Whether the peer's key is banned (it equivocated): its state then says
 * so, not "connected ... they lack 0" (issue 12). */
static bool s_peer_banned(const li_status *s, const li_peer_status *p) {
  for (size_t i = 0; p->key_ok && i < s->nbanned; i++)
    if (s->banned[i].origin_ok && memcmp(s->banned[i].origin, p->key, LI_PK_BYTES) == 0) return true;
  return false;
}

static void s_peers_text(FILE *f, const li_status *s) {
  fputs("peers:\n", f);
  for (size_t i = 0; i < s->npeers; i++) {
    const li_peer_status *p = &s->peers[i];
    char when[48];
    s_contact(p, when, sizeof when);
    fputs("  ", f);
    li_out_pad(f, p->name, 12, LI_OUT_TEXT_COLS_MAX);
    if (s_peer_banned(s, p)) {
      fprintf(f, " %-18s its key equivocated: nothing of it is accepted (see BANNED below); last contact %s\n",
              "BANNED", when);
      continue;
    }
    fprintf(f, " %-18s last contact %s; we lack %lld commit(s), they lack %lld\n", s_peer_state(p->state), when,
            (long long)p->commits_we_lack, (long long)p->commits_they_lack);
    if (p->ex_announced > 0 && p->ex_received < p->ex_announced)
      fprintf(f, "    receiving: %lld of %lld commit(s) announced (%lld%%)\n", (long long)p->ex_received,
              (long long)p->ex_announced, (long long)(p->ex_received * 100 / p->ex_announced));
    if (p->refused_rows) {
      fprintf(f, "    it refused %lld row change(s) of our commits alone (the commits went through); newest: ",
              (long long)p->refused_rows);
      li_out_text(f, p->refused_last);
      fputs("\n    fix: give both nodes the same tables (a table or column it lacks), or enter the row again\n", f);
    }
  }
  if (!s->npeers) fputs("  none yet (run 'linli serve')\n", f);
}

static void s_rejects_and_bans_text(FILE *f, const li_status *s) {
  fputs("rejected inputs:\n", f);
  for (size_t i = 0; i < s->nrejected; i++) {
    fputs("  ", f);
    li_out_pad(f, s->rejected[i].reason, 16, LI_OUT_TEXT_COLS_MAX);
    fprintf(f, " %lld\n", (long long)s->rejected[i].n);
  }
  if (!s->nrejected) fputs("  none\n", f);
  for (size_t i = 0; i < s->nbanned; i++) {
    char k[LI_PK_TEXT_LEN + 1];
    s_key_text(s->banned[i].origin_ok, s->banned[i].origin, k);
    fprintf(f, "BANNED      %s: ", k);
    li_out_text(f, s->banned[i].reason);
    fputc('\n', f);
  }
}

/* "3 d 04:05:06" / "04:05:06" for a span of ms (its sign dropped). */
static void s_span(int64_t ms, char *buf, size_t cap) {
  uint64_t t = (ms < 0 ? (uint64_t)(-(ms + 1)) + 1 : (uint64_t)ms) / 1000;
  unsigned long long d = t / 86400;
  unsigned h = (unsigned)(t % 86400 / 3600), m = (unsigned)(t % 3600 / 60), sec = (unsigned)(t % 60);
  if (d) snprintf(buf, cap, "%llu d %02u:%02u:%02u", d, h, m, sec);
  else snprintf(buf, cap, "%02u:%02u:%02u", h, m, sec);
}

/* What holds sealing back, the clock against the hub's, a pending recover. */
static void s_serve_text(FILE *f, const li_status *s) {
  fputs("sealing     ", f);
  if (!s->serve_known) fputs("not yet connected (run 'linli serve' or 'linli sync --once')", f);
  else if (!s->seal[0]) fputs("open", f);
  else li_out_text(f, s->seal);
  if (s->serve_known && !s->serve_running) {
    char when[48];
    li_hlc_format(s->serve_saved_ms << 16, when, sizeof when);
    fprintf(f, " (as of %s; the daemon is not running)", when);
  }
  fputc('\n', f);
  if (s->clock_known) {
    char span[40];
    s_span(s->clock_ahead_ms, span, sizeof span);
    fprintf(f, "vs hub      this clock is %s %s the hub's\n", span, s->clock_ahead_ms < 0 ? "behind" : "ahead of");
  }
  if (s->recover_pending) {
    char k[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(s->recovered_from, k);
    fprintf(f, "recover     pending from key %s: connect once ('linli sync --once') or import a bundle of the "
               "hub, and on the hub 'linli roster replace ",
            k);
    li_out_text(f, s->name);
    fprintf(f, " %s'\n", "NEWKEY");
  }
}

static void s_drift_text(FILE *f, const li_status *s) {
  for (size_t i = 0; i < s->ndrift; i++) {
    fprintf(f, "SCHEMA      %lld change(s) kept unsealed: ", (long long)s->drift[i].kept);
    li_out_text(f, s->drift[i].what);
    fputc('\n', f);
  }
}

static void s_stuck_text(FILE *f, const li_status *s) {
  if (!s->nstuck) return;
  fputs("stuck chains:\n", f);
  for (size_t i = 0; i < s->nstuck; i++) {
    const li_stuck_status *x = &s->stuck[i];
    fputs("  ", f);
    li_out_text(f, x->scope);
    fputc(' ', f);
    li_out_text(f, x->origin_name);
    fprintf(f, " #%lld %s ", (long long)x->seq, x->ours ? "not taken by" : "not taken from");
    li_out_text(f, x->peer);
    fputs(": ", f);
    li_out_text(f, x->code);
    fputs(": ", f);
    li_out_text(f, x->message);
    fputs("\n    fix: ", f);
    li_out_text(f, x->fix);
    fputc('\n', f);
  }
}

static void s_refused_text(FILE *f, const li_status *s) {
  if (!s->refused_total) return;
  fprintf(f, "refused rows: %lld row change(s) refused alone, their commits applied (newest first):\n",
          (long long)s->refused_total);
  for (size_t i = 0; i < s->nrefused; i++) {
    const li_refused_status *x = &s->refused[i];
    fputs("  ", f);
    li_out_text(f, x->table);
    fputc(' ', f);
    li_out_text(f, x->pk);
    fputs(" from ", f);
    li_out_text(f, x->origin_name);
    fputc(' ', f);
    li_out_text(f, x->scope);
    fprintf(f, "#%lld: ", (long long)x->seq);
    li_out_text(f, x->reason);
    fputs(": ", f);
    li_out_text(f, x->message);
    fputc('\n', f);
  }
  fputs("  fix: the writer's PC refuses such rows now (their triggers); ask its staff to enter them again\n", f);
}

/* ---- status as JSON (field names are read by tests/lib.sh and scripts) ---- */

static void s_status_head_json(li_json *j, const li_status *s) {
  char self[LI_PK_TEXT_LEN + 1], net[LI_PK_TEXT_LEN + 1], hlc[48];
  li_pk_to_text(s->self, self);
  li_pk_to_text(s->network, net);
  li_hlc_format(s->hlc, hlc, sizeof hlc);
  li_json_kstr(j, "name", s->name);
  li_json_kstr(j, "role", li_role_name(s->role));
  li_json_kstr(j, "scope", s->scope);
  li_json_kstr(j, "public_key", self);
  li_json_kstr(j, "network", net);
  if (s->hlc) li_json_kstr(j, "hlc", hlc);
  else li_json_kstr(j, "hlc", NULL);
  li_json_kint(j, "schema_version", s->schema_version);
  li_json_kint(j, "unsealed_changes", s->unsealed_changes);
  li_json_kint(j, "conflicts", s->conflicts);
}

static void s_chains_json(li_json *j, const li_status *s) {
  li_json_key(j, "chains");
  li_json_array(j);
  for (size_t i = 0; i < s->nchains; i++) {
    const li_chain_status *c = &s->chains[i];
    char k[LI_PK_TEXT_LEN + 1], when[48];
    s_key_text(c->origin_ok, c->origin, k);
    li_hlc_format(c->last_hlc, when, sizeof when);
    li_json_object(j);
    li_json_kstr(j, "origin", k);
    li_json_kstr(j, "origin_name", c->origin_name);
    li_json_kstr(j, "scope", c->scope);
    li_json_kint(j, "seq", (int64_t)c->seq);
    li_json_kstr(j, "last", when);
    li_json_object_end(j);
  }
  li_json_array_end(j);
}

static void s_peer_json(li_json *j, const li_status *s, const li_peer_status *p) {
  char k[LI_PK_TEXT_LEN + 1], when[48];
  s_key_text(p->key_ok, p->key, k);
  s_contact(p, when, sizeof when);
  li_json_object(j);
  li_json_kstr(j, "name", p->name);
  li_json_kstr(j, "key", k);
  li_json_kstr(j, "state", s_peer_state(p->state));
  li_json_kbool(j, "reachable", p->state == LI_PEER_CONNECTED);
  li_json_kbool(j, "banned", s_peer_banned(s, p));
  li_json_kstr(j, "last_contact", when);
  li_json_kint(j, "commits_we_lack", p->commits_we_lack);
  li_json_kint(j, "exchange_announced", p->ex_announced);
  li_json_kint(j, "exchange_received", p->ex_received);
  li_json_kint(j, "commits_they_lack", p->commits_they_lack);
  li_json_kint(j, "commits_sent", p->commits_sent);
  li_json_kint(j, "commits_received", p->commits_received);
  li_json_kint(j, "rejected_in", p->rejected_in);
  li_json_kint(j, "rejected_out", p->rejected_out);
  li_json_kstr(j, "last_error", p->last_error);
  li_json_kint(j, "refused_rows", p->refused_rows);
  li_json_kstr(j, "refused_last", p->refused_last);
  li_json_object_end(j);
}

static void s_rejects_and_bans_json(li_json *j, const li_status *s) {
  li_json_kint(j, "held_clock_ahead", s->held_clock_ahead);
  li_json_key(j, "rejected");
  li_json_object(j);
  for (size_t i = 0; i < s->nrejected; i++) li_json_kint(j, s->rejected[i].reason, s->rejected[i].n);
  li_json_object_end(j);
  li_json_key(j, "banned");
  li_json_array(j);
  for (size_t i = 0; i < s->nbanned; i++) {
    char k[LI_PK_TEXT_LEN + 1];
    s_key_text(s->banned[i].origin_ok, s->banned[i].origin, k);
    li_json_object(j);
    li_json_kstr(j, "origin", k);
    li_json_kstr(j, "reason", s->banned[i].reason);
    li_json_object_end(j);
  }
  li_json_array_end(j);
}

static void s_serve_json(li_json *j, const li_status *s) {
  li_json_key(j, "sealing");
  li_json_object(j);
  li_json_kbool(j, "known", s->serve_known);
  li_json_kbool(j, "daemon_running", s->serve_running);
  li_json_kbool(j, "open", s->serve_known && !s->seal[0]);
  li_json_kstr(j, "held_by", s->seal);
  li_json_key(j, "clock_ahead_ms");
  if (s->clock_known) li_json_int(j, s->clock_ahead_ms);
  else li_json_null(j);
  li_json_object_end(j);
  li_json_key(j, "recover_pending_from");
  if (s->recover_pending) {
    char k[LI_PK_TEXT_LEN + 1];
    li_pk_to_text(s->recovered_from, k);
    li_json_str(j, k);
  } else {
    li_json_null(j);
  }
  li_json_key(j, "stuck");
  li_json_array(j);
  for (size_t i = 0; i < s->nstuck; i++) {
    const li_stuck_status *x = &s->stuck[i];
    li_json_object(j);
    li_json_kstr(j, "peer", x->peer);
    li_json_kstr(j, "side", x->ours ? "ours" : "theirs");
    li_json_kstr(j, "origin", x->origin_name);
    li_json_kstr(j, "scope", x->scope);
    li_json_kint(j, "seq", x->seq);
    li_json_kstr(j, "code", x->code);
    li_json_kstr(j, "message", x->message);
    li_json_kint(j, "since_ms", (int64_t)x->since_ms);
    li_json_kstr(j, "fix", x->fix);
    li_json_object_end(j);
  }
  li_json_array_end(j);
  li_json_key(j, "schema_changed");
  li_json_array(j);
  for (size_t i = 0; i < s->ndrift; i++) {
    li_json_object(j);
    li_json_kstr(j, "table", s->drift[i].table);
    li_json_kstr(j, "what", s->drift[i].what);
    li_json_kint(j, "kept", s->drift[i].kept);
    li_json_object_end(j);
  }
  li_json_array_end(j);
  li_json_kint(j, "refused_total", s->refused_total);
  li_json_key(j, "refused");
  li_json_array(j);
  for (size_t i = 0; i < s->nrefused; i++) {
    const li_refused_status *x = &s->refused[i];
    li_json_object(j);
    li_json_kstr(j, "origin", x->origin_name);
    li_json_kstr(j, "scope", x->scope);
    li_json_kint(j, "seq", x->seq);
    li_json_kstr(j, "table", x->table);
    li_json_kstr(j, "key", x->pk);
    li_json_kstr(j, "reason", x->reason);
    li_json_kstr(j, "message", x->message);
    li_json_object_end(j);
  }
  li_json_array_end(j);
}

void li_render_status(FILE *f, const li_status *s, bool json) {
  if (!json) {
    s_status_head_text(f, s);
    s_serve_text(f, s);
    s_drift_text(f, s);
    s_chains_text(f, s);
    s_peers_text(f, s);
    s_stuck_text(f, s);
    s_refused_text(f, s);
    s_rejects_and_bans_text(f, s);
    return;
  }
  li_json j;
  li_json_init(&j, f);
  li_json_object(&j);
  s_status_head_json(&j, s);
  s_chains_json(&j, s);
  li_json_key(&j, "peers");
  li_json_array(&j);
  for (size_t i = 0; i < s->npeers; i++) s_peer_json(&j, s, &s->peers[i]);
  li_json_array_end(&j);
  s_rejects_and_bans_json(&j, s);
  s_serve_json(&j, s);
  li_json_object_end(&j);
  li_json_end(&j);
}

/* ---- log ---- */

/* "    TABLE KEY  inserted: col=value ..." (values as li_value_format). */
static void s_change_line(FILE *f, const li_change *ch) {
  char buf[256];
  fputs("    ", f);
  li_out_text(f, ch->table);
  fputc(' ', f);
  for (size_t k = 0; k < ch->npk; k++) {
    li_value_format(ch->pk[k], buf, sizeof buf);
    if (k) fputc(',', f);
    li_out_text(f, buf);
  }
  if (ch->kind == LI_CHANGE_DELETED) {
    fputs(" deleted\n", f);
    return;
  }
  fputs(ch->kind == LI_CHANGE_INSERTED ? "  inserted:" : "  set:", f);
  for (size_t k = 0; k < ch->ncols; k++) {
    li_value_format(ch->values[k], buf, sizeof buf);
    fputc(' ', f);
    li_out_text(f, ch->col_names[k]);
    fputc('=', f);
    li_out_text(f, buf);
  }
  fputc('\n', f);
}

static void s_log_entry(FILE *f, const li_log_entry *e) {
  if (!e->verified) {
    fputs("TAMPERED ", f);
    li_out_text(f, e->scope);
    fprintf(f, "#%lld by %s: ", (long long)e->seq, e->origin_name);
    li_out_text(f, e->error);
    fputc('\n', f);
    return;
  }
  char when[48];
  li_hlc_format(e->hlc, when, sizeof when);
  fprintf(f, "%s  %s  ", when, e->origin_name);
  li_out_text(f, e->scope);
  fprintf(f, "#%llu  verified\n", (unsigned long long)e->seq);
  for (size_t i = 0; i < e->nchanges; i++) s_change_line(f, &e->changes[i]);
}

li_err li_render_log(FILE *f, li_log_cursor *c, int64_t *tampered, li_errbuf *eb) {
  *tampered = 0;
  for (;;) {
    const li_log_entry *e = NULL;
    li_err err = li_inspect_log_next(c, &e, eb);
    if (err || !e) return err;
    if (!e->verified) (*tampered)++;
    s_log_entry(f, e);
  }
}

/* ---- verify ---- */

void li_render_verify(FILE *f, const li_verify_result *v) {
  for (size_t i = 0; i < v->nproblems; i++) {
    const li_verify_problem *p = &v->problems[i];
    if (p->kind == LI_PROBLEM_HEAD) {
      fputs("TAMPERED chain head ", f);
      li_out_text(f, p->scope);
      fprintf(f, "#%lld: does not match the stored commits\n", (long long)p->seq);
      continue;
    }
    fputs("TAMPERED commit ", f);
    li_out_text(f, p->scope);
    fprintf(f, "#%lld by %s: ", (long long)p->seq, p->who);
    li_out_text(f, p->what);
    fputc('\n', f);
  }
  if ((int64_t)v->nproblems < v->problems_total)
    fprintf(f, "... and %lld more problem(s) not shown (LI_VERIFY_PROBLEMS_MAX)\n",
            (long long)(v->problems_total - (int64_t)v->nproblems));
  if (!v->problems_total)
    fprintf(f, "verified %lld commit(s): every signature and chain link holds\n", (long long)v->checked);
}

/* ---- conflicts ---- */

static void s_conflict_text(FILE *f, const li_conflict *k) {
  char lw[48], ww[48];
  li_hlc_format(k->loser_hlc, lw, sizeof lw);
  li_hlc_format(k->winner_hlc, ww, sizeof ww);
  li_out_text(f, k->table);
  fputc(' ', f);
  li_out_text(f, k->pk);
  fputc('.', f);
  li_out_text(f, k->column);
  fputs(": kept ", f);
  li_out_text(f, k->winner);
  fprintf(f, " (%s, %s); lost ", k->winner_origin, ww);
  li_out_text(f, k->loser);
  fprintf(f, " (%s, %s)\n", k->loser_origin, lw);
}

static void s_conflict_json(li_json *j, const li_conflict *k) {
  char lw[48], ww[48];
  li_hlc_format(k->loser_hlc, lw, sizeof lw);
  li_hlc_format(k->winner_hlc, ww, sizeof ww);
  li_json_object(j);
  li_json_kstr(j, "table", k->table);
  li_json_kstr(j, "pk", k->pk);
  li_json_kstr(j, "column", k->column);
  li_json_kstr(j, "loser", k->loser);
  li_json_kstr(j, "loser_origin", k->loser_origin);
  li_json_kstr(j, "loser_time", lw);
  li_json_kstr(j, "winner", k->winner);
  li_json_kstr(j, "winner_origin", k->winner_origin);
  li_json_kstr(j, "winner_time", ww);
  li_json_object_end(j);
}

li_err li_render_conflicts(FILE *f, li_conflict_cursor *c, bool json, li_errbuf *eb) {
  li_json j;
  if (json) {
    li_json_init(&j, f);
    li_json_array(&j);
  }
  size_t count = 0;
  for (;;) {
    const li_conflict *k = NULL;
    li_err e = li_inspect_conflicts_next(c, &k, eb);
    if (e) return e; /* the JSON stays unfinished: the caller reports the error */
    if (!k) break;
    if (json) s_conflict_json(&j, k);
    else s_conflict_text(f, k);
    count++;
  }
  if (json) {
    li_json_array_end(&j);
    li_json_end(&j);
  } else if (!count) {
    fputs("no conflicts\n", f);
  }
  return LI_OK;
}

/* ---- digest, roster ---- */

void li_render_digest(FILE *f, const li_scope_digest *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char hex[2 * LI_HASH_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, d[i].hash, LI_HASH_BYTES);
    li_out_text(f, d[i].scope);
    fprintf(f, " %s %lld\n", hex, (long long)d[i].rows);
  }
}

void li_render_roster(FILE *f, const li_member *m, size_t n) {
  fprintf(f, "%-16s %-10s %-10s %-44s %s\n", "NAME", "ROLE", "SCOPE", "PUBLIC KEY", "STATUS");
  for (size_t i = 0; i < n; i++) {
    li_out_pad(f, m[i].name, 16, LI_OUT_TEXT_COLS_MAX);
    fprintf(f, " %-10s ", li_role_name(m[i].role));
    li_out_pad(f, m[i].scope, 10, LI_OUT_TEXT_COLS_MAX);
    fprintf(f, " %-44s ", m[i].key_text);
    if (m[i].revoked) fprintf(f, "removed after #%llu\n", (unsigned long long)m[i].revoked_after_seq);
    else fputs("active\n", f);
  }
}
