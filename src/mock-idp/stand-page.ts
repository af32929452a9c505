import { html } from '../web/html.js'
import type { Persona } from './personas.js'

/** What signing in as each persona checks in the bridge and the journal. */
const CHECKS: Record<string, string> = {
  'parent-two-schools': 'привязку из «Персональных настроек» и «Выберите организацию»: её карточки в двух школах',
  'teacher-parent': '«Выберите организацию» при входе: две карточки (учитель и родитель) в одной школе',
  'standard-account': 'отказ: учётная запись не подтверждена — человеку объясняют, как её подтвердить',
  'simplified-account': 'отказ: упрощённая учётная запись без СНИЛС и даты рождения',
  'child-with-consent': 'вход ребёнка с согласием родителя',
  'child-without-consent': 'отказ: нужно согласие родителя на портале Госуслуг',
  'name-with-yo': 'сравнение «ё» и «е»: привязка проходит',
  'double-surname': 'двойную фамилию, записанную по-разному: привязка проходит',
  'no-patronymic': 'отсутствие отчества (в журнале прочерк): привязка проходит',
  'journal-typo': 'расхождение данных: человек видит, какое поле исправить, журнал — «фамилия не совпадает»',
  'shared-snils': 'один СНИЛС в двух карточках: вход не выполнен, консоль показывает обе карточки',
  'no-snils-in-journal': 'карточку без СНИЛС: консоль находит её по ФИО и дате рождения',
  'esia-test-snils': 'СНИЛС из тестового диапазона стенда ЕСИА',
  declines: 'отмену на Госуслугах («Отказать»): журнал сообщает об отмене, а не об ошибке',
  'unknown-to-journal': 'человека, которого нет в журнале: вход не выполнен',
  'parent-two-children': 'проверку детей родителя: оба ребёнка подтверждаются',
  'parent-child-typo': 'опечатку в имени ребёнка в журнале',
  'parent-child-not-in-journal': 'ребёнка на Госуслугах, которого нет в журнале',
  'parent-journal-child-not-in-esia': 'ребёнка в журнале, которого нет на Госуслугах',
  'parent-declines-kids': 'отказ передать данные детей',
}

const LEVELS: { level: Persona['level']; title: string }[] = [
  { level: 'PR', title: 'Подтверждённые учётные записи' },
  { level: 'P', title: 'Стандартные и упрощённые учётные записи' },
  { level: 'KD', title: 'Детские учётные записи' },
]

/**
 * The mock's `/`: the test stand's page — what it is, where a login starts, and the people one can
 * sign in as with what each checks. `frame` is the mock's page frame (pages.ts).
 */
export function standPage(personas: readonly Persona[], frame: (title: string, body: ReturnType<typeof html>) => string): string {
  const groups = LEVELS.map((g) => ({ ...g, personas: personas.filter((p) => p.level === g.level) })).filter((g) => g.personas.length > 0)
  return frame('Тестовый стенд', html`<div class="g-card">
<h1>Тестовый вход Госуслуг</h1>
<p class="g-muted">Имитация ЕСИА для разработки и проверки моста. Все люди вымышлены.</p>
<p>Вход начинается не здесь, а в системе, подключённой к стенду: в демо-журнале нажмите
«Войти через Госуслуги» или в «Персональных настройках» — «Привязать пользователя портала гос. услуг».
Стенд покажет страницу входа, где можно выбрать любого из этих людей.</p>
<p>Для подключения: <a href="/oidc/.well-known/openid-configuration">настройки OpenID Connect</a> стенда.</p>
${groups.map((g) => html`<h2>${g.title}</h2>
<ul class="g-list">
${g.personas.map((p) => html`<li><strong>${p.label}</strong>${p.journalCards.length > 0 ? html` <span class="g-tag">в журнале: ${p.journalCards.join(', ')}</span>` : ''}
<span class="g-desc">${p.description}</span>
${CHECKS[p.id] ? html`<span class="g-desc">Проверяет: ${CHECKS[p.id]}.</span>` : ''}</li>`)}
</ul>`)}
</div>`)
}
