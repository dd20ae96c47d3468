/* gate: when a node may seal. See gate.h. */
#include "gate.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool s_check(const li_gate *g) {
  if (g->state < LI_GATE_WAITING || g->state > LI_GATE_OPEN) return false;
  if (g->state != LI_GATE_OPEN && !g->detail[0]) return false;
  return g->role == LI_ROLE_HUB || g->role == LI_ROLE_COMMITTEE;
}

void li_gate_init(li_gate *g, li_role role, uint64_t now_ms, uint64_t max_skew_ms) {
  memset(g, 0, sizeof *g);
  g->role = role;
  g->state = LI_GATE_WAITING;
  g->started_ms = now_ms;
  g->grace_ms = LI_GATE_HUB_GRACE_MS;
  g->max_skew_ms = max_skew_ms;
  snprintf(g->detail, sizeof g->detail, "%s",
           role == LI_ROLE_HUB ? "waiting for the committees to confirm the hub's own commits before sealing"
                               : "waiting for the hub to confirm this node's own commits before sealing");
  assert(s_check(g));
}

void li_gate_round_begin(li_gate *g) {
  g->in_round = true;
  g->any_ahead = g->any_fork = g->heard = false;
  g->round_detail[0] = 0;
}

void li_gate_chain(li_gate *g, const char *peer, const char *scope, uint64_t theirs, uint64_t ours, bool hashes_agree) {
  assert(g->in_round);
  g->heard = true;
  if (theirs <= ours && !hashes_agree && !g->any_fork) {
    g->any_fork = true;
    snprintf(g->round_detail, sizeof g->round_detail,
             "this node's chain %s forked: %s holds a different commit #%llu (another copy of this node's key "
             "sealed it: a restored backup or a copied folder still in use)",
             scope, peer, (unsigned long long)theirs);
  } else if (theirs > ours && !g->any_fork && !g->any_ahead) {
    g->any_ahead = true;
    snprintf(g->round_detail, sizeof g->round_detail,
             "taking back this node's own commits %s#%llu..%llu from %s before sealing (a restored backup?)", scope,
             (unsigned long long)ours + 1, (unsigned long long)theirs, peer);
  }
}

bool li_gate_round_end(li_gate *g, bool heard_all, uint64_t now_ms) {
  assert(g->in_round);
  g->in_round = false;
  li_gate_state was = g->state;
  if (g->state == LI_GATE_FORKED) return false;
  if (g->any_fork) {
    g->state = LI_GATE_FORKED;
    snprintf(g->detail, sizeof g->detail, "%s", g->round_detail);
  } else if (g->any_ahead) {
    g->state = LI_GATE_TAKING_BACK;
    snprintf(g->detail, sizeof g->detail, "%s", g->round_detail);
  } else if ((g->state == LI_GATE_TAKING_BACK && g->heard) ||
             (g->state == LI_GATE_WAITING &&
              (heard_all || (g->role == LI_ROLE_HUB && now_ms >= g->started_ms + g->grace_ms)))) {
    g->state = LI_GATE_OPEN;
    g->detail[0] = 0;
  }
  assert(s_check(g));
  return g->state != was;
}

void li_gate_hub_clock(li_gate *g, uint64_t hub_wall_ms, uint64_t mono_ms) {
  if (g->role != LI_ROLE_COMMITTEE || hub_wall_ms == 0) return;
  g->hub_wall_ms = hub_wall_ms;
  g->hub_mono_ms = mono_ms;
}

bool li_gate_clock(li_gate *g, uint64_t our_wall_ms, uint64_t mono_ms) {
  if (g->role != LI_ROLE_COMMITTEE || g->hub_wall_ms == 0) return false;
  bool was = g->clock_known && g->ahead_ms > (int64_t)g->max_skew_ms;
  uint64_t hub_now = g->hub_wall_ms + (mono_ms > g->hub_mono_ms ? mono_ms - g->hub_mono_ms : 0);
  g->clock_known = true;
  g->ahead_ms = (int64_t)our_wall_ms - (int64_t)hub_now;
  bool now = g->ahead_ms > (int64_t)g->max_skew_ms;
  return now != was;
}

static bool s_clock_ahead(const li_gate *g) { return g->clock_known && g->ahead_ms > (int64_t)g->max_skew_ms; }

bool li_gate_may_seal(const li_gate *g) { return g->state == LI_GATE_OPEN && !s_clock_ahead(g); }

bool li_gate_may_seal_first(const li_gate *g) { return li_gate_may_seal(g); }

/* "3 days", "2 hours", "14 minutes", "40 s" */
static void s_span(int64_t ms, char *out, size_t cap) {
  int64_t s = ms / 1000;
  if (s >= 2 * 86400) snprintf(out, cap, "%lld days", (long long)(s / 86400));
  else if (s >= 2 * 3600) snprintf(out, cap, "%lld hours", (long long)(s / 3600));
  else if (s >= 120) snprintf(out, cap, "%lld minutes", (long long)(s / 60));
  else snprintf(out, cap, "%lld s", (long long)s);
}

void li_gate_describe(const li_gate *g, char *out, size_t cap) {
  out[0] = 0;
  if (s_clock_ahead(g)) {
    char span[32];
    s_span(g->ahead_ms, span, sizeof span);
    snprintf(out, cap,
             "this computer's clock is %s ahead of the street hub's: nothing is sealed until its date and time are "
             "corrected (rows are kept, nothing is lost) / 本机时钟比街道服务器快 %s：请改正本机日期和时间，改正前暂不封存"
             "（记录都保留，不会丢失）",
             span, span);
    return;
  }
  switch (g->state) {
  case LI_GATE_OPEN: break;
  case LI_GATE_WAITING:
    snprintf(out, cap, "%s / %s", g->detail,
             g->role == LI_ROLE_HUB ? "等待各居委会确认街道自身的提交后再封存" : "等待街道服务器确认本机的提交后再封存");
    break;
  case LI_GATE_TAKING_BACK:
    snprintf(out, cap, "%s / 正在从街道取回本机自己的提交（从备份恢复？），取回后再封存", g->detail);
    break;
  case LI_GATE_FORKED:
    snprintf(out, cap,
             "%s: nothing is sealed; run 'linli recover' on this PC (and retire the other copy) / "
             "本机的提交链出现分叉（另一台电脑在用同一个密钥）：暂不封存；请在本机运行 'linli recover'，并停用另一份副本",
             g->detail);
    break;
  }
}
