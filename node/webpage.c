/* webpage: the dashboard's pages (see webpage.h).
 *
 *   li_web_page ─▶ s_route ─▶ s_page_* (HTML: s_head … s_foot)
 *                          ─▶ s_list_csv (a list's CSV download)
 *                          ─▶ s_api_* (JSON, the CLI's own renderers)
 *                          ─▶ s_asset (CSS, JS compiled in)
 *
 * A page is written to a memory stream; the reply is its bytes. */
#include "webpage.h"

#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "inspect.h"
#include "li_limits.h"
#include "out.h"
#include "render.h"
#include "replica.h"
#include "report.h"
#include "roster.h"
#include "value.h"

#define S_HTML "text/html; charset=utf-8"
#define S_CSV "text/csv; charset=utf-8"
#define S_JSON "application/json; charset=utf-8"

/* ---- what a page is drawn with ---- */

typedef struct {
  li_node *n;
  FILE *f;
  uint64_t now_ms;
  const char *today;
  li_report_data rep; /* the report's figures (invariant 3) */
  bool hub;
} s_ctx;

/* The stylesheet: no framework, system fonts with the CJK ones first. */
static const char s_css[] = ":root{--ink:#1d2733;--mute:#5b6877;--line:#d8dee6;--bg:#f5f7fa;--ok:#"
                            "1f7a3a;--warn:#a35a00;--bad:#b3261e;"
                            "--accent:#1f5fa8}\n"
                            "*{box-sizing:border-box}\n"
                            "body{margin:0;font:15px/1.5 \"Noto Sans CJK SC\",\"WenQuanYi Micro "
                            "Hei\",\"Microsoft YaHei\",\"PingFang SC\","
                            "sans-serif;color:var(--ink);background:var(--bg)}\n"
                            "header{background:#17324d;color:#fff;padding:10px "
                            "20px;display:flex;flex-wrap:wrap;align-items:baseline;gap:16px}\n"
                            "header .brand{font-weight:700;font-size:18px}header .who{color:#c9d6e3}\n"
                            "nav a{color:#fff;text-decoration:none;padding:4px "
                            "10px;border-radius:4px}nav a.on{background:#2d5a85}\n"
                            "nav a:hover{background:#24496d}\n"
                            "main{padding:16px 20px;max-width:1280px}\n"
                            "h1{font-size:22px;margin:4px 0 12px}h2{font-size:18px;margin:22px 0 8px}\n"
                            "table{border-collapse:collapse;background:#fff;margin:6px 0 "
                            "4px;min-width:40%}\n"
                            "th,td{border:1px solid var(--line);padding:4px "
                            "10px;text-align:left;vertical-align:top}\n"
                            "th{background:#eaf0f6;font-weight:600}td.num{text-align:right;font-"
                            "variant-numeric:tabular-nums}\n"
                            "tr.total td{font-weight:700;background:#f0f3f7}\n"
                            ".alerts{list-style:none;padding:0;margin:0 0 8px}\n"
                            ".alerts li{background:#fff;border-left:5px solid var(--bad);padding:8px "
                            "12px;margin:6px 0}\n"
                            ".alerts li.warn{border-color:var(--warn)}.alerts "
                            "li.info{border-color:var(--accent)}\n"
                            ".alerts .what{color:var(--mute);display:block;font-size:14px}\n"
                            ".ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.mute{"
                            "color:var(--mute)}\n"
                            ".allclear{background:#fff;border-left:5px solid var(--ok);padding:8px "
                            "12px}\n"
                            "a{color:var(--accent)}a.csv{font-size:14px;margin-left:12px}\n"
                            "svg{background:#fff;border:1px solid var(--line);margin:6px 0}svg "
                            "text{font-size:13px;fill:var(--ink)}\n"
                            ".s0{fill:#c0392b}.s1{fill:#e67e22}.s2{fill:#f1c40f}.s3{fill:#27ae60}.s4{"
                            "fill:#2980b9}.s5{fill:#8e44ad}\n"
                            ".legend span{display:inline-block;margin-right:14px;font-size:14px}\n"
                            ".legend "
                            "i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-"
                            "align:-1px}\n"
                            ".k0{background:#c0392b}.k1{background:#e67e22}.k2{background:#f1c40f}.k3{"
                            "background:#27ae60}"
                            ".k4{background:#2980b9}.k5{background:#8e44ad}\n"
                            "footer{color:var(--mute);font-size:13px;padding:8px 20px 24px}\n"
                            "form.login{background:#fff;padding:20px;max-width:360px;border:1px solid "
                            "var(--line)}\n"
                            "form.login input{font-size:16px;padding:6px;width:100%;margin:6px 0 "
                            "12px}\n"
                            ".sig-ok{color:var(--ok);font-weight:600}.sig-bad{color:var(--bad);font-"
                            "weight:700}\n"
                            "code{background:#eef1f5;padding:1px 4px;border-radius:3px}\n";

/* The one script: every 5 s, while the tab is visible, the page is fetched
 * again and its <main> replaced by the new one's (parsed, never run: a
 * parsed document's scripts are inert, and the server escaped every
 * value). */
static const char s_js[] = "'use strict';\n"
                           "(function () {\n"
                           "  var busy = false;\n"
                           "  function refresh() {\n"
                           "    if (busy || document.hidden) return;\n"
                           "    busy = true;\n"
                           "    fetch(location.href, {credentials: 'same-origin', cache: "
                           "'no-store'})\n"
                           "      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); "
                           "return r.text(); })\n"
                           "      .then(function (text) {\n"
                           "        var doc = new DOMParser().parseFromString(text, 'text/html');\n"
                           "        var fresh = doc.querySelector('main'), old = "
                           "document.querySelector('main');\n"
                           "        if (fresh && old) old.replaceWith(document.importNode(fresh, "
                           "true));\n"
                           "        var stamp = document.getElementById('stamp'), nstamp = "
                           "doc.getElementById('stamp');\n"
                           "        if (stamp && nstamp) stamp.textContent = nstamp.textContent;\n"
                           "        var st = document.getElementById('live');\n"
                           "        if (st) st.textContent = '';\n"
                           "      })\n"
                           "      .catch(function () {\n"
                           "        var st = document.getElementById('live');\n"
                           "        if (st) st.textContent = '（暂时无法刷新）';\n"
                           "      })\n"
                           "      .then(function () { busy = false; });\n"
                           "  }\n"
                           "  setInterval(refresh, 5000);\n"
                           "})();\n";

/* The tab's icon (also asked for as /favicon.ico by browsers). */
static const char s_icon[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect "
                             "width=\"32\" height=\"32\" rx=\"6\" "
                             "fill=\"#17324d\"/><path d=\"M8 22h16M10 22v-8l6-5 6 5v8\" stroke=\"#fff\" "
                             "stroke-width=\"2.5\" "
                             "fill=\"none\"/></svg>\n";

/* ---- small writers ---- */

static void s_h(FILE *f, const char *s) { li_html_text(f, s); }

static void s_num(FILE *f, int64_t v) { fprintf(f, "%" PRId64, v); }

/* <td class="num" data-fig="SCOPE PATH">text</td> (invariant 3) */
static void s_fig_td(FILE *f, const char *scope, const char *path, const char *text) {
  fputs("<td class=\"num\" data-fig=\"", f);
  s_h(f, scope);
  fputc(' ', f);
  s_h(f, path);
  fputs("\">", f);
  s_h(f, text);
  fputs("</td>", f);
}

static void s_fig_int(FILE *f, const char *scope, const char *path, int64_t v) {
  char b[32];
  snprintf(b, sizeof b, "%" PRId64, v);
  s_fig_td(f, scope, path, b);
}

static const char *s_row_scope(const li_report_row *row) { return row->scope; }

/* A scope's first roster row: a re-keyed committee has two, one scope. */
static bool s_first_of_scope(const li_report_data *d, size_t i) {
  return i == 0 || strcmp(d->rows[i].scope, d->rows[i - 1].scope) != 0;
}

static void s_name_td(FILE *f, const li_report_row *row) {
  fputs("<td>", f);
  s_h(f, row->name);
  if (row->revoked) fputs(" <span class=\"mute\">（已撤销）</span>", f);
  fputs("</td>", f);
}

static void s_ms_text(int64_t ms, char *buf, size_t cap) { li_report_utc(ms, buf, cap); }

/* ---- page frame ---- */

typedef struct {
  const char *path, *title;
} s_nav;

static const s_nav s_navs[] = {{"/", "总览"},       {"/hazards", "隐患"},  {"/hotline", "12345"},
                               {"/care", "关爱"},   {"/disputes", "纠纷"}, {"/enterprises", "企业走访"},
                               {"/notices", "通知"}};

static void s_head(s_ctx *c, const char *path, const char *title) {
  FILE *f = c->f;
  fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>",
        f);
  s_h(f, title);
  fputs(" · linli 邻里</title><link rel=\"stylesheet\" href=\"/app.css\">"
        "<link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><script "
        "src=\"/app.js\" defer></script></head>\n<body><header><span "
        "class=\"brand\">linli 邻里</span>"
        "<span class=\"who\">",
        f);
  if (c->hub)
    fputs("街道服务器 ", f);
  else
    fputs("居委会 ", f);
  s_h(f, c->n->cfg.name);
  fputs("</span><nav>", f);
  for (size_t i = 0; i < sizeof s_navs / sizeof *s_navs; i++) {
    fprintf(f, "<a href=\"%s\"%s>", s_navs[i].path, strcmp(s_navs[i].path, path) == 0 ? " class=\"on\"" : "");
    s_h(f, s_navs[i].title);
    fputs("</a>", f);
  }
  fputs("</nav></header>\n<main>\n<h1>", f);
  s_h(f, title);
  fputs("</h1>\n", f);
}

