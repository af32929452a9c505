import { isMismatch, mismatchField, sortReasons } from './reasons.js'
import { MATCH_FIELDS, type MatchField, type ReasonCode } from './types.js'

/**
 * The one place where outcomes are put into words: Russian for the person (title, what happened,
 * what to do next), English for support. Pages render these; code never builds Russian sentences
 * for reasons anywhere else. Texts never contain stored values (names, dates, SNILS): a page names
 * the field, the person knows their own data.
 *
 * Written for a tired parent on a phone: short sentences, no jargon, no blame. Wording follows the
 * documents of docs/sources.md: the journal's own labels («Персональные настройки», «Привязать
 * пользователя портала гос. услуг», Губкинский slides), account levels and how to confirm one
 * (Parent-meeting text, Кедровый order, Ростов recommendations), the child's consent in «Согласия и
 * доверенности» and the data the school enters (Камчатка slides).
 */

/** Which button brought the person here: the journal's link button or «Войти через Госуслуги». */
export type Flow = 'link' | 'login'

/**
 * Reason codes (docs/matching.md, «Reason codes») plus two outcomes of our own pages: `cancelled`
 * (the person pressed «Отменить» on the link page) and `flow_expired` (the flow is unknown, expired or already used:
 * a replayed callback, the back button, a second tab — "something went wrong, start again").
 */
export type MessageCode = ReasonCode | 'cancelled' | 'flow_expired'

export interface ReasonMessage {
  /** The codes this message explains (several when mismatching fields are explained together). */
  codes: MessageCode[]
  /** Russian heading for the person. */
  title: string
  /** Russian: what happened, in one or two sentences. */
  text: string
  /** Russian: what to do next, in order. */
  steps: string[]
  /** English, for support and operators. */
  operator: string
}

/** Field names as people say them (lower case, for use inside a sentence). */
export const FIELD_NAMES_RU: Record<MatchField, string> = {
  last_name: 'фамилия',
  first_name: 'имя',
  middle_name: 'отчество',
  birth_date: 'дата рождения',
  snils: 'СНИЛС',
}

const FIELD_NAMES_EN: Record<MatchField, string> = {
  last_name: 'surname',
  first_name: 'first name',
  middle_name: 'patronymic',
  birth_date: 'birth date',
  snils: 'SNILS',
}

// Labels of the buttons the person presses, exactly as the journal shows them
// (docs/sources.md: Губкинский slides).
const LINK_BUTTON = '«Привязать пользователя портала гос. услуг»'
const LOGIN_BUTTON = '«Войти через Госуслуги»'

/** Steps several messages share. */
const STEP = {
  againLink: `Затем снова нажмите в журнале ${LINK_BUTTON}.`,
  againLogin: `Затем снова нажмите ${LOGIN_BUTTON}.`,
  // docs/sources.md: Губкинский slides: ФИО shows in «Персональные настройки», opened by clicking
  // one's own name at the top right.
  compareWithJournalName:
    'Сравните данные в журнале и в профиле на Госуслугах. ФИО в журнале видно в «Персональных настройках»: нажмите на своё ФИО вверху справа.',
  compareGosuslugi: 'Сверьте данные в профиле на Госуслугах со своими документами.',
  whoFixes: 'Ошибку в журнале исправляет школа: сообщите классному руководителю или администратору. Ошибку на Госуслугах исправьте в своём профиле.',
  // A child's card bound to a parent's Госуслуги (or another parent's) is the wrong binding
  // schools' help pages warn of most.
  ownAccount: 'Проверьте, что вы вошли на Госуслуги под своей учётной записью, а не под учётной записью ребёнка или другого родителя.',
  // docs/sources.md: Камчатка slides: «Данные, необходимые для идентификации и аутентификации пользователей на портале
  // Госуслуги, внесены в ГИС» — the school enters ФИО, дата рождения, СНИЛС.
  schoolEntersData: 'Обратитесь в школу (к классному руководителю или администратору). Школа должна внести в журнал ваши ФИО, дату рождения и СНИЛС точно как в документах.',
  linkFromJournal: `Если вы входите в журнал по логину и паролю, откройте там «Персональные настройки» и нажмите ${LINK_BUTTON}. После этого вход через Госуслуги заработает.`,
} as const

