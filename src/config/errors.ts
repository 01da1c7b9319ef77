/**
 * The one error type configuration problems raise. The CLI prints
 * `rowgate: <message>` and exits non-zero, so the message must stand alone on
 * a single line and name the variable the operator has to fix.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  /** Primary variable name (e.g. `ROWGATE_ENCRYPTION_KEY`), when one is to blame. */
  readonly variable: string | undefined;

  constructor(message: string, variable?: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
    this.variable = variable;
  }
}

/** Collapses line breaks (e.g. from a wrapped system error) so the CLI prints exactly one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Quotes a user-supplied value for an error message; long values are cut so the line stays readable. */
export function shown(value: string): string {
  const cut = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(cut);
}

/** Message of an unknown thrown value, for wrapping into a ConfigError. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The `code` of a Node.js system error (ENOENT, EADDRINUSE, …), if any. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