static void s_foot(s_ctx *c) {
  char gen[32];
  s_ms_text((int64_t)c->now_ms, gen, sizeof gen);
  fprintf(c->f,
          "</main>\n<footer>生成于 <span id=\"stamp\">%s</span>（UTC）· 今天 "
          "%s · 每 5 秒自动刷新 "
          "<span id=\"live\"></span> · 只读视图，数据来自本机副本 · "
          "<a href=\"/report.csv\">报表 CSV</a> · <a href=\"/api/report\">报表 "
          "JSON</a> · "
          "<a href=\"/api/status\">状态 JSON</a></footer>\n</body></html>\n",
          gen, c->today);
}

/* ---- charts (inline SVG, classes from the stylesheet) ---- */

#define S_SERIES_MAX 6

typedef struct {
  const char *label; /* untrusted */
  int64_t v[S_SERIES_MAX];
} s_bar;

/* Horizontal bars, one per item, each a stack of nseries values. */
/* colours: the stylesheet class (s0..s5, k0..k5) of each series, NULL for
 * series k in class k. */
static void s_chart(FILE *f, const char *title, const s_bar *bars, size_t n, int nseries, const char *const *series,
                    const int *colours) {
  if (n == 0) return;
  int64_t max = 1;
  for (size_t i = 0; i < n; i++) {
    int64_t t = 0;
    for (int k = 0; k < nseries; k++) t += bars[i].v[k] > 0 ? bars[i].v[k] : 0;
    if (t > max) max = t;
  }
  const int label_w = 150, bar_w = 520, row_h = 26, top = 8;
  int h = top * 2 + (int)n * row_h;
  fprintf(f,
          "<svg role=\"img\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
          "%d\"><title>",
          label_w + bar_w + 70, h, label_w + bar_w + 70, h);
  s_h(f, title);
  fputs("</title>", f);
  for (size_t i = 0; i < n; i++) {
    int y = top + (int)i * row_h;
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 17);
    char cut[64];
    li_utf8_copy(cut, sizeof cut, bars[i].label);
    s_h(f, cut);
    fputs("</text>", f);
    double x = label_w;
    int64_t t = 0;
    for (int k = 0; k < nseries; k++) {
      int64_t v = bars[i].v[k] > 0 ? bars[i].v[k] : 0;
      if (!v) continue;
      double w = (double)bar_w * (double)v / (double)max;
      fprintf(f,
              "<rect class=\"s%d\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
              "height=\"%d\"><title>",
              colours ? colours[k] : k, x, y + 3, w, row_h - 6);
      if (series) {
        s_h(f, series[k]);
        fputs(": ", f);
      }
      s_num(f, v);
      fputs("</title></rect>", f);
      x += w;
      t += v;
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%d\">%" PRId64 "</text>", x + 6, y + 17, t);
  }
  fputs("</svg>\n", f);
  if (series && nseries > 1) {
    fputs("<div class=\"legend\">", f);
    for (int k = 0; k < nseries; k++) {
      fprintf(f, "<span><i class=\"k%d\"></i>", colours ? colours[k] : k);
      s_h(f, series[k]);
      fputs("</span>", f);
    }
    fputs("</div>\n", f);
  }
}

/* One bar per committee scope (first roster row of each) from a figure. */
typedef int64_t (*s_figure_fn)(const li_report_counts *n, int k);

static void s_committee_chart(s_ctx *c, const char *title, int nseries, const char *const *series, const int *colours,
                              s_figure_fn fig) {
  s_bar *bars = calloc(c->rep.n ? c->rep.n : 1, sizeof *bars);
  if (!bars) return;
  size_t nb = 0;
  for (size_t i = 0; i < c->rep.n; i++) {
    if (!s_first_of_scope(&c->rep, i)) continue;
    bars[nb].label = c->rep.rows[i].name;
    for (int k = 0; k < nseries; k++) bars[nb].v[k] = fig(&c->rep.rows[i].n, k);
    nb++;
  }
  s_chart(c->f, title, bars, nb, nseries, series, colours);
  free(bars);
}

/* ---- list pages: a query, its columns, HTML and CSV from one spec ---- */

typedef enum { K_TEXT = 0, K_NUM } s_kind;

typedef struct {
  const char *head;
  s_kind kind;
} s_lcol;

#define S_LCOLS_MAX 8

typedef struct {
  const char *name;  /* the CSV's name: /NAME.csv */
  const char *table; /* the record page's table; the query's first columns are
                        id, scope */
  const char *title; /* the list's heading */
  const char *sql;   /* ?1 today, ?2 this month "YYYY-MM" */
  int ncols;
  s_lcol cols[S_LCOLS_MAX];
  const char *empty; /* shown when there is no row */
} s_list;

/* The committee a scope belongs to, by its roster name (as the report
 * names it); the scope itself when the roster has none. */
#define S_COMMITTEE(x)                                                                                                 \
  "coalesce((SELECT name FROM roster r WHERE r.member_scope = " x ".scope AND r.role = 'committee' "                   \
  "ORDER BY r.revoked_after_seq IS NOT NULL, r.name LIMIT 1), " x ".scope)"
#define S_OPEN_STAGES "('排查', '交办', '整改', '复核', '督查')"
#define S_DAYS(col) "CAST(julianday(?1) - julianday(" col ") AS INTEGER)"