/** Hints that help find a differing field (never its value). */
const FIELD_HINTS: Record<MatchField, string> = {
  last_name: 'Если вы меняли фамилию, в журнале могла остаться прежняя.',
  first_name: 'Имя в журнале должно быть записано полностью, как в паспорте, а не сокращённо.',
  middle_name: 'Отчество в журнале должно быть записано так же, как на Госуслугах. Если отчества у вас нет, в журнале оно тоже должно быть пустым.',
  birth_date: 'Дату рождения в журнал вносит школа. Попросите проверить её по документам.',
  snils: 'СНИЛС в журнал вносит школа. Попросите сверить номер с вашим СНИЛС.',
}

type PerFlow<T> = T | { link: T; login: T }
interface Entry {
  title: PerFlow<string>
  text: PerFlow<string>
  steps: PerFlow<string[]>
  operator: PerFlow<string>
}

const pick = <T>(value: PerFlow<T>, flow: Flow): T =>
  typeof value === 'object' && value !== null && 'link' in value && 'login' in value ? value[flow] : (value as T)

/** Steps with the button of the flow the person came from (`lead` + its label), then `after`. */
const thenPress = (steps: string[], lead: string, after: string[] = []): { link: string[]; login: string[] } => ({
  link: [...steps, `${lead} в журнале ${LINK_BUTTON}.`, ...after],
  login: [...steps, `${lead} ${LOGIN_BUTTON}.`, ...after],
})

const capitalise = (s: string): string => s.charAt(0).toLocaleUpperCase('ru') + s.slice(1)

/** «фамилия», «фамилия и имя», «фамилия, имя и дата рождения». */
function listRu(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} и ${items.at(-1)}`
}

/** One or several differing fields, explained together so a phone screen shows one block. */
function mismatchEntry(fields: MatchField[]): Entry {
  const names = fields.map((f) => FIELD_NAMES_RU[f])
  const single = fields.length === 1
  const what = single
    ? `${capitalise(names[0]!)} в журнале отличается от данных Госуслуг.`
    : `В журнале и на Госуслугах по-разному записаны: ${listRu(names)}.`
  const hints = fields.map((f) => FIELD_HINTS[f])
  const namesDiffer = fields.some((f) => f === 'last_name' || f === 'first_name' || f === 'middle_name')
  // In the link flow the person is signed in to the journal and can see their ФИО there.
  const compare = namesDiffer ? STEP.compareWithJournalName : STEP.compareGosuslugi
  return {
    title: single ? `Не совпадает ${names[0]}` : 'Данные не совпадают',
    text: {
      link: `${what} Поэтому мы не связали учётные записи.`,
      // At login a card is only ever found by SNILS, so saying so tells the person where to look.
      login: `${fields.includes('snils') ? '' : 'Мы нашли вашу учётную запись в журнале по СНИЛС, но данные не совпали. '}${what} Поэтому войти не получилось.`,
    },
    steps: {
      link: [...hints, compare, STEP.whoFixes, STEP.ownAccount, STEP.againLink],
      login: [...hints, STEP.compareGosuslugi, STEP.whoFixes, STEP.againLogin],
    },
    operator: `Field${single ? '' : 's'} differ${single ? 's' : ''} between the journal card and the ЕСИА record: ${fields
      .map((f) => FIELD_NAMES_EN[f])
      .join(', ')} (compared after normalisation: case, ё/е, dashes, spaces, look-alike letters). Compare the failed attempt's ЕСИА-side data with the card and correct whichever is wrong.`,
  }
}

