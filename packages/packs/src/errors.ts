/** A pack that cannot load: which file, where (1-based line when known) and why. */
export class PackLoadError extends Error {
  override readonly name = 'PackLoadError';
  readonly file: string;
  readonly line?: number;
  /** The bare reason, without the file and line prefix of `message`. */
  readonly reason: string;

  constructor(file: string, reason: string, line?: number) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.file = file;
    this.reason = reason;
    if (line !== undefined) this.line = line;
  }
}