static const s_list s_lists[] = {
    {"hazards_overdue",
     "hazards",
     "逾期隐患（未销号且已过整改期限）",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.location, x.category, x.stage, "
                                               "x.deadline, " S_DAYS("x.deadline") " FROM hazards x "
                                                                                   "WHERE x.stage "
                                                                                   "IN"
                                                                                   " " S_OPEN_STAGES " AND "
                                                                                   "typeof(x."
                                                                                   "deadline) = "
                                                                                   "'text' AND "
                                                                                   "x.deadline <> "
                                                                                   "'' "
                                                                                   "AND x.deadline "
                                                                                   "< ?1 ORDER BY "
                                                                                   "x.deadline, "
                                                                                   "x.scope, x.id",
     6,
     {{"居委会", K_TEXT},
      {"地点", K_TEXT},
      {"类别", K_TEXT},
      {"阶段", K_TEXT},
      {"整改期限", K_TEXT},
      {"逾期天数", K_NUM}},
     "没有逾期隐患。"},
    {"hazards_open",
     "hazards",
     "全部未销号隐患",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.location, x.category, x.stage, x.found_on, "
                                               "x.deadline"
                                               " FROM hazards x WHERE x.stage IN " S_OPEN_STAGES
                                               " ORDER BY x.scope, x.found_on, x.id",
     6,
     {{"居委会", K_TEXT},
      {"地点", K_TEXT},
      {"类别", K_TEXT},
      {"阶段", K_TEXT},
      {"发现日期", K_TEXT},
      {"整改期限", K_TEXT}},
     "没有未销号的隐患。"},
    {"hotline_overdue",
     "hotline_cases",
     "超期未办结的 12345 工单",
     "SELECT x.id, x.scope, x.case_no, " S_COMMITTEE("x") ", x.category, x.received_on, x.due_on, "
                                                          "x.status, " S_DAYS("x.due_on") " FROM hotline_cases "
                                                                                          "x WHERE x.status <> "
                                                                                          "'已办结' AND "
                                                                                          "typeof(x.due_on) = "
                                                                                          "'text' "
                                                                                          "AND x.due_on <> '' "
                                                                                          "AND x.due_on < ?1 "
                                                                                          "ORDER BY x.due_on, "
                                                                                          "x.scope, x.id",
     7,
     {{"工单号", K_TEXT},
      {"居委会", K_TEXT},
      {"类别", K_TEXT},
      {"受理日期", K_TEXT},
      {"办理期限", K_TEXT},
      {"状态", K_TEXT},
      {"超期天数", K_NUM}},
     "没有超期工单。"},
    {"care_visits_month",
     "care_visits",
     "本月关爱探访",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.visited_on, x.kind, x.resident_ref, x.visitor, "
                                               "x.outcome"
                                               " FROM care_visits x WHERE substr(x.visited_on, 1, "
                                               "7) = ?2 ORDER BY x.visited_on DESC, x.scope, x.id",
     6,
     {{"居委会", K_TEXT},
      {"日期", K_TEXT},
      {"类型", K_TEXT},
      {"对象编号", K_TEXT},
      {"走访人", K_TEXT},
      {"结果", K_TEXT}},
     "本月还没有探访记录。"},
    {"meal_points",
     "meal_points",
     "助餐点",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.place, x.capacity, x.hours, x.status"
                                               " FROM meal_points x ORDER BY x.scope, x.place, x.id",
     5,
     {{"居委会", K_TEXT}, {"地点", K_TEXT}, {"容量", K_NUM}, {"时间", K_TEXT}, {"状态", K_TEXT}},
     "还没有助餐点。"},
    {"disputes_open",
     "disputes",
     "未结纠纷（受理、调解中）",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.parties_ref, x.category, x.mediator, x.status, "
                                               "x.opened_on"
                                               " FROM disputes x WHERE x.status IN ('受理', "
                                               "'调解中') ORDER BY x.opened_on, x.scope, x.id",
     6,
     {{"居委会", K_TEXT},
      {"当事方编号", K_TEXT},
      {"类别", K_TEXT},
      {"调解员", K_TEXT},
      {"状态", K_TEXT},
      {"受理日期", K_TEXT}},
     "没有未结纠纷。"},
    {"enterprise_visits",
     "enterprise_visits",
     "企业走访（最新在前）",
     "SELECT x.id, x.scope, " S_COMMITTEE("x") ", x.enterprise, x.building, x.visited_on, x.issues, "
                                               "x.follow_up"
                                               " FROM enterprise_visits x ORDER BY x.visited_on "
                                               "DESC, x.scope, x.id",
     6,
     {{"居委会", K_TEXT}, {"企业", K_TEXT}, {"楼宇", K_TEXT}, {"走访日期", K_TEXT}, {"诉求", K_TEXT}, {"跟进", K_TEXT}},
     "还没有企业走访记录。"},
};

static const s_list *s_list_named(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof s_lists / sizeof *s_lists; i++)
    if (strlen(s_lists[i].name) == len && memcmp(s_lists[i].name, name, len) == 0) return &s_lists[i];
  return NULL;
}

static const s_list *s_list_by(const char *name) {
  const s_list *l = s_list_named(name, strlen(name));
  assert(l);
  return l;
}

static li_err s_list_prepare(s_ctx *c, const s_list *l, sqlite3_stmt **st, li_errbuf *eb) {
  if (sqlite3_prepare_v2(c->n->r->db, l->sql, -1, st, NULL) != SQLITE_OK)
    return li_fail(eb, LI_ERR_SCHEMA, "the list %s needs the street schema: %s", l->name, sqlite3_errmsg(c->n->r->db));
  assert(sqlite3_column_count(*st) == 2 + l->ncols);
  sqlite3_bind_text(*st, 1, c->today, -1, SQLITE_STATIC);
  sqlite3_bind_text(*st, 2, c->rep.month, -1, SQLITE_STATIC);
  return LI_OK;
}

/* A column as text: NULL is "", a number as it is, a blob "(二进制)". */
static const char *s_col_text(sqlite3_stmt *st, int i, char *buf, size_t cap) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL: return "";
  case SQLITE_INTEGER: snprintf(buf, cap, "%lld", (long long)sqlite3_column_int64(st, i)); return buf;
  case SQLITE_FLOAT: snprintf(buf, cap, "%g", sqlite3_column_double(st, i)); return buf;
  case SQLITE_BLOB: return "(二进制)";
  default: return (const char *)sqlite3_column_text(st, i);
  }
}

static void s_record_href(FILE *f, const char *table, const char *id, const char *scope) {
  fputs("/record?t=", f);
  li_url_part(f, table);
  fputs("&amp;id=", f);
  li_url_part(f, id);
  fputs("&amp;scope=", f);
  li_url_part(f, scope);
}

/* The list as an HTML table; fig_scope/fig_path: when set, the row count
 * is a report figure (invariant 3). */
static li_err s_list_html(s_ctx *c, const s_list *l, const char *fig_path, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_list_prepare(c, l, &st, eb);
  if (e) return e;
  FILE *f = c->f;
  fputs("<h2>", f);
  s_h(f, l->title);
  fprintf(f,
          "<a class=\"csv\" href=\"/%s.csv\" download>下载 "
          "CSV</a></h2>\n<table><thead><tr>",
          l->name);
  for (int k = 0; k < l->ncols; k++) {
    fputs("<th>", f);
    s_h(f, l->cols[k].head);
    fputs("</th>", f);
  }
  fputs("<th>记录</th></tr></thead><tbody>\n", f);
  int64_t rows = 0;
  bool cut = false;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (rows == LI_WEB_LIST_ROWS_MAX) {
      cut = true;
      break;
    }
    rows++;
    fputs("<tr>", f);
    char buf[64];
    for (int k = 0; k < l->ncols; k++) {
      const char *v = s_col_text(st, 2 + k, buf, sizeof buf);
      fputs(l->cols[k].kind == K_NUM ? "<td class=\"num\">" : "<td>", f);
      s_h(f, v);
      fputs("</td>", f);
    }
    char idb[64], scb[64];
    fputs("<td><a href=\"", f);
    s_record_href(f, l->table, s_col_text(st, 0, idb, sizeof idb), s_col_text(st, 1, scb, sizeof scb));
    fputs("\">历史</a></td></tr>\n", f);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) e = li_db_fail(c->n->r, eb, l->name);
  sqlite3_finalize(st);
  if (e) return e;
  fputs("</tbody></table>\n<p class=\"mute\">", f);
  if (!rows)
    s_h(f, l->empty);
  else if (fig_path) {
    fputs("共 <span data-fig=\"TOTAL ", f);
    s_h(f, fig_path);
    fprintf(f, "\">%" PRId64 "</span> 条", rows);
  } else
    fprintf(f, "共 %" PRId64 " 条", rows);
  if (cut) fprintf(f, "；只列出前 %d 条，完整的见 CSV", LI_WEB_LIST_ROWS_MAX);
  fputs("</p>\n", f);
  return LI_OK;
}

static li_err s_list_csv(s_ctx *c, const s_list *l, li_errbuf *eb) {
  sqlite3_stmt *st = NULL;
  li_err e = s_list_prepare(c, l, &st, eb);
  if (e) return e;
  li_csv v;
  li_csv_begin(&v, c->f);
  for (int k = 0; k < l->ncols; k++) li_csv_text(&v, l->cols[k].head);
  li_csv_text(&v, "id");
  li_csv_text(&v, "scope");
  li_csv_end_row(&v);
  int rc, rows = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && rows++ < LI_WEB_LIST_ROWS_MAX) {
    char buf[64];
    for (int k = 0; k < l->ncols; k++) li_csv_text(&v, s_col_text(st, 2 + k, buf, sizeof buf));
    li_csv_text(&v, s_col_text(st, 0, buf, sizeof buf));
    li_csv_text(&v, s_col_text(st, 1, buf, sizeof buf));
    li_csv_end_row(&v);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) e = li_db_fail(c->n->r, eb, l->name);
  sqlite3_finalize(st);
  return e;
}

