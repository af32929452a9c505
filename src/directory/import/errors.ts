/**
 * A file the import cannot read as a whole (no header, wrong header, bytes that are not text in its
 * charset, broken NDJSON, too large). Nothing of such a file is applied: the import transaction is
 * rolled back and the caller gets a 4xx with the code. Problems of single rows are not errors; they
 * become rejected rows of the report.
 */
export type ImportFileErrorCode =
  | 'empty_file'
  | 'bad_header'
  | 'unsupported_charset'
  | 'undecodable'
  | 'malformed_csv'
  | 'malformed_ndjson'
  | 'unreadable_row'
  | 'too_large'

export class ImportFileError extends Error {
  override name = 'ImportFileError'
  constructor(
    readonly code: ImportFileErrorCode,
    message: string,
    /** 1-based line of the file where the problem was found, when there is one. */
    readonly line?: number,
  ) {
    super(message)
  }
}

/** The import as asked cannot start (its options, not its file, are wrong); nothing was read. */
export type ImportRefusedCode = 'organization_required' | 'unknown_organization' | 'organization_out_of_scope'

export class ImportRefused extends Error {
  override name = 'ImportRefused'
  constructor(
    readonly code: ImportRefusedCode,
    message: string,
  ) {
    super(message)
  }
}
