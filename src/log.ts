/**
 * Structured logging (JSON lines on stdout via pino). Secrets never reach a
 * log line: the redaction list covers the fields that could carry them.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent): Logger {
  return pino({
    level,
    base: { service: 'rowgate' },
    redact: {
      paths: ['password', '*.password', 'secure_config', '*.secure_config', 'decision_fn', '*.decision_fn'],
      censor: '[redacted]',
    },
  });
}
