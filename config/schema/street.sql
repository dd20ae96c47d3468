-- linli default schema: the records of Xinhua Road street's 2025 work plan
-- (see DOMAIN.md). Every table is tracked: it has a TEXT column `scope` (the
-- committee code of the row, or 'street' for street-wide rows) and a
-- PRIMARY KEY that includes it, so a row is (scope, id): two committees
-- choosing one id hold two rows, and neither can block the other (ids are
-- 128 random bits by default, or a code the writer chooses).
-- Personal data is kept to the minimum (PIPL): residents and parties appear
-- only as committee-local reference codes, never names, ID or phone numbers.
-- No foreign keys between tracked tables: rows arrive from other replicas in
-- commit order, not in referential order.
-- CHECKs list values with OR rather than IN (...): SQLite 3.40 builds a
-- temporary b-tree for an IN list on every row checked (measured: about a
-- third of a plain insert's cost), an OR chain costs next to nothing.
-- schema_version: 1

-- 特殊困难老年人关爱探访 / 助餐 / 适老化改造 / 无障碍: elderly-care visits.
CREATE TABLE IF NOT EXISTS care_visits (
  id           TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope        TEXT NOT NULL,
  resident_ref TEXT NOT NULL,             -- committee-local resident code
  visited_on   TEXT NOT NULL,             -- YYYY-MM-DD
  visitor      TEXT,                      -- staff reference
  kind         TEXT NOT NULL DEFAULT '探访'
               CHECK (kind = '探访' OR kind = '助餐' OR kind = '适老化改造' OR kind = '无障碍'),
  outcome      TEXT,
  follow_up    INTEGER NOT NULL DEFAULT 0 CHECK (follow_up = 0 OR follow_up = 1),
  note         TEXT,
  PRIMARY KEY (id, scope)
);
CREATE INDEX IF NOT EXISTS care_visits_scope_date ON care_visits(scope, visited_on);

-- 助餐点位: meal-assistance points.
CREATE TABLE IF NOT EXISTS meal_points (
  id        TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope     TEXT NOT NULL,
  place     TEXT NOT NULL,
  capacity  INTEGER CHECK (capacity IS NULL OR capacity >= 0),
  hours     TEXT,                         -- e.g. '11:00-13:00'
  status    TEXT NOT NULL DEFAULT '运营' CHECK (status = '筹建' OR status = '运营' OR status = '暂停' OR status = '关闭'),
  PRIMARY KEY (id, scope)
);

-- 隐患排查、交办、整改、复核、督查、销号: hazards and their lifecycle.
CREATE TABLE IF NOT EXISTS hazards (
  id          TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope       TEXT NOT NULL,
  category    TEXT NOT NULL CHECK (category = '燃气' OR category = '消防' OR category = '电动自行车' OR category = '九小场所' OR category = '老旧小区' OR category = '建筑工地' OR category = '其他'),
  location    TEXT NOT NULL,
  description TEXT,
  stage       TEXT NOT NULL DEFAULT '排查' CHECK (stage = '排查' OR stage = '交办' OR stage = '整改' OR stage = '复核' OR stage = '督查' OR stage = '销号'),
  found_on    TEXT NOT NULL,              -- YYYY-MM-DD
  found_by    TEXT,                       -- committee or inspector reference
  assigned_to TEXT,                       -- who rectifies (owner, committee)
  deadline    TEXT,                       -- YYYY-MM-DD; overdue if past and not 销号
  closed_on   TEXT,
  PRIMARY KEY (id, scope)
);
CREATE INDEX IF NOT EXISTS hazards_scope_stage ON hazards(scope, stage);

-- 市民热线 12345 诉求 and 好差评: hotline cases.
CREATE TABLE IF NOT EXISTS hotline_cases (
  id           TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope        TEXT NOT NULL,
  case_no      TEXT NOT NULL,             -- 12345 case number
  category     TEXT,
  received_on  TEXT NOT NULL,
  due_on       TEXT,
  response     TEXT,
  status       TEXT NOT NULL DEFAULT '受理' CHECK (status = '受理' OR status = '办理中' OR status = '已答复' OR status = '已办结'),
  satisfaction TEXT CHECK (satisfaction IS NULL OR satisfaction = '好' OR satisfaction = '差'),
  PRIMARY KEY (id, scope)
);
CREATE INDEX IF NOT EXISTS hotline_scope_status ON hotline_cases(scope, status);

-- 矛盾纠纷多元化解, 人民调解: dispute mediations.
CREATE TABLE IF NOT EXISTS disputes (
  id          TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope       TEXT NOT NULL,
  parties_ref TEXT NOT NULL,              -- reference codes of the parties
  category    TEXT,                       -- 邻里, 物业, 家庭, ...
  mediator    TEXT,
  status      TEXT NOT NULL DEFAULT '受理' CHECK (status = '受理' OR status = '调解中' OR status = '调解成功' OR status = '调解不成' OR status = '已转介'),
  outcome     TEXT,
  opened_on   TEXT NOT NULL,
  closed_on   TEXT,
  PRIMARY KEY (id, scope)
);

-- 走访服务企业, 服务包: enterprise service visits.
CREATE TABLE IF NOT EXISTS enterprise_visits (
  id          TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope       TEXT NOT NULL,
  enterprise  TEXT NOT NULL,
  building    TEXT,                       -- 楼宇
  visited_on  TEXT NOT NULL,
  issues      TEXT,
  follow_up   TEXT,
  PRIMARY KEY (id, scope)
);

-- 交办 and 重要节点: street notices and directives.
CREATE TABLE IF NOT EXISTS notices (
  id          TEXT NOT NULL DEFAULT (lower(hex(randomblob(16)))),
  scope       TEXT NOT NULL DEFAULT 'street',
  title       TEXT NOT NULL,
  body        TEXT,
  audience    TEXT NOT NULL DEFAULT 'all', -- 'all' or comma-separated committee codes
  valid_from  TEXT,
  valid_to    TEXT,
  issued_by   TEXT,
  PRIMARY KEY (id, scope)
);

-- A committee's acknowledgement of a notice, written in its own scope: one
-- row per (notice, committee), keyed by that pair. (It used to have an id
-- of its own, notice id || '/' || committee, which another committee could
-- write first in its scope and so block the real one.)
CREATE TABLE IF NOT EXISTS notice_acks (
  notice_id   TEXT NOT NULL,
  scope       TEXT NOT NULL,
  acked_on    TEXT NOT NULL,
  acked_by    TEXT,
  PRIMARY KEY (notice_id, scope)
);
