/**
 * The one error type every data reader throws for bad input. The message always starts with the
 * offending file (or folder) and then says what was expected, so a user can fix the file without
 * reading our code. Fuzz tests assert that damaged inputs produce this type and nothing else.
 */
export class DataFormatError extends Error {
  /** The file or folder that was wrong. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataFormatError';
    this.file = file;
  }
}

/** Raised when a dataset's files cannot be found anywhere we looked; says what to put where. */
export class DatasetNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetNotFoundError';
  }
}