const ENTRIES: Record<Exclude<MessageCode, `mismatch:${string}` | `idp_error:${string}`>, Entry> = {
  // docs/sources.md: Parent-meeting text, Кедровый order, Ростов recommendations: упрощённая → стандартная → подтверждённая; three ways to confirm.
  untrusted_account: {
    title: 'Нужна подтверждённая учётная запись Госуслуг',
    text: {
      link: 'Ваша учётная запись на Госуслугах упрощённая или стандартная. Привязать к журналу можно только подтверждённую.',
      login: 'Ваша учётная запись на Госуслугах упрощённая или стандартная. Войти в журнал через Госуслуги можно только с подтверждённой.',
    },
    steps: thenPress(
      [
        'Проверьте уровень учётной записи: у подтверждённой в профиле на Госуслугах стоит отметка «Подтверждено».',
        'Если в профиле ещё нет паспорта и СНИЛС, впишите их и дождитесь проверки. Обычно она занимает несколько минут.',
        'Подтвердите личность. Быстрее всего — прийти с паспортом в Центр обслуживания или МФЦ («Мои документы»): подтвердят сразу. Адреса есть на Госуслугах.',
        'Или закажите код подтверждения Почтой России. Заказное письмо идёт около двух недель. Код нужно ввести в профиле на Госуслугах.',
        'Или подтвердите личность электронной подписью: это происходит сразу.',
        'Помощь по Госуслугам: 8 800 100-70-10.',
      ],
      'Когда учётная запись станет подтверждённой, снова нажмите',
    ),
    operator:
      'The ЕСИА account is not confirmed (level P: simplified or standard). Only confirmed (PR) accounts, or child (KD) accounts with parental consent, are matched. Nothing to fix in the journal: the person confirms the account (service centre/МФЦ with a passport, code by Russian Post, or e-signature).',
  },

  // docs/sources.md: Камчатка slides: «Выдайте разрешение за три шага», through a browser, not the mobile app.
  child_consent_required: {
    title: 'Нужно согласие родителя',
    text: 'Это детская учётная запись Госуслуг. Чтобы ребёнок мог входить в электронный дневник, родитель должен один раз разрешить передачу данных ребёнка.',
    steps: thenPress(
      [
        'Родитель входит на Госуслуги через браузер, а не через мобильное приложение, и открывает профиль.',
        'В разделе «Согласия и доверенности» открывает новый запрос от органа управления образованием.',
        'Знакомится с перечнем данных и нажимает «Разрешить». Согласие даётся один раз.',
      ],
      'Затем ребёнок снова нажимает',
    ),
    operator:
      'Child (KD) ЕСИА account without parental consent. A parent must grant it once on Госуслуги: profile → «Согласия и доверенности» → the education authority\'s request → «Разрешить». Nothing to fix in the journal.',
  },

  not_found: {
    title: {
      link: 'Учётная запись журнала не найдена',
      login: 'Мы не нашли вас в электронном журнале',
    },
    text: {
      link: 'Учётной записи журнала, которую вы привязывали, больше нет. Возможно, школа изменила её.',
      login: 'В журнале нет пользователя, у которого СНИЛС, ФИО и дата рождения совпадают с данными Госуслуг.',
    },
    steps: {
      link: ['Вернитесь в журнал, войдите заново и начните привязку ещё раз.', 'Если ошибка повторится, обратитесь в школу.'],
      login: [STEP.linkFromJournal, STEP.schoolEntersData, STEP.ownAccount],
    },
    operator: {
      link: 'The journal card of this link intent no longer exists (deleted or re-keyed by the journal between the intent and the callback).',
      login:
        'No card could be auto-linked: no card carries this SNILS (present and checksum-valid), or the card found by SNILS lacks a birth date (see `missing`). Fill in SNILS and birth date on the card, or have the person link from the journal (full name suffices there).',
    },
  },

  ambiguous: {
    title: 'Нужна помощь школы',
    text: 'В одной организации нашлось несколько учётных записей журнала с вашими данными в одной и той же роли. Мы не выбираем одну из них сами, чтобы не открыть вам чужой дневник.',
    steps: {
      link: ['Сообщите об этом классному руководителю или администратору школы: в журнале должна остаться одна учётная запись.', STEP.againLink],
      login: [
        'Сообщите об этом классному руководителю или администратору школы: в журнале должна остаться одна учётная запись.',
        STEP.linkFromJournal,
      ],
    },
    operator:
      'Several cards in one organisation and role carry this person\'s SNILS. This is a data error: merge or correct the duplicates (completeness report shows collisions). The bridge never picks one.',
  },

  already_linked_elsewhere: {
    title: {
      link: 'Эти Госуслуги уже привязаны к другой учётной записи журнала',
      login: 'Учётная запись журнала связана с другими Госуслугами',
    },
    text: {
      link: 'Ваша учётная запись Госуслуг уже связана с другим пользователем журнала в этой же организации и с той же ролью. В каждой организации и роли Госуслуги можно связать только с одним пользователем журнала.',
      login: 'Мы нашли вашу учётную запись в журнале, но она уже связана с другой учётной записью Госуслуг. Такие связи мы не меняем сами.',
    },
    steps: {
      link: [
        STEP.ownAccount,
        'Если раньше Госуслуги были привязаны не к той учётной записи журнала, попросите школу удалить эту связь.',
        STEP.againLink,
      ],
      login: [
        `Если вы завели новую учётную запись на Госуслугах, войдите в журнал по логину и паролю, откройте «Персональные настройки» и нажмите ${LINK_BUTTON}.`,
        'Если вы не привязывали журнал к другим Госуслугам, сообщите об этом в школу.',
      ],
    },
    operator: {
      link: 'This ЕСИА subject already holds this organisation and role through another card. Unlink the wrong card in the console, or relink deliberately; the bridge never moves a link silently.',
      login:
        'The card found by SNILS with full evidence is linked to a different ЕСИА subject; login never moves a link. Check with the person (new ЕСИА account? wrong earlier binding?) and relink in the console if appropriate.',
    },
  },

  cancelled: {
    title: { link: 'Привязка отменена', login: 'Вход отменён' },
    text: 'Вы нажали «Отменить». Ничего не изменилось.',
    steps: {
      link: [`Привязать Госуслуги можно в любое время: в журнале откройте «Персональные настройки» и нажмите ${LINK_BUTTON}.`],
      login: [`Чтобы войти, снова нажмите ${LOGIN_BUTTON}.`],
    },
    operator: 'The person pressed «Отменить» on the bridge\'s page; nothing changed.',
  },

  flow_expired: {
    title: 'Что-то пошло не так',
    text: 'Страница устарела или ссылка уже была использована. Так мы защищаем вашу учётную запись. Ничего не изменилось.',
    steps: {
      link: [`Вернитесь в журнал и снова нажмите ${LINK_BUTTON}.`],
      login: [`Вернитесь на страницу журнала и снова нажмите ${LOGIN_BUTTON}.`],
    },
    operator:
      'Flow state missing, expired or already used (replayed callback, back button, second tab, cookie lost). Nothing changed; the person starts again.',
  },
}

