/* `id bigint GENERATED ALWAYS AS IDENTITY` beside the natural key
   `plan_key text NOT NULL UNIQUE`: the shape of Flagsmith's environments
   (Flagsmith/flagsmith api/environments/migrations/0001_initial.py: an id and a
   unique api_key) as Django >= 3.2 creates BigAutoField ids, made ALWAYS. DDL and
   values written for this corpus. */

/* @cycle
edit:   {file: plans/pro.yaml, replace: ["seats: 10", "seats: 12"]}
create:
  file: plans/team.yaml
  record: {plan_key: team, seats: 25, note: null}
delete: {file: plans/legacy.yaml}
*/

CREATE TABLE plans (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_key text NOT NULL UNIQUE,
    seats    integer NOT NULL,
    note     text
);

-- @seed
INSERT INTO plans (plan_key, seats, note) VALUES ('free', 1, NULL), ('pro', 10, 'most popular'), ('legacy', 3, NULL);
