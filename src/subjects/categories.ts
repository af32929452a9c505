import type { Config } from '../config.js'
import { LOGIN_SESSION_KEEP_DAYS } from '../events/sessions.js'

/**
 * What the bridge holds about a person, category by category, with the words a reply to the person
 * needs (152-ФЗ ст. 14 ч. 7: the data, the purpose and the legal basis of the processing, how long
 * it is kept). One catalogue, read by the report (src/subjects/report.ts), the console page and the
 * destruction records, so a category is called the same everywhere. docs/personal-data.md explains
 * each in English for operators.
 */
export const CATEGORY_CODES = [
  'directory_cards',
  'links',
  'failed_attempts',
  'guardians',
  'audit_events',
  'journal_events',
  'login_sessions',
  'transient',
] as const
export type CategoryCode = (typeof CATEGORY_CODES)[number]

export interface CategoryText {
  title: string
  /** What the data is for. */
  purpose: string
  /** The legal basis (an article of 152-ФЗ). */
  legalBasis: string
  /** How long it is kept and what ends it. */
  retention: string
  /** Who owns the data, when it is not the bridge's to delete on a request. */
  note?: string
}

const CONSENT = 'согласие субъекта персональных данных, ст. 6 ч. 1 п. 1 152-ФЗ (за ребёнка — законного представителя, ст. 9 ч. 6 152-ФЗ), данное при входе на Госуслуги'
const ASSIGNMENT = 'поручение оператора электронного журнала, ст. 6 ч. 3 152-ФЗ'

const days = (n: number): string => {
  const last = n % 10
  const word = n % 100 >= 11 && n % 100 <= 14 ? 'дней' : last === 1 ? 'день' : last >= 2 && last <= 4 ? 'дня' : 'дней'
  return `${n} ${word}`
}

export function categoryTexts(config: Pick<Config, 'failedAttemptRetentionDays' | 'auditRetentionDays' | 'eventsRetentionDays'>): Record<CategoryCode, CategoryText> {
  return {
    directory_cards: {
      title: 'Карточки в справочнике журнала',
      purpose: 'Сверка данных учётной записи Госуслуг с данными журнала при привязке и входе.',
      legalBasis: ASSIGNMENT,
      retention: 'Пока журнал передаёт карточку в своём справочнике; СНИЛС хранится только в виде необратимого кода (HMAC).',
      note: 'Карточки — данные журнала. Мост хранит их копию и удаляет её, когда журнал удалит карточку из справочника; об удалении самой карточки человек обращается к оператору журнала (школе).',
    },
    links: {
      title: 'Связь с учётной записью Госуслуг',
      purpose: 'Вход в электронный журнал через Госуслуги.',
      legalBasis: CONSENT,
      retention: 'До отвязки (самим человеком, журналом или поддержкой), отзыва согласия или удаления карточки журналом.',
    },
    failed_attempts: {
      title: 'Неудачные попытки привязки и входа',
      purpose: 'Показать поддержке, какие данные не совпали, чтобы исправить карточку в журнале.',
      legalBasis: CONSENT,
      retention: `${days(config.failedAttemptRetentionDays)} с попытки, затем удаляются автоматически (FAILED_ATTEMPT_RETENTION_DAYS).`,
    },
    guardians: {
      title: 'Родители и дети: сверка с Госуслугами',
      purpose: 'Подтвердить, что родитель в журнале — законный представитель ребёнка по данным Госуслуг.',
      legalBasis: CONSENT,
      retention: `Связи родитель — ребёнок передаёт журнал; результат сверки хранится, пока есть связь, а данные Госуслуг при расхождении (дата рождения, код СНИЛС) — ${days(config.failedAttemptRetentionDays)}.`,
    },
    audit_events: {
      title: 'Журнал действий',
      purpose: 'Учёт действий с персональными данными: кто, когда и что сделал.',
      legalBasis: 'исполнение обязанности оператора, ст. 6 ч. 1 п. 2 и ст. 19 ч. 2 152-ФЗ',
      retention: `${days(config.auditRetentionDays)} (AUDIT_RETENTION_DAYS), затем обезличиваются: запись о действии остаётся, вместо человека — псевдоним.`,
    },
    journal_events: {
      title: 'События для журнала',
      purpose: 'Сообщить журналу об изменении связи и о завершении сеансов входа.',
      legalBasis: ASSIGNMENT,
      retention: `${days(config.eventsRetentionDays)} после доставки (EVENTS_RETENTION_DAYS); недоставленные — пока журнал их не получит или не истечёт срок повторов.`,
    },
    login_sessions: {
      title: 'Сеансы входа в журнал через Госуслуги',
      purpose: 'Завершить сеанс в журнале, когда человек выходит или связь удаляется (выход по обратному каналу).',
      legalBasis: CONSENT,
      retention: `До выхода или ${days(LOGIN_SESSION_KEEP_DAYS)} со входа.`,
    },
    transient: {
      title: 'Незавершённые привязки и входы',
      purpose: 'Довести начатую привязку или вход до конца.',
      legalBasis: CONSENT,
      retention: 'Минуты: удаляются после использования или по истечении срока (не больше 10 минут).',
    },
  }
}

/** Words of the destruction records (src/subjects/destruction.ts) and their CSV. */
export const DESTRUCTION_BASIS: Record<string, string> = { request: 'запрос субъекта персональных данных', retention: 'истёк срок хранения' }
export const DESTRUCTION_ACTIONS: Record<string, string> = { deleted: 'удаление из базы данных', pseudonymised: 'обезличивание' }