// Upstream refusals (docs/esia.md, «Errors»). ЕСИА codes arrive as `ESIA-0070xx`; a standard OIDC
// provider or broker sends the OAuth error names; our adapters add names for network failures.
const DECLINED_CODES = new Set(['ESIA-007004', 'access_denied', 'consent_required'])
const UNAVAILABLE_CODES = new Set([
  'ESIA-007007', 'ESIA-007008', 'temporarily_unavailable', 'server_error', 'unavailable',
  // src/upstream/http.ts and the token key source name network failures so.
  'timeout', 'network_error', 'malformed_response', 'keys_unavailable',
])
// ЕСИА refuses an unconfirmed account itself when the system is set to confirmed-only.
const UNCONFIRMED_CODES = new Set(['ESIA-007055'])

/** What an upstream refusal code amounts to (src/matching/outcome.ts tells the journal so). */
export function upstreamCodeKind(code: string): 'declined' | 'unavailable' | 'unconfirmed' | 'other' {
  if (DECLINED_CODES.has(code)) return 'declined'
  if (UNAVAILABLE_CODES.has(code)) return 'unavailable'
  if (UNCONFIRMED_CODES.has(code)) return 'unconfirmed'
  return 'other'
}

const IDP_ENTRIES = {
  declined: {
    title: 'Вы не разрешили передать данные',
    text: {
      link: 'На Госуслугах был нажат отказ, поэтому мы не получили ваши данные и не можем проверить, что это вы.',
      login: 'На Госуслугах был нажат отказ, поэтому мы не получили ваши данные и не можем найти вас в журнале.',
    },
    steps: thenPress(
      ['Чтобы продолжить, на странице Госуслуг нужно разрешить передачу данных. Мы получаем только то, что нужно для проверки: ФИО, дату рождения и СНИЛС.'],
      'Снова нажмите',
    ),
    operator: 'The person declined to share data at ЕСИА (ESIA-007004 / access_denied). Nothing to fix.',
  },
  unavailable: {
    title: 'Госуслуги сейчас не отвечают',
    text: 'Портал Госуслуг перегружен или на нём идут технические работы. С вашими данными всё в порядке.',
    steps: thenPress(['Подождите несколько минут.'], 'Затем снова нажмите'),
    operator: 'ЕСИА unavailable: overload or maintenance (ESIA-007008), internal error (ESIA-007007), timeout or network failure. Transient; check ЕСИА status if it persists.',
  },
  other: {
    title: 'Не удалось войти через Госуслуги',
    text: 'Вход через Госуслуги не завершился из-за ошибки. Ничего не изменилось.',
    steps: thenPress([], 'Попробуйте ещё раз: снова нажмите', ['Если ошибка повторяется, сообщите в школу и укажите время попытки.']),
    operator: 'ЕСИА (or the OIDC provider) returned an error; see the code in the reason and the error table of docs/esia.md (Errors).',
  },
} satisfies Record<string, Entry>

