import { Readable } from 'node:stream'
import multipart from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { ImportReport } from '../../directory/import/report.js'
import { ApiError } from '../../http/errors.js'
import { html, type Html } from '../../web/html.js'
import { requireCaller } from '../caller.js'
import { runSupportImport, type SupportImportOptions } from '../imports.js'
import { deletePendingImport, PENDING_IMPORT_MINUTES, readPendingImport, savePendingImport, type PendingImportOptions } from '../pending-imports.js'
import { HIDE, NoticeQuery, render, scopeOrganizations, select, type Option } from './forms.js'
import { csrfField } from './layout.js'
import { REJECTIONS } from './texts.js'

/**
 * «Пакетное обновление» in the console (docs/sources.md: Камчатка slides): upload a CSV, read the dry-run report, press
 * «Применить». Between the two steps the file waits encrypted (src/admin/pending-imports.ts), so
 * the administrator does not upload it twice and a SNILS is never stored in clear.
 */
export const MAX_UPLOAD_BYTES = 64 * 1024 * 1024
const MODES = {
  merge: 'Добавить и обновить карточки из файла (остальные не трогать)',
  replace: 'Заменить список карточек организации (карточки, которых нет в файле, будут удалены)',
}

function uploadForm(csrf: string, organizations: Option[]): Html {
  return html`<form method="post" action="/admin/import" enctype="multipart/form-data" class="card">${csrfField(csrf)}
<label for="file">Файл CSV</label><input type="file" id="file" name="file" accept=".csv,text/csv" required>
<p class="muted small">Первая строка — заголовок <code>Фамилия;Имя;Отчество;Дата рождения;СНИЛС;Роль;Организация;Идентификатор</code>, можно добавить столбец <code>Дети</code>.
Дата — ДД.ММ.ГГГГ; СНИЛС — в любом написании; роль — «Родитель», «Обучающийся», «Сотрудник», «Администратор»; организация — её идентификатор; дети — в строке родителя идентификаторы карточек детей через запятую (пусто — детей нет). Кодировка UTF-8 или Windows-1251.</p>
${select('organization_id', 'Организация', organizations, undefined, 'Указана в файле')}
<fieldset><legend>Что сделать</legend>${Object.entries(MODES).map(([value, label]) => html`<label class="choice"><input type="radio" name="mode" value="${value}"${value === 'merge' ? html` checked` : ''}> ${label}</label>`)}</fieldset>
<label class="choice"><input type="checkbox" name="keep_invalid_snils" value="1"> Сохранять карточки с неверной контрольной суммой СНИЛС (СНИЛС будет отмечен как ошибочный)</label>
<div class="actions"><button type="submit">Проверить файл</button></div>
<p class="muted small">Сначала будет показано, что изменится; применить можно будет одной кнопкой в течение ${PENDING_IMPORT_MINUTES} минут.</p></form>`
}

function reportView(r: ImportReport): Html {
  const will = r.dry_run
  const rows: [string, number][] = [
    ['Строк в файле', r.rows],
    [will ? 'Будет добавлено' : 'Добавлено', r.inserted],
    [will ? 'Будет обновлено' : 'Обновлено', r.updated],
    ['Без изменений', r.unchanged],
    ...(r.mode === 'replace' ? ([[will ? 'Будет удалено' : 'Удалено', r.deleted], [will ? 'Связей с Госуслугами будет удалено' : 'Удалено связей с Госуслугами', r.links_removed]] as [string, number][]) : []),
    ...(r.relations_added || r.relations_removed
      ? ([[will ? 'Связей «родитель — ребёнок» будет добавлено' : 'Добавлено связей «родитель — ребёнок»', r.relations_added], [will ? 'Связей «родитель — ребёнок» будет удалено' : 'Удалено связей «родитель — ребёнок»', r.relations_removed]] as [string, number][])
      : []),
    ['Отклонено строк', r.rejected],
  ]
  return html`<section class="card" aria-labelledby="report-title"><h2 id="report-title">${will ? 'Проверка файла: что изменится' : 'Что изменилось'}</h2>
<table class="counts"><tbody>${rows.map(([label, n]) => html`<tr><th scope="row">${label}</th><td class="num">${n}</td></tr>`)}</tbody></table>
${r.ignored_columns.length ? html`<p class="muted small">Не относятся к справочнику и пропущены столбцы: ${r.ignored_columns.join(', ')}.</p>` : ''}
${r.rejected_rows.length
    ? html`<h3>Отклонённые строки</h3><p class="small">Исправьте их в файле и загрузите его снова; остальные строки это не задерживает.</p>
<div class="table-wrap"><table><thead><tr><th scope="col" class="num">Строка</th><th scope="col">Идентификатор</th><th scope="col">Причина</th></tr></thead><tbody>
${r.rejected_rows.map((x) => html`<tr><td class="num">${x.line}</td><td>${x.id ?? '—'}</td><td>${REJECTIONS[x.reason] ?? x.reason}${x.duplicate_of_line ? html` (строка ${x.duplicate_of_line})` : ''}</td></tr>`)}
</tbody></table></div>${r.rejected_truncated ? html`<p class="muted small">Показаны первые ${r.rejected_rows.length} из ${r.rejected}.</p>` : ''}`
    : ''}
</section>`
}

