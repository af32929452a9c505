import { describeReason, FIELD_NAMES_RU } from '../../matching/messages.js'
import type { MatchField } from '../../matching/types.js'

/**
 * The console's words, in one place. Written for a school administrator at the end of a long day:
 * what happened and what to do, no codes unless they help. Texts about why a link or login failed
 * come from the matching catalogue (src/matching/messages.ts), never from here.
 */

/** Errors (API error codes) as the console says them. */
export const ERRORS: Record<string, string> = {
  reason_required: 'Укажите причину — она попадёт в журнал действий.',
  reason_too_long: 'Причина слишком длинная: уложитесь в 1000 знаков.',
  forbidden: 'Нет доступа к этой организации (или такой записи нет).',
  read_only: 'Ваша роль — аудитор: можно смотреть, но не изменять.',
  admin_only: 'Это может сделать только администратор.',
  not_linked: 'У пользователя нет связи с Госуслугами.',
  target_linked: 'У выбранной карточки уже есть связь с Госуслугами. Сначала отвяжите её.',
  same_user: 'Связь уже на этой карточке.',
  already_linked_elsewhere: 'Эта учётная запись Госуслуг уже связана с другой карточкой той же организации и роли. Перенесите связь с той карточки.',
  journal_user_not_found: 'Такой карточки в журнале нет.',
  already_resolved: 'Эту попытку уже разобрали.',
  no_subject: 'Попытка прервалась до того, как Госуслуги назвали человека: связывать не с чем.',
  not_overridable: 'Эту попытку нельзя связать вручную: учётная запись не подтверждена, нет согласия родителя или ошибка на стороне Госуслуг. Это исправляет сам человек на Госуслугах.',
  journal_user_required: 'Укажите идентификатор карточки в журнале, с которой нужно связать.',
  journal_user_mismatch: 'Эта попытка относится к другой карточке.',
  invalid_snils: 'СНИЛС должен состоять из 11 цифр.',
  request_number_required: 'Укажите номер запроса человека — он попадёт в запись об уничтожении.',
  request_number_too_long: 'Номер запроса слишком длинный: уложитесь в 100 знаков.',
  request_date_required: 'Укажите дату запроса человека.',
  request_date_in_future: 'Дата запроса не может быть в будущем.',
  nothing_to_erase: 'Уничтожать нечего: мост не хранит об этом человеке ничего, кроме карточек журнала.',
  report_changed: 'Данные изменились с момента просмотра отчёта — откройте отчёт снова.',
  different_people: 'Найденные карточки расходятся в фамилии, имени или дате рождения — похоже, это разные люди (например, СНИЛС одной карточки ошибочно внесён в другую). Ничего не уничтожено: откройте отчёт по нужной карточке и уничтожьте данные по ней.',
  confirm_required: 'Подтвердите, что понимаете последствия уничтожения.',
  lookup_required: 'Укажите человека одним способом: идентификатор карточки, учётную запись ЕСИА или СНИЛС.',
  not_found: 'Запись не найдена.',
  invalid_login: 'Логин: от 2 до 64 латинских букв, цифр и знаков . _ @ -',
  login_taken: 'Учётная запись с таким логином уже есть.',
  invalid_scope: 'Сотруднику поддержки нужна хотя бы одна организация; администратору организации не указываются.',
  unknown_organization: 'Такой организации нет в справочнике.',
  weak_password: 'Пароль должен быть не короче 12 знаков.',
  wrong_password: 'Текущий пароль указан неверно.',
  passwords_differ: 'Новый пароль и его повтор не совпадают.',
  self_disable: 'Свою учётную запись отключить нельзя.',
  csrf: 'Страница устарела. Обновите её и повторите действие.',
  login_failed: 'Неверный логин или пароль.',
  login_blocked: 'Слишком много неудачных попыток входа. Подождите 15 минут и попробуйте снова.',
  invalid_request: 'Проверьте, что поля формы заполнены правильно.',
  rate_limited: 'Слишком много запросов. Подождите минуту.',
  file_required: 'Выберите файл CSV.',
  file_too_large: 'Файл слишком большой для загрузки через консоль. Разделите его на части или загрузите через API.',
  import_expired: 'Проверенный файл больше не хранится (прошло больше 30 минут). Загрузите его снова.',
  organization_required: 'Для режима «Заменить список организации» выберите организацию.',
  empty_file: 'Файл пустой.',
  bad_header: 'Первая строка файла должна быть заголовком: Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор.',
  unsupported_charset: 'Кодировка файла не поддерживается: сохраните его в UTF-8 или Windows-1251.',
  undecodable: 'Не удалось прочитать текст файла: сохраните его в UTF-8 или Windows-1251.',
  malformed_csv: 'Файл CSV повреждён (например, не закрыта кавычка). Сохраните его из таблицы заново как «CSV (разделители — точка с запятой)».',
  malformed_ndjson: 'Файл NDJSON повреждён: в каждой строке должен быть один объект JSON.',
  unreadable_row: 'В одной из строк файла число столбцов не совпадает с заголовком. При замене списка организации каждая строка должна называть свою карточку, поэтому ничего не изменено: исправьте строку и загрузите файл снова.',
  too_large: 'Файл слишком большой для загрузки через консоль. Разделите его на части или загрузите через API.',
  unsupported_media_type: 'Отправьте файл CSV.',
  nothing_to_retry: 'Повторять нечего: все события этого журнала доставлены или уже отправляются.',
  report_unavailable: 'Отчёт сейчас недоступен, попробуйте позже.',
  unavailable: 'Сервис временно не работает: нет связи с базой данных. Подождите несколько минут и обновите страницу.',
  internal_error: 'Что-то пошло не так. Повторите через минуту; если не получится, сообщите администратору номер запроса.',
}