function render(codes: MessageCode[], entry: Entry, flow: Flow): ReasonMessage {
  return {
    codes,
    title: pick(entry.title, flow),
    text: pick(entry.text, flow),
    steps: [...pick(entry.steps, flow)],
    operator: pick(entry.operator, flow),
  }
}

function describeIdpError(code: `idp_error:${string}`, flow: Flow): ReasonMessage {
  const upstreamCode = code.slice('idp_error:'.length)
  if (UNCONFIRMED_CODES.has(upstreamCode)) return { ...render([code], ENTRIES.untrusted_account, flow), operator: `${upstreamCode}: ЕСИА refused an unconfirmed account. ${pick(ENTRIES.untrusted_account.operator, flow)}` }
  const kind = DECLINED_CODES.has(upstreamCode) ? 'declined' : UNAVAILABLE_CODES.has(upstreamCode) ? 'unavailable' : 'other'
  const message = render([code], IDP_ENTRIES[kind], flow)
  // The upstream code is a protocol constant, never personal data; support needs it.
  return kind === 'other' ? { ...message, operator: `Upstream error ${upstreamCode}. ${message.operator}` } : message
}

/**
 * The message for one code in one flow. Unknown codes get the generic "start again" message
 * rather than an exception: a page must always be able to explain something.
 */
export function describeReason(code: MessageCode | string, flow: Flow): ReasonMessage {
  if (isMismatch(code)) return render([code], mismatchEntry([mismatchField(code)]), flow)
  if (code.startsWith('idp_error:')) return describeIdpError(code as `idp_error:${string}`, flow)
  const entry = Object.hasOwn(ENTRIES, code) ? ENTRIES[code as keyof typeof ENTRIES] : ENTRIES.flow_expired
  return render([code as MessageCode], entry, flow)
}

/**
 * Messages for an outcome's reasons, in explanation order, with all differing fields explained
 * together in one message (three blocks saying "this field differs" would bury the steps).
 */