const UploadBody = Type.Object({
  file: Type.Unknown(),
  organization_id: Type.Optional(Type.String({ maxLength: 128 })),
  mode: Type.Optional(Type.Union([Type.Literal('merge'), Type.Literal('replace')])),
  keep_invalid_snils: Type.Optional(Type.String({ maxLength: 5 })),
  _csrf: Type.Optional(Type.String()),
})

export const importConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Multipart only here: the one form that uploads a file. Fields and the file are parsed before
  // the CSRF check, which reads `_csrf` from the parsed body.
  await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 10, parts: 12 } })
  const secret = app.config.secrets.keysEncryptionKey
  const snilsKey = app.config.secrets.snilsHmacKey

  async function uploadPage(request: FastifyRequest, reply: FastifyReply, error?: string, done?: string) {
    const organizations = await scopeOrganizations(app.db, requireCaller(request))
    return render(request, reply, { title: 'Пакетное обновление', section: 'import', error, done, body: (csrf) => uploadForm(csrf, organizations) }, error ? 400 : 200)
  }

  app.get('/admin/import', { schema: { ...HIDE, querystring: Type.Object(NoticeQuery) } }, async (request, reply) => uploadPage(request, reply, request.query.error, request.query.done))

  app.post('/admin/import', { schema: { ...HIDE, body: UploadBody }, preHandler: app.csrfProtection, bodyLimit: MAX_UPLOAD_BYTES + 64 * 1024 }, async (request, reply) => {
    const caller = requireCaller(request)
    const b = request.body
    const file = b.file
    if (!Buffer.isBuffer(file) || file.length === 0) return uploadPage(request, reply, 'file_required')
    const options: PendingImportOptions = { organizationId: b.organization_id || null, mode: b.mode ?? 'merge', keepInvalidSnils: Boolean(b.keep_invalid_snils) }
    let report: ImportReport
    try {
      report = await runSupportImport(app.db, snilsKey, caller, Readable.from([file]), { ...options, dryRun: true, maxBytes: MAX_UPLOAD_BYTES } satisfies SupportImportOptions)
    } catch (err) {
      if (err instanceof ApiError && err.statusCode !== 403 && err.statusCode < 500) return uploadPage(request, reply, err.code)
      throw err
    }
    const canApply = caller.role !== 'auditor' && report.rows > report.rejected
    const pendingId = canApply ? await savePendingImport(app.db, secret, { accountId: caller.id, options, file, report }) : undefined
    return render(request, reply, {
      title: 'Пакетное обновление',
      section: 'import',
      body: (csrf) => html`${reportView(report)}
${pendingId
    ? html`<form method="post" action="/admin/import/${pendingId}/apply" class="card">${csrfField(csrf)}<p>Файл проверен. Изменения ещё не внесены.</p>
<div class="actions"><button type="submit">Применить изменения</button><a class="btn secondary" href="/admin/import">Загрузить другой файл</a></div></form>`
    : html`<p><a class="btn secondary" href="/admin/import">Загрузить другой файл</a></p>`}`,
    })
  })

  app.post(
    '/admin/import/:id/apply',
    { schema: { ...HIDE, params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) }), body: Type.Object({ _csrf: Type.Optional(Type.String()) }) }, preHandler: app.csrfProtection },
    async (request, reply) => {
      const caller = requireCaller(request)
      const pending = await readPendingImport(app.db, secret, request.params.id, caller.id)
      if (!pending) return reply.redirect('/admin/import?error=import_expired', 303)
      const report = await runSupportImport(app.db, snilsKey, caller, Readable.from([pending.file]), { ...pending.options, dryRun: false, maxBytes: MAX_UPLOAD_BYTES })
      await deletePendingImport(app.db, pending.id)
      return render(request, reply, { title: 'Пакетное обновление', section: 'import', done: 'imported', body: () => html`${reportView(report)}<p><a class="btn secondary" href="/admin/import">Загрузить ещё файл</a></p>` })
    },
  )
}