/* ---- the report's figures as a table ---- */

/* A column of report figures: the li_report_counts field at off, shown
 * with data-fig PATH; pct: the satisfaction share (hl_good of hl_rated)
 * as the report writes it. */
typedef struct {
  const char *head, *path;
  size_t off;
  bool pct;
} s_figcol;

#define S_FIG(head, path, field) {head, path, offsetof(li_report_counts, field), false}
#define S_FIG_PCT {"好评率%", "hotline.satisfaction_pct", 0, true}

/* One row per committee scope (its first roster row, as the report counts
 * scopes) and the street's total, each cell a marked report figure. */
static void s_figures(s_ctx *c, const s_figcol *cols, size_t ncols) {
  FILE *f = c->f;
  fputs("<table><thead><tr><th>居委会</th>", f);
  for (size_t k = 0; k < ncols; k++) {
    fputs("<th>", f);
    s_h(f, cols[k].head);
    fputs("</th>", f);
  }
  fputs("</tr></thead><tbody>\n", f);
  for (size_t i = 0; i <= c->rep.n; i++) {
    bool total = i == c->rep.n;
    if (!total && !s_first_of_scope(&c->rep, i)) continue;
    const li_report_counts *n = total ? &c->rep.total : &c->rep.rows[i].n;
    const char *sc = total ? "TOTAL" : c->rep.rows[i].scope;
    fputs(total ? "<tr class=\"total\"><td>合计</td>" : "<tr>", f);
    if (!total) s_name_td(f, &c->rep.rows[i]);
    for (size_t k = 0; k < ncols; k++) {
      if (cols[k].pct) {
        char pct[16];
        li_report_pct(n->hl_good, n->hl_rated, pct, sizeof pct);
        s_fig_td(f, sc, cols[k].path, pct);
      } else {
        int64_t v;
        memcpy(&v, (const char *)n + cols[k].off, sizeof v);
        s_fig_int(f, sc, cols[k].path, v);
      }
    }
    fputs("</tr>\n", f);
  }
  fputs("</tbody></table>\n", f);
}

#define S_NCOLS(a) (sizeof(a) / sizeof *(a))

/* ---- 总览 ---- */

static void s_alert(FILE *f, const char *level, const char *what, const char *detail, const char *todo) {
  fprintf(f, "<li class=\"%s\"><b>", level);
  s_h(f, what);
  fputs("</b>", f);
  if (detail && *detail) {
    fputs("：", f);
    s_h(f, detail);
  }
  if (todo && *todo) {
    fputs("<span class=\"what\">怎么办：", f);
    s_h(f, todo);
    fputs("</span>", f);
  }
  fputs("</li>\n", f);
}

static const li_peer_status *s_peer_of(const li_status *st, const li_report_row *row, bool hub) {
  for (size_t i = 0; i < st->npeers; i++) {
    const li_peer_status *p = &st->peers[i];
    if (!hub) return p; /* a committee's one peer: the hub */
    if (row->key_ok && p->key_ok && memcmp(p->key, row->key, LI_PK_BYTES) == 0) return p;
  }
  return NULL;
}

static void s_alerts(s_ctx *c, const li_status *st) {
  FILE *f = c->f;
  char a[LI_ERRBUF_SIZE + 128], b[LI_ERRBUF_SIZE + 128];
  int n = 0;
  fputs("<h2>提醒</h2>\n<ul class=\"alerts\">\n", f);
  if (st->serve_known && !st->serve_running) {
    s_alert(f, "bad", "同步服务没有运行", "本机的 linli serve 最近没有更新状态",
            "启动它：systemctl start linli-serve@节点名，或在节点目录运行 "
            "linli serve");
    n++;
  } else if (!st->serve_known) {
    s_alert(f, "warn", "本机还没有同步过", NULL, "启动 linli serve，或运行一次 linli sync --once");
    n++;
  }
  for (size_t i = 0; i < st->nbanned; i++, n++) {
    char key[LI_PK_TEXT_LEN + 1] = "?", name[LI_NAME_MAX + 1] = "?";
    if (st->banned[i].origin_ok) {
      li_pk_to_text(st->banned[i].origin, key);
      li_roster_name_of(c->n->r, st->banned[i].origin, name, sizeof name);
    }
    snprintf(a, sizeof a, "%s（%s）", name, st->banned[i].reason);
    snprintf(b, sizeof b,
             "在该居委会电脑上运行 linli recover，再在街道服务器上运行 linli "
             "roster replace 名称 新密钥（密钥 %s）",
             key);
    s_alert(f, "bad", "分叉：同一密钥签了两个不同的提交，已停止接受", a, b);
  }
  for (size_t i = 0; i < st->nstuck; i++, n++) {
    const li_stuck_status *x = &st->stuck[i];
    snprintf(a, sizeof a, "%s 的 %s 链自 #%lld 起%s（%s：%s）", x->origin_name, x->scope, (long long)x->seq,
             x->ours ? "无法送达 " : "无法接受，来自 ", x->code, x->message);
    size_t used = strlen(a);
    if (x->ours && used < sizeof a) snprintf(a + used, sizeof a - used, "（对方：%s）", x->peer);
    s_alert(f, "bad", "同步卡住", a, x->fix);
  }
  if (st->clock_known && (st->clock_ahead_ms > 60000 || st->clock_ahead_ms < -60000)) {
    snprintf(a, sizeof a, "本机时钟比街道服务器%s %lld 分钟", st->clock_ahead_ms > 0 ? "快" : "慢",
             (long long)((st->clock_ahead_ms > 0 ? st->clock_ahead_ms : -st->clock_ahead_ms) / 60000));
    s_alert(f, st->clock_ahead_ms > 0 ? "bad" : "warn", "时钟不准", a, "校正本机的日期和时间（开启自动对时）");
    n++;
  }
  if (st->held_clock_ahead) {
    snprintf(a, sizeof a, "%lld 个提交的时间超前，暂时扣留", (long long)st->held_clock_ahead);
    s_alert(f, "warn", "时钟超前的提交", a, "请时钟超前的居委会校正日期；到时间后自动放行，不会丢失");
    n++;
  }
  if (st->seal[0]) {
    s_alert(f, "warn", "暂停封存本机的修改", st->seal, "见 linli status；原因消除后自动继续");
    n++;
  }
  for (size_t i = 0; i < st->ndrift; i++, n++) {
    snprintf(a, sizeof a, "表 %s：%s", st->drift[i].table, st->drift[i].what);
    s_alert(f, "bad", "有人手工改了数据表结构，这张表的修改暂不发送", a,
            "按上面说的改回，或由街道发布正式的结构变更（linli schema apply）");
  }
  if (st->refused_total) {
    snprintf(a, sizeof a, "共 %lld 条；最近一条：%s", (long long)st->refused_total,
             st->nrefused ? st->refused[0].message : "");
    s_alert(f, "warn", "有记录修改被拒绝", a, "在写入它的电脑上改正这条记录（见 linli status）");
    n++;
  }
  for (size_t i = 0; i < st->nrejected; i++, n++) {
    snprintf(a, sizeof a, "%s：%lld 次", st->rejected[i].reason, (long long)st->rejected[i].n);
    s_alert(f, "warn", "拒绝过的输入", a, "见 linli status 和日志（journalctl -u linli-serve@节点名）");
  }
  if (st->conflicts) {
    snprintf(a, sizeof a, "%lld 条", (long long)st->conflicts);
    s_alert(f, "info", "并发修改的冲突已自动合并，留待核对", a, "运行 linli conflicts 查看");
    n++;
  }
  if (st->recover_pending) {
    s_alert(f, "warn", "本机已更换密钥，等待街道确认", NULL, "街道服务器运行 linli roster replace（见 linli status）");
    n++;
  }
  if (c->rep.schema_behind) {
    snprintf(a, sizeof a, "街道数据结构版本 %u，%zu 个居委会尚未收到", c->rep.schema_version, c->rep.schema_behind);
    s_alert(f, "info", "数据结构变更尚未送达", a, "这些居委会下次同步时自动应用");
    n++;
  }
  for (size_t i = 0; i < st->npeers; i++) {
    const li_peer_status *p = &st->peers[i];
    if (!p->last_error[0] || p->state == LI_PEER_CONNECTED) continue;
    snprintf(a, sizeof a, "%s：%s", p->name, p->last_error);
    s_alert(f, "warn", "联系不上", a, "检查网络；对方电脑开机并运行 linli serve 后自动补齐");
    n++;
  }
  fputs("</ul>\n", f);
  if (!n)
    fputs("<p "
          "class=\"allclear\">"
          "一切正常：没有卡住的链、分叉、时钟问题或被拒绝的输入。</p>\n",
          f);
}

