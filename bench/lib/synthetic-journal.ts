import { snilsCheckNumber } from '../../src/matching/snils.js'
import { CSV_HEADER } from '../../src/directory/import/rows.js'

/**
 * A synthetic journal export: realistic Russian names (male and female forms, patronymics made from
 * fathers' names, a long tail of rare surnames, hyphenated ones, ё), birth dates by role, SNILS
 * mostly valid and written the ways schools write them, and the defects «Контроль заполнения
 * данных» exists for: missing SNILS, patronymic or birth date, wrong check digits, malformed
 * numbers, shared SNILS, impossible dates, repeated ids, unknown organisations.
 *
 * Deterministic (a seeded generator), so two runs import the same file.
 */
const MALE_SURNAMES = `Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков
Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев
Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев
Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов Филиппов
Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков Миронов Крылов Куликов Карпов
Власов Мельников Денисов Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов
Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов Коновалов Лазарев
Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников Трофимов Леонов
Соболев Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов
Малышев Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Ерёмин Тихомиров Галкин Лукьянов
Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Митрофанов Воронцов
Мухин Римский-Корсаков Петров-Водкин Бестужев-Рюмин`.split(/\s+/)
const SKY_SURNAMES = 'Успенский Вознесенский Покровский Преображенский Рождественский Троицкий Богоявленский Никольский Введенский'.split(' ')
const NEUTRAL_SURNAMES = 'Шевченко Коваленко Бондаренко Ткаченко Кравченко Мельничук Ковальчук Гордиенко Дурново Седых Черных Долгих'.split(' ')
const SYLLABLES = 'ка ра со ло ми на те ве ду бо ре жи ку ше ля ма то по ни зе гу фе хо цы ча'.split(' ')
const ENDINGS = ['ов', 'ев', 'ин', 'ёв', 'ский', 'цкий', 'енко', 'ук']

const MALE_NAMES: [string, string, string][] = [
  // name, patronymic (son), patronymic (daughter)
  ['Александр', 'Александрович', 'Александровна'], ['Сергей', 'Сергеевич', 'Сергеевна'], ['Дмитрий', 'Дмитриевич', 'Дмитриевна'],
  ['Андрей', 'Андреевич', 'Андреевна'], ['Алексей', 'Алексеевич', 'Алексеевна'], ['Максим', 'Максимович', 'Максимовна'],
  ['Евгений', 'Евгеньевич', 'Евгеньевна'], ['Иван', 'Иванович', 'Ивановна'], ['Михаил', 'Михайлович', 'Михайловна'],
  ['Артём', 'Артёмович', 'Артёмовна'], ['Никита', 'Никитич', 'Никитична'], ['Илья', 'Ильич', 'Ильинична'],
  ['Павел', 'Павлович', 'Павловна'], ['Владимир', 'Владимирович', 'Владимировна'], ['Николай', 'Николаевич', 'Николаевна'],
  ['Кирилл', 'Кириллович', 'Кирилловна'], ['Роман', 'Романович', 'Романовна'], ['Олег', 'Олегович', 'Олеговна'],
  ['Денис', 'Денисович', 'Денисовна'], ['Игорь', 'Игоревич', 'Игоревна'], ['Пётр', 'Петрович', 'Петровна'],
  ['Лев', 'Львович', 'Львовна'], ['Юрий', 'Юрьевич', 'Юрьевна'], ['Константин', 'Константинович', 'Константиновна'],
  ['Тимофей', 'Тимофеевич', 'Тимофеевна'], ['Матвей', 'Матвеевич', 'Матвеевна'], ['Фёдор', 'Фёдорович', 'Фёдоровна'],
  ['Егор', 'Егорович', 'Егоровна'], ['Виктор', 'Викторович', 'Викторовна'], ['Григорий', 'Григорьевич', 'Григорьевна'],
]
const FEMALE_NAMES = `Анна Мария Елена Ольга Наталья Татьяна Ирина Светлана Екатерина Анастасия Дарья Полина Виктория
Юлия Ксения Алёна Софья Алиса Варвара Вероника Надежда Людмила Галина Марина Евгения Валентина Кристина Арина
Ульяна Таисия`.split(/\s+/)

const ROLES: [string, number][] = [['Ученик', 0.45], ['Родитель', 0.45], ['Сотрудник', 0.09], ['Администратор', 0.01]]

export const SYNTHETIC_ORGANIZATIONS = 500
export const organizationId = (i: number) => `school-${String(i + 1).padStart(3, '0')}`