export const errorText = (code: string): string => ERRORS[code] ?? ERRORS.invalid_request!

/** Confirmations after a redirect (`?done=…`). */
export const NOTICES: Record<string, string> = {
  unlinked: 'Связь с Госуслугами удалена. Действие записано в журнал.',
  linked: 'Связь создана. Действие записано в журнал.',
  moved: 'Связь перенесена. Действие записано в журнал.',
  resolved: 'Попытка отмечена как разобранная.',
  token_revoked: 'Токен отозван.',
  account_updated: 'Учётная запись изменена.',
  password_changed: 'Пароль изменён.',
  logged_out: 'Вы вышли из консоли.',
  imported: 'Изменения применены.',
  events_retried: 'События поставлены на отправку. Действие записано в журнал.',
  erased: 'Данные уничтожены, события для журнала об удалении связей поставлены в очередь. Запись об уничтожении — ниже.',
  erased_unlinked: 'Данные уничтожены. Запись об уничтожении — ниже.',
}

export const ROLE_NAMES: Record<string, string> = { parent: 'Родитель', student: 'Обучающийся', staff: 'Сотрудник', admin: 'Администратор' }
export const SUPPORT_ROLE_NAMES: Record<string, string> = { admin: 'Администратор (все организации)', support: 'Поддержка (свои организации)', auditor: 'Аудитор (только просмотр)' }

export const LINK_METHODS: Record<string, string> = {
  link: 'привязал сам пользователь в журнале',
  auto: 'автоматически при входе (совпали СНИЛС, ФИО и дата рождения)',
  support_override: 'поддержка, вопреки расхождению',
  support_move: 'поддержка, перенос с другой карточки',
}

export const LEVELS: Record<string, string> = { PR: 'подтверждённая', P: 'упрощённая или стандартная', KD: 'детская' }

/** Completeness problems (src/directory/cards.ts CARD_PROBLEMS), as the «Контроль заполнения данных» report names them. */
export const PROBLEMS: Record<string, string> = {
  without_snils: 'Не указан СНИЛС',
  invalid_snils: 'СНИЛС с неверной контрольной суммой',
  without_birth_date: 'Не указана дата рождения',
  without_middle_name: 'Не указано отчество (если его нет — всё верно)',
  shared_snils: 'Такой же СНИЛС у другой карточки той же организации и роли',
  parents_without_children: 'Родитель без детей в журнале',
  children_without_parents: 'Ребёнок без родителей в журнале',
}

export const FIELD_STATES: Record<string, string> = {
  agrees: 'совпадает',
  differs: 'различается',
  missing_in_journal: 'нет в журнале',
  missing_in_esia: 'нет на Госуслугах',
  missing: 'нет с обеих сторон',
  not_compared: 'не сравнивалось',
}

/** «Фамилия», «Дата рождения»: the matching catalogue's field names, capitalised for a table. */
export const fieldLabel = (field: MatchField): string => {
  const name = FIELD_NAMES_RU[field]
  return name.charAt(0).toUpperCase() + name.slice(1)
}

/** Short Russian title of a failure reason, from the matching catalogue. */
export const reasonTitle = (code: string, flow: 'link' | 'login'): string => describeReason(code, flow).title

export const FLOWS: Record<string, string> = { link: 'Привязка из журнала', login: 'Вход через Госуслуги' }

