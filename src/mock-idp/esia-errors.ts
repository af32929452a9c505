/**
 * ЕСИА error codes the mock answers with, as the real service does: on the redirect as
 * `error`, `error_description` = "ESIA-0070xx: text", `state`; at the token endpoint as 400 JSON
 * with the same fields (docs/esia.md, «Errors»). Texts seen in the field are kept
 * verbatim (007005, 007014, 007053); the others are abridged from the methodological
 * recommendations as quoted in go-api-epgu.
 */
export const ESIA_ERRORS = {
  'ESIA-007002': { error: 'unauthorized_client', text: 'Несоответствие сертификата и мнемоники информационной системы или сертификат не найден' },
  'ESIA-007003': { error: 'invalid_request', text: 'В запросе отсутствует обязательный параметр, указано неверное значение параметра или параметр повторяется' },
  'ESIA-007004': { error: 'access_denied', text: 'Владелец ресурса или сервис авторизации отклонил запрос' },
  'ESIA-007005': { error: 'unauthorized_client', text: 'The client is not authorized to request an access token using this method.' },
  'ESIA-007006': { error: 'invalid_scope', text: 'Запрошенная область доступа (scope) указана неверно' },
  'ESIA-007007': { error: 'server_error', text: 'Сервис авторизации встретил непредвиденное условие' },
  'ESIA-007008': { error: 'temporarily_unavailable', text: 'Сервис авторизации в данный момент не может обработать запрос из-за большой нагрузки или технических работ' },
  'ESIA-007009': { error: 'unsupported_grant_type', text: 'Сервис авторизации не поддерживает данный метод получения маркера доступа' },
  'ESIA-007011': { error: 'invalid_grant', text: 'Авторизационный код или маркер обновления недействителен, просрочен, отозван или выдан другой системе-клиенту' },
  'ESIA-007012': { error: 'unsupported_response_type', text: 'Сервис авторизации не поддерживает данный тип ответа' },
  'ESIA-007014': { error: 'invalid_request', text: 'The request does not contain the mandatory parameter' },
  'ESIA-007015': { error: 'invalid_request', text: 'Неверное время запроса (timestamp)' },
  'ESIA-007023': { error: 'invalid_request', text: 'Указанный redirect_uri не входит в список разрешённых для системы-клиента' },
  'ESIA-007039': { error: 'invalid_request', text: 'В запросе на получение кода не было параметра code_challenge' },
  'ESIA-007040': { error: 'invalid_grant', text: 'Ошибка сравнения исходного и контрольного значений (code_verifier)' },
  'ESIA-007053': { error: 'access_denied', text: 'OAuthErrorEnum.clientSecretWrong' },
  'ESIA-007055': { error: 'access_denied', text: 'Вход в систему осуществляется с неподтвержденной учетной записью' },
} as const

export type EsiaErrorCode = keyof typeof ESIA_ERRORS

/** A refusal the mock answers with; `detail` is appended like ЕСИА's `[client_certificate_hash]`. */
export class EsiaRefusal extends Error {
  constructor(readonly code: EsiaErrorCode, readonly detail?: string) {
    super(code)
  }

  get error(): string {
    return ESIA_ERRORS[this.code].error
  }

  get description(): string {
    return `${this.code}: ${ESIA_ERRORS[this.code].text}${this.detail ? ` [${this.detail}]` : ''}`
  }

  body(state: string | undefined): { error: string; error_description: string; state?: string } {
    return { error: this.error, error_description: this.description, ...(state ? { state } : {}) }
  }
}