/** mulberry32: small, fast, good enough to make data look random and stay reproducible. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function validSnils(nine: number): string {
  const first9 = String(nine).padStart(9, '0')
  return first9 + String(snilsCheckNumber(first9)).padStart(2, '0')
}

export interface SyntheticRow {
  line: string
}

export interface SyntheticOptions {
  rows: number
  seed?: number
  /** Share of the rows that go to the first school (a region's largest organisation); omitted: none apart. */
  largestShare?: number
}

/** CSV text (header first) in chunks of about 256 KiB; the file never exists in memory as a whole. */
export function* syntheticJournalCsv(opts: SyntheticOptions): Generator<string> {
  const rnd = random(opts.seed ?? 20240901)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!
  const chance = (p: number) => rnd() < p
  const pad = (n: number, w: number) => String(n).padStart(w, '0')

  const surname = (female: boolean): string => {
    let base: string
    const r = rnd()
    if (r < 0.8) base = pick(MALE_SURNAMES)
    else if (r < 0.85) base = pick(SKY_SURNAMES)
    else if (r < 0.9) return pick(NEUTRAL_SURNAMES)
    else {
      // The long tail: rare surnames the name cache has not seen.
      const syllables = 2 + Math.floor(rnd() * 2)
      let s = ''
      for (let i = 0; i < syllables; i++) s += pick(SYLLABLES)
      base = s[0]!.toUpperCase() + s.slice(1) + pick(ENDINGS)
    }
    if (!female) return base
    return base
      .split('-')
      .map((p) => (/(ский|цкий)$/.test(p) ? p.replace(/ий$/, 'ая') : /(ов|ев|ёв|ин)$/.test(p) ? `${p}а` : p))
      .join('-')
  }
  const snilsText = (digits: string): string => {
    const r = rnd()
    if (r < 0.6) return `${digits.slice(0, 3)}-${digits.slice(3, 6)}-${digits.slice(6, 9)} ${digits.slice(9)}`
    if (r < 0.9) return digits
    return `${digits.slice(0, 3)} ${digits.slice(3, 6)} ${digits.slice(6, 9)} ${digits.slice(9)}`
  }
  const birthDate = (role: string): string => {
    const [from, span] = role === 'Ученик' ? [2007, 12] : role === 'Родитель' ? [1970, 25] : [1960, 40]
    const y = from + Math.floor(rnd() * span)
    const m = 1 + Math.floor(rnd() * 12)
    const d = 1 + Math.floor(rnd() * 28)
    return chance(0.5) ? `${pad(d, 2)}.${pad(m, 2)}.${y}` : `${y}-${pad(m, 2)}-${pad(d, 2)}`
  }

  let chunk = `${CSV_HEADER}\n`
  let lastSnils = validSnils(100_000_000)
  for (let i = 0; i < opts.rows; i++) {
    let roll = rnd()
    let role = ROLES[ROLES.length - 1]![0]
    for (const [name, share] of ROLES) {
      if (roll < share) {
        role = name
        break
      }
      roll -= share
    }
    const female = chance(0.52)
    const last = surname(female)
    const father = pick(MALE_NAMES)
    const first = female ? pick(FEMALE_NAMES) : pick(MALE_NAMES)[0]
    const middle = chance(0.03) ? (chance(0.5) ? '' : '-') : female ? father[2] : father[1]
    const date = chance(0.02) ? '' : chance(0.0005) ? '31.02.2012' : birthDate(role)

    let snils: string
    const s = rnd()
    if (s < 0.04) snils = ''
    else if (s < 0.05) {
      const digits = validSnils(2_000_000 + Math.floor(rnd() * 990_000_000))
      snils = snilsText(digits.slice(0, 9) + pad((Number(digits.slice(9)) + 1) % 100, 2))
    } else if (s < 0.0505) snils = '123-456-78'
    else if (s < 0.0515) snils = snilsText(lastSnils)
    else {
      lastSnils = validSnils(2_000_000 + Math.floor(rnd() * 990_000_000))
      snils = snilsText(lastSnils)
    }

    const org = chance(0.0005)
      ? 'school-999'
      : opts.largestShare !== undefined && chance(opts.largestShare)
        ? organizationId(0)
        : organizationId(Math.floor(rnd() * SYNTHETIC_ORGANIZATIONS))
    // Journal ids: unique numbers in no particular order (a multiplicative permutation of 1..N),
    // with a few repeated as exports sometimes do.
    const id = chance(0.0005) && i > 0 ? String(((Math.floor(rnd() * i) + 1) * 2654435761) % 4294967296) : String(((i + 1) * 2654435761) % 4294967296)

    chunk += `${last};${first};${middle};${date};${snils};${role};${org};${id}\n`
    if (chunk.length > 256 * 1024) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk) yield chunk
}