static const char *s_state_text(const li_peer_status *p, const char **cls) {
  if (!p) {
    *cls = "mute";
    return "从未联系";
  }
  switch (p->state) {
  case LI_PEER_CONNECTED: *cls = "ok"; return "已连接";
  case LI_PEER_UNREACHABLE: *cls = "bad"; return "联系不上";
  case LI_PEER_DAEMON_DOWN: *cls = "warn"; return "同步服务未运行";
  }
  *cls = "mute";
  return "?";
}

static void s_lacks_td(FILE *f, const li_report_row *row, const char *path, bool known, int64_t v) {
  if (known)
    s_fig_int(f, s_row_scope(row), path, v);
  else
    s_fig_td(f, s_row_scope(row), path, "-");
}

static void s_committee_rows(s_ctx *c, const li_status *st) {
  FILE *f = c->f;
  fputs(c->hub ? "<h2>各居委会</h2>\n" : "<h2>本居委会与街道的连接</h2>\n", f);
  fputs("<table><thead><tr><th>居委会</th><th>范围</th><th>连接</"
        "th><th>最后联系（UTC）</th>"
        "<th>居委会缺</th><th>街道缺</th><th>数据结构版本</th><th>最新提交</"
        "th></tr></thead><tbody>\n",
        f);
  for (size_t i = 0; i < c->rep.n; i++) {
    const li_report_row *row = &c->rep.rows[i];
    const li_peer_status *p = s_peer_of(st, row, c->hub);
    const char *cls;
    const char *state = row->revoked ? "已撤销" : s_state_text(p, &cls);
    if (row->revoked) cls = "mute";
    fputs("<tr>", f);
    s_name_td(f, row);
    fputs("<td>", f);
    s_h(f, row->scope);
    fprintf(f, "</td><td class=\"%s\">%s", cls, state);
    if (p && p->ex_announced > p->ex_received && p->state == LI_PEER_CONNECTED)
      fprintf(f, "（同步中 %lld/%lld）", (long long)p->ex_received, (long long)p->ex_announced);
    fputs("</td>", f);
    char buf[48];
    if (row->contact_known)
      s_ms_text(row->last_contact_ms, buf, sizeof buf);
    else
      snprintf(buf, sizeof buf, "从未");
    fputs("<td>", f);
    s_h(f, buf);
    fputs("</td>", f);
    s_lacks_td(f, row, "sync.committee_lacks", row->lacks_known, row->committee_lacks);
    s_lacks_td(f, row, "sync.hub_lacks", row->lacks_known, row->hub_lacks);
    if (row->schema_version)
      snprintf(buf, sizeof buf, "%" PRId64, row->schema_version);
    else
      snprintf(buf, sizeof buf, "-");
    fputs(row->schema_version && row->schema_version != (int64_t)c->rep.schema_version ? "<td class=\"num warn\""
                                                                                       : "<td class=\"num\"",
          f);
    fputs(" data-fig=\"", f);
    s_h(f, row->scope);
    fputs(" sync.schema_version\">", f);
    s_h(f, buf);
    fputs("</td><td class=\"num\">", f);
    if (row->commit_known) {
      li_report_age(c->now_ms, row->newest_commit_ms, buf, sizeof buf);
      s_h(f, buf);
      fputs(" 前", f);
    } else
      fputs("-", f);
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody></table>\n", f);
}

/* The street in figures: one table row per committee with the report's
 * counts (the same as `linli report`). */
/* The street in figures: the report's counts per committee. */
static void s_figures_table(s_ctx *c) {
  static const s_figcol cols[] = {
      S_FIG("未销号隐患", "hazards.open", hz_open),          S_FIG("逾期隐患", "hazards.overdue", hz_overdue),
      S_FIG("未办结工单", "hotline.open", hl_open),          S_FIG("超期工单", "hotline.overdue", hl_overdue),
      S_FIG_PCT,                                             S_FIG("本月探访", "care_visits_this_month", care_month),
      S_FIG("未结纠纷", "disputes_open", disputes_open),
      S_FIG("未确认通知", "notices_unacknowledged", notices_unacked)};
  fputs("<h2>汇总</h2>\n", c->f);
  s_figures(c, cols, S_NCOLS(cols));
}

static li_err s_page_overview(s_ctx *c, li_errbuf *eb) {
  li_status st;
  li_err e = li_inspect_status(&st, c->n, c->now_ms, eb);
  if (e) return e;
  s_head(c, "/", "总览");
  s_alerts(c, &st);
  s_committee_rows(c, &st);
  s_figures_table(c);
  fprintf(c->f, "<p class=\"mute\">未封存的本地修改：%lld 条 · 街道数据结构版本 %u</p>\n",
          (long long)st.unsealed_changes, c->rep.schema_version);
  li_inspect_status_free(&st);
  s_foot(c);
  return LI_OK;
}

/* ---- 隐患 ---- */

static int64_t s_fig_stage(const li_report_counts *n, int k) { return n->hz_stage[k]; }

static li_err s_page_hazards(s_ctx *c, li_errbuf *eb) {
  FILE *f = c->f;
  s_head(c, "/hazards", "隐患排查整改");
  fputs("<h2>各居委会未销号隐患（按阶段：排查→交办→整改→复核→督查→销号）</h2>\n", f);
  s_committee_chart(c, "各居委会未销号隐患，按阶段", LI_REPORT_STAGES, li_report_stage, NULL, s_fig_stage);
  static const s_figcol cols[] = {S_FIG("排查", "hazards.by_stage.排查", hz_stage[0]),
                                  S_FIG("交办", "hazards.by_stage.交办", hz_stage[1]),
                                  S_FIG("整改", "hazards.by_stage.整改", hz_stage[2]),
                                  S_FIG("复核", "hazards.by_stage.复核", hz_stage[3]),
                                  S_FIG("督查", "hazards.by_stage.督查", hz_stage[4]),
                                  S_FIG("合计", "hazards.open", hz_open),
                                  S_FIG("逾期", "hazards.overdue", hz_overdue)};
  _Static_assert(LI_REPORT_STAGES == 5, "one column per open stage");
  s_figures(c, cols, S_NCOLS(cols));
  li_err e = s_list_html(c, s_list_by("hazards_overdue"), "hazards.overdue", eb);
  if (!e) e = s_list_html(c, s_list_by("hazards_open"), "hazards.open", eb);
  if (e) return e;
  s_foot(c);
  return LI_OK;
}

/* ---- 12345 ---- */

static int64_t s_fig_rated(const li_report_counts *n, int k) { return k == 0 ? n->hl_good : n->hl_rated - n->hl_good; }

static li_err s_status_counts(s_ctx *c, li_errbuf *eb) {
  static const char *const statuses[] = {"受理", "办理中", "已答复", "已办结"};
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(c->n->r->db, "SELECT count(*) FROM hotline_cases WHERE status = ?1", -1, &st, NULL) !=
      SQLITE_OK)
    return li_fail(eb, LI_ERR_SCHEMA, "12345: %s", sqlite3_errmsg(c->n->r->db));
  s_bar bars[4];
  for (int i = 0; i < 4; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, statuses[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
      sqlite3_finalize(st);
      return li_db_fail(c->n->r, eb, "12345 by status");
    }
    memset(&bars[i], 0, sizeof bars[i]);
    bars[i].label = statuses[i];
    bars[i].v[4] = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  fputs("<h2>工单状态（全部）</h2>\n", c->f);
  s_chart(c->f, "12345 工单，按状态", bars, 4, 5, NULL, NULL);
  return LI_OK;
}

static li_err s_page_hotline(s_ctx *c, li_errbuf *eb) {
  FILE *f = c->f;
  s_head(c, "/hotline", "12345 热线工单");
  li_err e = s_status_counts(c, eb);
  if (e) return e;
  fputs("<h2>各居委会好差评</h2>\n", f);
  static const char *const rated[] = {"好", "差"};
  static const int good_bad[] = {3, 0}; /* 好 green, 差 red */
  s_committee_chart(c, "好差评，按居委会", 2, rated, good_bad, s_fig_rated);
  static const s_figcol cols[] = {S_FIG("未办结", "hotline.open", hl_open), S_FIG("超期", "hotline.overdue", hl_overdue),
                                  S_FIG("已评价", "hotline.rated", hl_rated), S_FIG("好评", "hotline.good", hl_good),
                                  S_FIG_PCT};
  s_figures(c, cols, S_NCOLS(cols));
  if ((e = s_list_html(c, s_list_by("hotline_overdue"), "hotline.overdue", eb))) return e;
  s_foot(c);
  return LI_OK;
}

/* ---- 关爱 ---- */

static int64_t s_fig_care(const li_report_counts *n, int k) { return n->care_month; }

static li_err s_page_care(s_ctx *c, li_errbuf *eb) {
  FILE *f = c->f;
  s_head(c, "/care", "关爱服务");
  fputs("<h2>本月探访（", f);
  s_h(f, c->rep.month);
  fputs("），按居委会</h2>\n", f);
  static const char *const visits[] = {"探访"};
  static const int blue[] = {4};
  s_committee_chart(c, "本月探访次数", 1, visits, blue, s_fig_care);
  static const s_figcol cols[] = {S_FIG("本月探访", "care_visits_this_month", care_month)};
  s_figures(c, cols, S_NCOLS(cols));
  li_err e = s_list_html(c, s_list_by("care_visits_month"), "care_visits_this_month", eb);
  if (!e) e = s_list_html(c, s_list_by("meal_points"), NULL, eb);
  if (e) return e;
  s_foot(c);
  return LI_OK;
}

/* ---- 纠纷, 企业走访 ---- */

static li_err s_page_disputes(s_ctx *c, li_errbuf *eb) {
  s_head(c, "/disputes", "矛盾纠纷调解");
  static const s_figcol cols[] = {S_FIG("未结纠纷", "disputes_open", disputes_open)};
  s_figures(c, cols, S_NCOLS(cols));
  li_err e = s_list_html(c, s_list_by("disputes_open"), "disputes_open", eb);
  if (e) return e;
  s_foot(c);
  return LI_OK;
}

static li_err s_page_enterprises(s_ctx *c, li_errbuf *eb) {
  s_head(c, "/enterprises", "企业走访服务");
  li_err e = s_list_html(c, s_list_by("enterprise_visits"), NULL, eb);
  if (e) return e;
  s_foot(c);
  return LI_OK;
}

/* ---- 通知 ---- */

/* ?1 today. The notices the report counts: street scope, still valid. */
static const char s_sql_notices[] = "SELECT id, title, audience, valid_from, valid_to, issued_by FROM notices "
                                    "WHERE scope = 'street' "
                                    "AND (valid_to IS NULL OR valid_to >= ?1) ORDER BY valid_from DESC, id "
                                    "LIMIT ?2";
/* ?1 notice id, ?2 audience, ?3 scope: addressed to it, and its ack */
static const char s_sql_ack[] = "SELECT (trim(?2) = 'all' OR instr(',' || replace(?2, ' ', '') || ',', ',' "
                                "|| ?3 || ',') > 0), "
                                "(SELECT acked_on FROM notice_acks a WHERE a.notice_id = ?1 AND a.scope = "
                                "?3)";

typedef void (*s_ack_fn)(s_ctx *c, void *cls, sqlite3_stmt *notice, const li_report_row *row, bool addressed,
                         const char *acked_on);

/* Calls notice_fn(.., false) for each valid notice (the report's: street
 * scope, valid_to unset or not past), then fn for each committee scope of
 * the report (its first roster row, revoked or not, as the report counts
 * them), then notice_fn(.., true). acked_on: the ack's date, NULL for none. */
static li_err s_notices_each(s_ctx *c, s_ack_fn fn, void (*notice_fn)(s_ctx *, void *, sqlite3_stmt *, bool end),
                             void *cls, li_errbuf *eb) {
  sqlite3 *db = c->n->r->db;
  sqlite3_stmt *ns = NULL, *as = NULL;
  li_err e = LI_OK;
  if (sqlite3_prepare_v2(db, s_sql_notices, -1, &ns, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, s_sql_ack, -1, &as, NULL) != SQLITE_OK) {
    e = li_fail(eb, LI_ERR_SCHEMA, "notices: %s", sqlite3_errmsg(db));
    goto done;
  }
  sqlite3_bind_text(ns, 1, c->today, -1, SQLITE_STATIC);
  sqlite3_bind_int(ns, 2, LI_WEB_NOTICES_MAX);
  int rc;
  while ((rc = sqlite3_step(ns)) == SQLITE_ROW) {
    if (notice_fn) notice_fn(c, cls, ns, false);
    for (size_t i = 0; i < c->rep.n; i++) {
      if (!s_first_of_scope(&c->rep, i)) continue;
      sqlite3_reset(as);
      sqlite3_bind_value(as, 1, sqlite3_column_value(ns, 0));
      sqlite3_bind_value(as, 2, sqlite3_column_value(ns, 2));
      sqlite3_bind_text(as, 3, c->rep.rows[i].scope, -1, SQLITE_STATIC);
      if (sqlite3_step(as) != SQLITE_ROW) {
        e = li_db_fail(c->n->r, eb, "notice_acks");
        goto done;
      }
      bool addressed = sqlite3_column_int(as, 0) != 0;
      const char *acked = sqlite3_column_type(as, 1) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(as, 1);
      fn(c, cls, ns, &c->rep.rows[i], addressed,
         acked ? acked : (sqlite3_column_type(as, 1) == SQLITE_NULL ? NULL : ""));
    }
    if (notice_fn) notice_fn(c, cls, ns, true);
  }
  if (rc != SQLITE_DONE) e = li_db_fail(c->n->r, eb, "notices");
done:
  sqlite3_finalize(ns);
  sqlite3_finalize(as);
  return e;
}

typedef struct {
  int pass; /* 0: acknowledged, 1: not yet */
  int shown;
} s_ack_html;

static void s_notice_html_row(s_ctx *c, void *cls, sqlite3_stmt *ns, bool end) {
  FILE *f = c->f;
  if (end) {
    fputs("</td></tr>\n", f);
    return;
  }
  char buf[64];
  fputs("<tr><td><a href=\"", f);
  s_record_href(f, "notices", s_col_text(ns, 0, buf, sizeof buf), "street");
  fputs("\">", f);
  s_h(f, s_col_text(ns, 1, buf, sizeof buf));
  fputs("</a></td><td>", f);
  s_h(f, s_col_text(ns, 5, buf, sizeof buf));
  fputs("</td><td>", f);
  s_h(f, s_col_text(ns, 4, buf, sizeof buf));
  fputs("</td><td>", f);
}

static void s_ack_cell(s_ctx *c, void *cls, sqlite3_stmt *ns, const li_report_row *row, bool addressed,
                       const char *acked_on) {
  if (!addressed) return;
  FILE *f = c->f;
  fprintf(f, "<span class=\"%s\">", acked_on ? "ok" : "bad");
  s_h(f, row->name);
  if (acked_on) {
    fputs(" ✓", f);
    if (*acked_on) {
      fputs(" ", f);
      s_h(f, acked_on);
    }
  } else
    fputs(" 未确认", f);
  fputs("</span>　", f);
}

static void s_ack_csv(s_ctx *c, void *cls, sqlite3_stmt *ns, const li_report_row *row, bool addressed,
                      const char *acked_on) {
  if (!addressed) return;
  li_csv *v = cls;
  char buf[64];
  li_csv_text(v, s_col_text(ns, 1, buf, sizeof buf));
  li_csv_text(v, s_col_text(ns, 4, buf, sizeof buf));
  li_csv_text(v, row->name);
  li_csv_text(v, row->scope);
  li_csv_plain(v, acked_on ? "yes" : "no");
  li_csv_text(v, acked_on ? acked_on : "");
  li_csv_text(v, s_col_text(ns, 0, buf, sizeof buf));
  li_csv_end_row(v);
}

static li_err s_page_notices(s_ctx *c, li_errbuf *eb) {
  FILE *f = c->f;
  s_head(c, "/notices", "通知与确认");
  static const s_figcol cols[] = {S_FIG("未确认的有效通知", "notices_unacknowledged", notices_unacked)};
  s_figures(c, cols, S_NCOLS(cols));
  fputs("<h2>有效通知，各居委会的确认情况<a class=\"csv\" "
        "href=\"/notices.csv\" download>下载 "
        "CSV</a></h2>\n<table><thead><tr><th>通知</th><th>发布</"
        "th><th>有效期至</th><th>居委会</th></tr></thead>"
        "<tbody>\n",
        f);
  li_err e = s_notices_each(c, s_ack_cell, s_notice_html_row, NULL, eb);
  if (e) return e;
  fputs("</tbody></table>\n", f);
  s_foot(c);
  return LI_OK;
}

static li_err s_notices_csv(s_ctx *c, li_errbuf *eb) {
  li_csv v;
  li_csv_begin(&v, c->f);
  static const char *const head[] = {"通知", "有效期至", "居委会", "范围", "已确认", "确认日期", "id"};
  for (size_t i = 0; i < sizeof head / sizeof *head; i++) li_csv_text(&v, head[i]);
  li_csv_end_row(&v);
  return s_notices_each(c, s_ack_csv, NULL, &v, eb);
}

/* ---- a record's history ---- */

/* The street schema's tables a record page shows (their key: id, scope). */
static const char *const s_record_tables[] = {"hazards",  "hotline_cases",     "care_visits", "meal_points",
                                              "disputes", "enterprise_visits", "notices"};

static void s_change_html(FILE *f, const li_change *ch) {
  static const char *const kinds[] = {"新建", "修改", "删除"};
  fprintf(f, "<td>%s</td><td>", kinds[ch->kind]);
  char buf[256];
  for (size_t k = 0; k < ch->ncols; k++) {
    li_value_format(ch->values[k], buf, sizeof buf);
    fputs("<code>", f);
    s_h(f, ch->col_names[k]);
    fputs("</code> = ", f);
    s_h(f, buf);
    fputs(k + 1 < ch->ncols ? "<br>" : "", f);
  }
  fputs("</td>", f);
}

typedef struct {
  char **rows; /* a ring of the newest LI_WEB_HISTORY_MAX rendered rows */
  size_t n, next;
  int64_t total;
} s_ring;

static li_err s_ring_put(s_ring *r, char *row, li_errbuf *eb) {
  if (!row) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the history");
  free(r->rows[r->next]);
  r->rows[r->next] = row;
  r->next = (r->next + 1) % LI_WEB_HISTORY_MAX;
  if (r->n < LI_WEB_HISTORY_MAX) r->n++;
  r->total++;
  return LI_OK;
}

static char *s_entry_html(const li_log_entry *e, const li_change *ch) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return NULL;
  char when[48] = "?";
  if (e->verified) li_hlc_format(e->hlc, when, sizeof when);
  fputs("<tr><td>", f);
  s_h(f, when);
  fputs("</td><td>", f);
  s_h(f, e->origin_name);
  fprintf(f, "</td><td class=\"num\">%lld</td>", (long long)e->seq);
  if (e->verified) {
    s_change_html(f, ch);
    fputs("<td class=\"sig-ok\">✓ 签名有效</td>", f);
  } else {
    fputs("<td>?</td><td>?</td><td class=\"sig-bad\">✗ 校验失败：", f);
    s_h(f, e->error);
    fputs("</td>", f);
  }
  fputs("</tr>\n", f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

static li_err s_history(s_ctx *c, const char *table, const char *id, const char *scope, s_ring *ring, li_errbuf *eb) {
  li_log_filter filter = {.table = table, .pk = id};
  li_log_cursor *cur = NULL;
  li_err e = li_inspect_log_open(&cur, c->n->r, &filter, eb);
  if (e) return e;
  for (;;) {
    const li_log_entry *en = NULL;
    if ((e = li_inspect_log_next(cur, &en, eb)) || !en) break;
    if (strcmp(en->scope, scope) != 0) continue;
    if (!en->verified) {
      /* a commit that fails verification: its changes cannot be read, so
       * whether it touched this record is unknown; show it in its chain */
      if ((e = s_ring_put(ring, s_entry_html(en, NULL), eb))) break;
      continue;
    }
    for (size_t i = 0; i < en->nchanges && !e; i++) e = s_ring_put(ring, s_entry_html(en, &en->changes[i]), eb);
    if (e) break;
  }
  li_inspect_log_close(&cur);
  return e;
}

static li_err s_current_row(s_ctx *c, const char *table, const char *id, const char *scope, bool *found,
                            li_errbuf *eb) {
  FILE *f = c->f;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" WHERE id = ?1 AND scope = ?2", table); /* table: from the list */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(c->n->r->db, sql, -1, &st, NULL) != SQLITE_OK)
    return li_fail(eb, LI_ERR_SCHEMA, "record: %s", sqlite3_errmsg(c->n->r->db));
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, scope, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  if (*found) {
    fputs("<h2>当前内容</h2>\n<table><tbody>\n", f);
    for (int k = 0; k < sqlite3_column_count(st); k++) {
      char buf[64];
      fputs("<tr><th>", f);
      s_h(f, sqlite3_column_name(st, k));
      fputs("</th><td>", f);
      s_h(f, s_col_text(st, k, buf, sizeof buf));
      fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
  }
  li_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? LI_OK : li_db_fail(c->n->r, eb, "record");
  sqlite3_finalize(st);
  return e;
}

static li_err s_page_record(s_ctx *c, li_web_arg_fn arg, void *cls, bool *found_table, li_errbuf *eb) {
  const char *t = arg(cls, "t"), *id = arg(cls, "id"), *scope = arg(cls, "scope");
  const char *table = NULL;
  for (size_t i = 0; t && i < sizeof s_record_tables / sizeof *s_record_tables; i++)
    if (strcmp(t, s_record_tables[i]) == 0) table = s_record_tables[i];
  *found_table = table && id && scope;
  if (!*found_table) return LI_OK;
  FILE *f = c->f;
  s_head(c, "", "记录历史");
  fputs("<p>表 <code>", f);
  s_h(f, table);
  fputs("</code> · 记录 <code>", f);
  s_h(f, id);
  fputs("</code> · 范围 <code>", f);
  s_h(f, scope);
  fputs("</code></p>\n", f);
  bool found = false;
  li_err e = s_current_row(c, table, id, scope, &found, eb);
  if (e) return e;
  if (!found)
    fputs("<p "
          "class=\"warn\">"
          "本机副本中没有这条记录（已删除，或不在本机可见的范围内）。</p>\n",
          f);
  s_ring ring = {0};
  ring.rows = calloc(LI_WEB_HISTORY_MAX, sizeof *ring.rows);
  if (!ring.rows) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the history");
  e = s_history(c, table, id, scope, &ring, eb);
  if (!e) {
    fputs("<h2>修改历史（来自签名的提交日志）</h2>\n<p "
          "class=\"mute\">每一行是一次签名提交中的修改："
          "谁（签名者在名册中的名称）、何时（提交的混合逻辑时钟）、改了哪些字段"
          "；签名逐条重新校验。</p>\n"
          "<table><thead><tr><th>时间（UTC）</th><th>签名者</th><th>序号</"
          "th><th>操作</th><th>字段</th>"
          "<th>签名</th></tr></thead><tbody>\n",
          f);
    size_t first = ring.n < LI_WEB_HISTORY_MAX ? 0 : ring.next;
    for (size_t i = 0; i < ring.n; i++) fputs(ring.rows[(first + i) % LI_WEB_HISTORY_MAX], f);
    fputs("</tbody></table>\n", f);
    if (!ring.total)
      fputs("<p class=\"mute\">日志中没有这条记录的修改。</p>\n", f);
    else if ((size_t)ring.total > ring.n)
      fprintf(f,
              "<p class=\"mute\">共 %lld 次修改，只列出最新的 %d 次（linli log "
              "--table 可看全部）。</p>\n",
              (long long)ring.total, LI_WEB_HISTORY_MAX);
  }
  for (size_t i = 0; i < LI_WEB_HISTORY_MAX; i++) free(ring.rows[i]);
  free(ring.rows);
  if (e) return e;
  s_foot(c);
  return LI_OK;
}

/* ---- routing ---- */

typedef li_err (*s_page_fn)(s_ctx *c, li_errbuf *eb);

static const struct {
  const char *path;
  s_page_fn fn;
} s_pages[] = {{"/", s_page_overview},      {"/hazards", s_page_hazards},   {"/hotline", s_page_hotline},
               {"/care", s_page_care},      {"/disputes", s_page_disputes}, {"/enterprises", s_page_enterprises},
               {"/notices", s_page_notices}};

/* Closes the page's stream (which sets *buf and *len) and hands its bytes
 * to out, or frees them on failure. */
static li_err s_finish(FILE *f, char **bufp, size_t *lenp, li_web_reply *out, li_err e, li_errbuf *eb) {
  bool bad = fclose(f) != 0;
  char *buf = *bufp;
  size_t len = *lenp;
  if (!e && bad) e = li_fail(eb, LI_ERR_NOMEM, "out of memory for the page");
  if (e) {
    free(buf);
    out->body = NULL;
    out->len = 0;
    return e;
  }
  out->body = buf;
  out->len = len;
  return LI_OK;
}

static li_err s_route(s_ctx *c, const char *path, li_web_arg_fn arg, void *cls, li_web_reply *out, li_errbuf *eb) {
  out->status = 200;
  out->type = S_HTML;
  for (size_t i = 0; i < sizeof s_pages / sizeof *s_pages; i++)
    if (strcmp(path, s_pages[i].path) == 0) return s_pages[i].fn(c, eb);
  if (strcmp(path, "/record") == 0) {
    bool ok;
    li_err e = s_page_record(c, arg, cls, &ok, eb);
    if (e || ok) return e;
    out->status = 404;
    return LI_OK;
  }
  out->type = S_CSV;
  if (strcmp(path, "/report.csv") == 0) {
    snprintf(out->filename, sizeof out->filename, "linli-report-%s.csv", c->today);
    return li_report_write(&c->rep, LI_REPORT_CSV, false, c->f, eb);
  }
  if (strcmp(path, "/notices.csv") == 0) {
    snprintf(out->filename, sizeof out->filename, "notices-%s.csv", c->today);
    return s_notices_csv(c, eb);
  }
  size_t len = strlen(path);
  if (len > 5 && strcmp(path + len - 4, ".csv") == 0) {
    const s_list *l = s_list_named(path + 1, len - 5);
    if (l) {
      snprintf(out->filename, sizeof out->filename, "%s-%s.csv", l->name, c->today);
      return s_list_csv(c, l, eb);
    }
  }
  out->type = S_JSON;
  if (strcmp(path, "/api/report") == 0) return li_report_write(&c->rep, LI_REPORT_JSON, false, c->f, eb);
  if (strcmp(path, "/api/status") == 0) {
    li_status st;
    li_err e = li_inspect_status(&st, c->n, c->now_ms, eb);
    if (!e) li_render_status(c->f, &st, true);
    li_inspect_status_free(&st);
    return e;
  }
  out->status = 404;
  return LI_OK;
}

static bool s_asset(const char *path, li_web_reply *out) {
  const char *body = NULL;
  if (strcmp(path, "/app.css") == 0) {
    body = s_css;
    out->type = "text/css; charset=utf-8";
  } else if (strcmp(path, "/favicon.svg") == 0 || strcmp(path, "/favicon.ico") == 0) {
    body = s_icon;
    out->type = "image/svg+xml";
  } else if (strcmp(path, "/app.js") == 0) {
    body = s_js;
    out->type = "text/javascript; charset=utf-8";
  } else {
    return false;
  }
  out->status = 200;
  out->len = strlen(body);
  out->body = malloc(out->len + 1);
  if (out->body)
    memcpy(out->body, body, out->len + 1);
  else
    out->len = 0;
  return true;
}

li_err li_web_page(li_node *n, const char *path, li_web_arg_fn arg, void *cls, uint64_t now_ms, const char *today,
                   li_web_reply *out, li_errbuf *eb) {
  assert(n && n->r && path && arg && out && today);
  memset(out, 0, sizeof *out);
  if (s_asset(path, out)) return out->body ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory for %s", path);
  s_ctx c = {.n = n, .now_ms = now_ms, .today = today, .hub = n->r->role == LI_ROLE_HUB};
  char *buf = NULL;
  size_t len = 0;
  c.f = open_memstream(&buf, &len);
  if (!c.f) return li_fail(eb, LI_ERR_NOMEM, "out of memory for the page");
  sqlite3 *db = n->r->db;
  /* one read snapshot for the page (invariant 5); nested savepoints of the
   * report and status read inside it */
  li_err e = LI_OK;
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) e = li_db_fail(n->r, eb, "web: begin");
  if (!e) e = li_replica_catalogue_fresh(n->r, eb);
  if (!e) e = li_report_collect(&c.rep, n->r, now_ms, today, eb);
  if (!e) e = s_route(&c, path, arg, cls, out, eb);
  sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  li_report_free(&c.rep);
  if (!e && out->status == 404) {
    fclose(c.f);
    free(buf);
    li_web_error_page(out, 404, "没有这个页面", path);
    return out->body ? LI_OK : li_fail(eb, LI_ERR_NOMEM, "out of memory for the page");
  }
  return s_finish(c.f, &buf, &len, out, e, eb);
}