/** Audit event types people read in the console and exports. */
export const EVENT_TYPES: Record<string, string> = {
  'link.created': 'Связь создана',
  'link.replaced': 'Связь заменена',
  'link.confirmed': 'Связь подтверждена',
  'link.removed': 'Связь удалена',
  'link.failed': 'Привязка не удалась',
  'login.succeeded': 'Вход выполнен',
  'login.failed': 'Вход не удался',
  'support.user_viewed': 'Просмотр карточки',
  'support.search': 'Поиск пользователей',
  'support.failed_attempts_viewed': 'Просмотр неудачных попыток',
  'support.failed_attempt_viewed': 'Просмотр неудачной попытки',
  'support.failed_attempt_resolved': 'Попытка разобрана',
  'support.export': 'Выгрузка данных',
  'support.import': 'Пакетное обновление (поддержка)',
  'support.problem_cards_viewed': 'Просмотр карточек с незаполненными данными',
  'support.guardians_viewed': 'Просмотр родителей с неподтверждёнными детьми',
  'guardian.checked': 'Дети сверены с Госуслугами',
  'directory.user_upserted': 'Карточка добавлена или изменена журналом',
  'directory.user_deleted': 'Карточка удалена журналом',
  'directory.organization_upserted': 'Организация добавлена или изменена',
  'directory.organization_deleted': 'Организация удалена',
  'directory.import': 'Пакетное обновление справочника',
  'support.login': 'Вход в консоль',
  'support.login_failed': 'Неудачный вход в консоль',
  'support.logout': 'Выход из консоли',
  'support.account_created': 'Учётная запись поддержки создана',
  'support.account_updated': 'Учётная запись поддержки изменена',
  'support.password_changed': 'Пароль изменён',
  'support.token_created': 'API-токен создан',
  'support.token_revoked': 'API-токен отозван',
  'support.events_retried': 'Повторная отправка событий журналу',
  'support.subject_report_viewed': 'Просмотр сведений об обработке персональных данных',
  'subject.erased': 'Данные человека уничтожены по его запросу',
  'data.destroyed': 'Данные уничтожены по истечении срока хранения',
}

/** A parent → child relation as Госуслуги judged it (src/guardians/checks.ts), seen from the parent's card. */
export const CHILD_STATES: Record<string, string> = {
  confirmed: 'подтверждён Госуслугами',
  mismatch: 'данные не совпадают',
  not_in_esia: 'нет среди детей родителя на Госуслугах',
  unchecked: 'не проверено',
}

/** The same, seen from the child's card: is this parent confirmed? */
export const PARENT_STATES: Record<string, string> = {
  confirmed: 'подтверждён Госуслугами',
  mismatch: 'не подтверждён: данные не совпадают',
  not_in_esia: 'не подтверждён: ребёнка нет среди его детей на Госуслугах',
  unchecked: 'не проверено',
}

/** Why an import refused a row (codes of src/directory/import/report.ts), as a school reads it. */
export const REJECTIONS: Record<string, string> = {
  missing_id: 'Не указан идентификатор',
  invalid_id: 'Идентификатор длиннее 128 знаков или содержит служебные символы',
  invalid_characters: 'В одном из полей есть служебные символы',
  missing_organization: 'Не указана организация',
  unknown_role: 'Неизвестная роль: нужна «Родитель», «Обучающийся», «Сотрудник» или «Администратор»',
  missing_last_name: 'Не указана фамилия',
  missing_first_name: 'Не указано имя',
  invalid_birth_date: 'Дата рождения не в формате ДД.ММ.ГГГГ, или такого дня нет',
  invalid_snils: 'В СНИЛС должно быть 11 цифр',
  snils_checksum: 'Контрольная сумма СНИЛС не сходится: проверьте номер',
  wrong_column_count: 'Число столбцов в строке не совпадает с заголовком',
  invalid_field: 'Значение неверного типа',
  duplicate_id: 'Этот идентификатор уже встречался выше в файле',
  unknown_organization: 'Такой организации нет в справочнике',
  organization_out_of_scope: 'Организация вне вашей области доступа',
  organization_mismatch: 'В режиме «Заменить список» все строки должны относиться к выбранной организации',
  link_conflict: 'Карточка связана с Госуслугами, а эта учётная запись уже занимает ту же организацию и роль через другую карточку',
  unknown_child: 'В столбце «Дети» указан идентификатор, которого нет ни в справочнике, ни в файле; строка не применена',
  invalid_child: 'В столбце «Дети»: дети указываются только у родителя, ребёнком может быть только обучающийся (не сама карточка), не больше 100 детей; строка не применена',
}

export const eventLabel = (type: string): string => EVENT_TYPES[type] ?? type