export function describeReasons(codes: readonly (MessageCode | string)[], flow: Flow): ReasonMessage[] {
  const sorted = sortReasons(codes as ReasonCode[])
  const fields = MATCH_FIELDS.filter((f) => sorted.includes(`mismatch:${f}`))
  const messages: ReasonMessage[] = []
  for (const code of sorted) {
    if (isMismatch(code)) {
      if (mismatchField(code) === fields[0]) messages.push(render(fields.map((f) => `mismatch:${f}` as const), mismatchEntry(fields), flow))
    } else {
      messages.push(describeReason(code, flow))
    }
  }
  return messages
}

const ESIA_CODE = /^ESIA-\d{6}$/
// An OAuth-style code word. Anything else (free text from a provider, a crafted callback) must not
// travel into reason codes, tokens, metrics and pages.
const CODE_WORD = /^[a-z][a-z0-9_]{0,39}$/

/**
 * The reason code for an upstream failure (`UpstreamError` of src/upstream/types.ts). Keeps the
 * provider's code (support needs it) when it is an ЕСИА code or one this catalogue explains; an
 * unknown code of a `denied` or `unavailable` failure is named by that kind, so the page explains
 * the right thing; anything that is not a plain code word becomes the adapter's kind.
 */
export function upstreamErrorReason(err: { kind: string; code: string }): `idp_error:${string}` {
  const known = DECLINED_CODES.has(err.code) || UNAVAILABLE_CODES.has(err.code) || UNCONFIRMED_CODES.has(err.code)
  if (known || ESIA_CODE.test(err.code)) return `idp_error:${err.code}`
  if (err.kind === 'denied') return 'idp_error:access_denied'
  if (err.kind === 'unavailable') return 'idp_error:unavailable'
  return `idp_error:${CODE_WORD.test(err.code) ? err.code : err.kind}`
}

// ── A linked parent's children (src/flows/guardians.ts, src/matching/children.ts) ────────────────
// The link stands whatever these say; they explain why Госуслуги did not confirm a child, and
// where to look: the journal's data at school, and the «Семья и дети» section of the profile on
// Госуслуги, where a parent adds a child; the data is checked against ЕГР ЗАГС and the child's
// SNILS found automatically, which takes from minutes to five working days (docs/sources.md:
// the schools' instructions on children's accounts). Field names, never values.

/** A linked parent's children states that a page explains (`confirmed` needs no words). */
export type ChildState = 'mismatch' | 'not_in_esia' | 'unchecked'

/** Above the children: the link is done; not every child could be confirmed. */
export const CHILDREN_LINKED = {
  title: 'Госуслуги привязаны',
  text: 'Теперь вы можете входить в журнал через Госуслуги. Но не всех детей удалось подтвердить по данным Госуслуг, поэтому журнал не получит от нас подтверждения, что это ваши дети.',
  childrenTitle: 'Дети в журнале',
} as const

const FAMILY_SECTION = '«Семья и дети»'
const CHILD_STEP = {
  school: 'В школе: попросите классного руководителя сверить ФИО, дату рождения и СНИЛС ребёнка в журнале со свидетельством о рождении и СНИЛС ребёнка.',
  gosuslugi: `На Госуслугах: откройте профиль, раздел ${FAMILY_SECTION}, и проверьте данные ребёнка — ФИО, дату рождения и СНИЛС. Если СНИЛС ребёнка там нет, добавьте его: проверка может занять до пяти рабочих дней.`,
  again: `Когда данные исправят, снова нажмите ${LOGIN_BUTTON}: мы сверим детей ещё раз.`,
} as const

/** «Не совпадает: имя», «Нет на Госуслугах», «Не проверено»: one child's state in a list. */
export function childStateText(state: ChildState, reasons: readonly string[]): string {
  if (state === 'not_in_esia') return `Нет в разделе ${FAMILY_SECTION} на Госуслугах`
  if (state === 'unchecked') return 'Не проверено'
  const differ = MATCH_FIELDS.filter((f) => reasons.includes(`mismatch:${f}`)).map((f) => FIELD_NAMES_RU[f])
  const missing = MATCH_FIELDS.filter((f) => reasons.includes(`missing:${f}`)).map((f) => FIELD_NAMES_RU[f])
  return [differ.length ? `Не совпадает: ${listRu(differ)}` : '', missing.length ? `Не хватает данных: ${listRu(missing)}` : ''].filter(Boolean).join('. ')
}