/* ---- pages without the replica ---- */

static void s_plain_page(li_web_reply *out, int status, const char *title, void (*body)(FILE *, const void *),
                         const void *cls) {
  memset(out, 0, sizeof *out);
  out->status = status;
  out->type = S_HTML;
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) return;
  fputs("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta "
        "charset=\"utf-8\"><title>",
        f);
  s_h(f, title);
  fputs(" · linli 邻里</title><link rel=\"stylesheet\" href=\"/app.css\"><link "
        "rel=\"icon\" href=\"/favicon.svg\" "
        "type=\"image/svg+xml\"></head>\n<body><header><span "
        "class=\"brand\">linli 邻里</span></header>\n<main>\n<h1>",
        f);
  s_h(f, title);
  fputs("</h1>\n", f);
  body(f, cls);
  fputs("</main>\n</body></html>\n", f);
  if (fclose(f) != 0) {
    free(buf);
    return;
  }
  out->body = buf;
  out->len = len;
}

static void s_error_body(FILE *f, const void *cls) {
  const char *detail = cls;
  if (detail && *detail) {
    fputs("<p><code>", f);
    s_h(f, detail);
    fputs("</code></p>\n", f);
  }
  fputs("<p><a href=\"/\">回到总览</a></p>\n", f);
}

void li_web_error_page(li_web_reply *out, int status, const char *title, const char *detail) {
  s_plain_page(out, status, title, s_error_body, detail);
}

static void s_login_body(FILE *f, const void *cls) {
  const char *message = cls;
  if (message) {
    fputs("<p class=\"bad\">", f);
    s_h(f, message);
    fputs("</p>\n", f);
  }
  fputs("<form class=\"login\" method=\"post\" action=\"/login\"><label "
        "for=\"pw\">密码</label>"
        "<input id=\"pw\" name=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required autofocus>"
        "<button type=\"submit\">登录</button></form>\n"
        "<p class=\"mute\">密码由街道在服务器上用 <code>linli web "
        "--set-password</code> 设置。</p>\n",
        f);
}

void li_web_login_page(li_web_reply *out, const char *message) {
  s_plain_page(out, 200, "登录", s_login_body, message);
}

void li_web_reply_free(li_web_reply *r) {
  free(r->body);
  memset(r, 0, sizeof *r);
}
