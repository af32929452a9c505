-- Up Migration

-- «Нет отчества»: the school wrote «-», «нет» or «отсутствует» in the patronymic column, which says
-- the person has none (src/matching/normalize.ts). Before this column such a card looked exactly
-- like one whose patronymic was never filled in, and «Контроль заполнения данных» kept listing it
-- as «Без отчества» with nothing anyone could fix. Cards written before it stay false until the
-- journal sends them again.
ALTER TABLE journal_users ADD COLUMN no_middle_name boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT journal_users_no_middle_name_check CHECK (NOT no_middle_name OR norm_middle_name IS NULL);

-- Down Migration
ALTER TABLE journal_users DROP COLUMN no_middle_name;