/**
 * What to check, for the children that could not be confirmed, one message per kind of problem
 * (differing data, a child not on Госуслуги, children's data not shared): where to look at school
 * and on Госуслуги under «Семья и дети».
 */
export function describeChildren(children: readonly { state: ChildState; reasons: readonly string[] }[], withheld: boolean): ReasonMessage[] {
  const messages: ReasonMessage[] = []
  const mismatched = children.filter((c) => c.state === 'mismatch')
  if (mismatched.length > 0) {
    const reasons = mismatched.flatMap((c) => c.reasons)
    const differ = MATCH_FIELDS.filter((f) => reasons.includes(`mismatch:${f}`))
    const missing = MATCH_FIELDS.filter((f) => reasons.includes(`missing:${f}`) && !differ.includes(f))
    const text = [
      differ.length ? `В журнале и на Госуслугах по-разному записаны: ${listRu(differ.map((f) => FIELD_NAMES_RU[f]))}.` : '',
      missing.length ? `Для подтверждения ФИО, дата рождения и СНИЛС ребёнка должны быть и в журнале, и на Госуслугах, а сейчас где-то не хватает: ${listRu(missing.map((f) => FIELD_NAMES_RU[f]))}.` : '',
    ].filter(Boolean).join(' ')
    messages.push({
      codes: [...new Set(reasons)] as MessageCode[],
      title: mismatched.length === 1 ? 'Данные ребёнка не совпадают' : 'Данные детей не совпадают',
      text,
      steps: [CHILD_STEP.school, CHILD_STEP.gosuslugi, 'Ошибку в журнале исправляет школа, ошибку на Госуслугах — вы сами в профиле.', CHILD_STEP.again],
      operator: `A journal child's card and the child on Госуслуги differ (${differ.join(', ') || 'none'}) or lack data for confirmation (${missing.join(', ') || 'none'}); confirmation needs SNILS, full name and birth date on both sides. Compare the card with the birth certificate; the console shows ЕСИА's birth date or which card holds ЕСИА's SNILS for a differing one.`,
    })
  }
  if (children.some((c) => c.state === 'not_in_esia')) {
    messages.push({
      codes: [],
      title: 'Ребёнка нет среди ваших детей на Госуслугах',
      text: `Ребёнка из журнала нет в разделе ${FAMILY_SECTION} вашего профиля на Госуслугах, поэтому мы не можем подтвердить, что вы его родитель.`,
      steps: [
        `На Госуслугах: откройте профиль, раздел ${FAMILY_SECTION}, и добавьте ребёнка по свидетельству о рождении. Госуслуги проверят данные, это может занять несколько дней.`,
        'Если это не ваш ребёнок или вы его опекун, сообщите в школу: подтвердить опеку через Госуслуги нельзя, в журнале её отмечает школа.',
        CHILD_STEP.again,
      ],
      operator: 'The journal lists this child under the parent card, but ЕСИА does not list the child among the parent\'s children (none of them agrees on SNILS, or on birth date and a name, or on the full name). Either the parent has not added the child on Госуслуги, or the journal relation is wrong (a guardian, a step-parent, a mistake).',
    })
  }
  if (withheld && children.some((c) => c.state === 'unchecked')) {
    messages.push({
      codes: [],
      title: 'Данные детей не переданы',
      text: 'На Госуслугах не было разрешено передать данные ваших детей, поэтому мы не сверили детей в журнале. На привязку это не влияет.',
      steps: [`В следующий раз на странице Госуслуг разрешите передать ФИО, даты рождения и СНИЛС детей: тогда мы сверим их при входе через ${LOGIN_BUTTON}.`],
      operator: 'The person did not grant the kid scopes (kid_fullname, kid_birthdate, kid_snils): relations stay unchecked until a login that grants them.',
    })
  }
  return messages
}
